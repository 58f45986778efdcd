"""Help texts for command-line flags, taken from the dataclasses the flags set: what the comment
on a field says of it, and the field's default."""

from __future__ import annotations

import argparse
import inspect
import re
from dataclasses import MISSING, fields


def field_notes(cls) -> dict[str, str]:
    """What the comments in a dataclass's source say of each field: the comment on the field's
    line with the comment lines that follow it, or else the comment lines just above it. So a
    comment above a field that follows a field with a comment of its own needs a blank line
    before it, or it is read as the end of that comment (tests/utils/test_config_help.py
    finds a field left with no text that way)."""
    names = {f.name for f in fields(cls)}
    notes: dict[str, str] = {}
    above: list[str] = []
    continued = None  # the field whose own comment the next comment lines continue
    try:
        source = inspect.getsource(cls)
    except OSError:  # installed without its source: flags keep just their defaults
        return notes
    for line in source.splitlines()[1:]:
        text = line.strip()
        if text.startswith("#"):
            comment = text.lstrip("#").strip()
            if continued:
                notes[continued] += " " + comment
            else:
                above.append(comment)
            continue
        match = re.match(r"(\w+): [^#]*(?:#(.*))?$", text)
        if match is None or match[1] not in names:
            above, continued = [], None
            continue
        parts = above + ([match[2].strip()] if match[2] else [])
        if parts:
            notes[match[1]] = " ".join(parts)
        above, continued = [], match[1] if match[2] else None
    return notes


def describe_flags(
    parser: argparse.ArgumentParser, cls, aliases: dict[str, str] | None = None
) -> None:
    """Fill in the help of `parser`'s flags that set a field of `cls` by the same name (or by
    the name `aliases` gives a flag's dest: {"steps": "updates"}): the field's comment where the
    flag has no help of its own, then the default, unless the help names one already or the
    default is left to run time (None or "")."""
    notes = field_notes(cls)
    defaults = {f.name: f.default for f in fields(cls)}
    aliases = aliases or {}
    for action in parser._actions:  # argparse has no public list of a parser's flags
        name = aliases.get(action.dest, action.dest)
        if name not in defaults or not action.option_strings:
            continue
        text = action.help or notes.get(name, "").replace("%", "%%")
        if name != action.dest:
            text = f"{text} (sets {name})" if text else f"sets {name}"
        default = action.default if action.default is not None else defaults[name]
        on_off = action.nargs == 0  # --flag / no flag: the help says what turning it on does
        if not on_off and default not in (None, "", MISSING) and "default" not in text:
            text = f"{text}; default: {default}" if text else f"default: {default}"
        action.help = text or None
