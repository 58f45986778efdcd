"""The four policy-gradient algorithms, written once over a batch: REINFORCE, A2C, TRPO, PPO."""
