"""Math of the lectures: plain functions, each citing its equation."""
