"""Starter code cut from the reference code: the same module, with chosen bodies removed.

An assignment names functions ('gae') or methods ('PPO.loss') of one package module. The
student gets that module's whole source -- imports, helpers, the docstrings with the lecture's
equations -- with each named body replaced by

    # YOUR CODE HERE
    raise NotImplementedError("gae")

so the file the student completes is, line for line, the file the course reads.
"""

from __future__ import annotations

import ast

from rlhf_from_scratch.utils.errors import ConfigError


def _definitions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """'name' for top-level functions and 'Class.name' for methods, to their nodes."""
    found: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = item
    return found


def cut(source: str, names: list[str]) -> str:
    """`source` with the bodies of `names` replaced by a NotImplementedError (docstrings kept)."""
    definitions = _definitions(ast.parse(source))
    missing = [name for name in names if name not in definitions]
    if missing:
        raise ConfigError(
            f"no function {missing[0]!r} to cut; the module has {sorted(definitions)}"
        )
    lines = source.splitlines(keepends=True)
    # From the bottom up, so that the line numbers of the bodies above stay right.
    for name in sorted(names, key=lambda n: -definitions[n].lineno):
        node = definitions[name]
        body = node.body
        has_docstring = (
            isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        )
        if has_docstring:
            start = body[0].end_lineno
        else:  # comments above the first statement belong to the body: they go too
            start = body[0].lineno - 1
            while start > node.lineno and lines[start - 1].strip().startswith("#"):
                start -= 1
        indent = " " * body[0].col_offset
        lines[start : node.end_lineno] = [
            f"{indent}# YOUR CODE HERE\n",
            f'{indent}raise NotImplementedError("{name}")\n',
        ]
    return "".join(lines)
