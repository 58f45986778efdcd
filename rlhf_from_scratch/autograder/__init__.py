"""Assignments cut from the reference code, and their autograder (Gradescope's format)."""
