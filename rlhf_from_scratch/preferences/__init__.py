"""Learning from preferences: teachers, store, reward models."""
