"""Errors that speak to a student: what was wrong, which value, what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """A mistake in a flag, a config value or an input file (the command line prints it plainly)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' did you mean 'X'?' for the closest choice, or '' when nothing is close."""
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
    return f"; did you mean '{lower[close[0]]}'?" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str]) -> ConfigError:
    """ConfigError for an unknown name, with a close-match suggestion and the valid choices."""
    choices = sorted(choices)
    hint = did_you_mean(name, choices)
    listing = ", ".join(choices) if len(choices) <= 12 else ", ".join(choices[:12]) + ", ..."
    return ConfigError(f"unknown {kind} '{name}'{hint} (choices: {listing})")


def check(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds."""
    if not condition:
        raise ConfigError(message)


def check_positive(name: str, value: float) -> None:
    check(value > 0, f"{name} must be > 0, got {value}")


def check_unit_interval(name: str, value: float) -> None:
    check(0.0 <= value <= 1.0, f"{name} must be in [0, 1], got {value}")
