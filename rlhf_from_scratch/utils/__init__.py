"""Shared utilities: run directory, errors, seeding, plots (used by every world the same way)."""
