"""Worlds of robots and games: Gymnasium env makers, actor-critics, the rollout, training."""
