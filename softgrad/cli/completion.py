"""Shell completion of ``FILE.py:function`` targets, and where a target's function is defined — both read
from the file's syntax tree, never by importing it (importing runs the user's code)."""

from __future__ import annotations

import ast
import os

import click
from click.shell_completion import CompletionItem

#: Files larger than this are not parsed for completion (a keystroke must stay instant).
MAX_BYTES = 2_000_000


def _tree(path: str) -> ast.Module | None:
    try:
        if os.path.getsize(path) > MAX_BYTES:
            return None
        with open(path, "rb") as fh:
            return ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None


def public_functions(path: str) -> dict[str, int]:
    """Name → line of each public top-level function of a Python file (and of each public method, as
    ``Class.method``), in file order; empty if the file cannot be read or parsed."""
    tree = _tree(path)
    found: dict[str, int] = {}
    if tree is None:
        return found
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            found[node.name] = node.lineno
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    found[f"{node.name}.{item.name}"] = item.lineno
    return found


def function_location(target: str) -> tuple[str, int] | None:
    """(file, line) of a ``PATH.py:FUNC`` target's definition (the only public function without ``:FUNC``);
    None for a module target, or when it cannot be found without importing."""
    path, _, func = target.partition(":") if ".py:" in target or target.endswith(".py") else ("", "", "")
    if not path.endswith(".py"):
        return None
    functions = public_functions(path)
    if not func:
        return (path, next(iter(functions.values()))) if len(functions) == 1 else None
    line = functions.get(func)
    return (path, line) if line is not None else None


def complete_target(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``verify`` TARGET completion: folders and ``.py`` files, then ``FILE.py:function`` for the public
    functions of the file typed before the colon."""
    if ".py:" in incomplete:
        path, _, prefix = incomplete.partition(".py:")
        return [
            CompletionItem(f"{path}.py:{name}") for name in public_functions(path + ".py") if name.startswith(prefix)
        ]
    folder, _, stem = incomplete.rpartition("/")
    where = folder or "."
    items: list[CompletionItem] = []
    try:
        entries = sorted(os.scandir(where), key=lambda e: e.name)
    except OSError:
        return items
    for entry in entries:
        if not entry.name.startswith(stem) or (entry.name.startswith(".") and not stem.startswith(".")):
            continue
        shown = f"{folder}/{entry.name}" if folder else entry.name
        if entry.is_dir():
            items.append(CompletionItem(shown + "/", type="plain"))
        elif entry.name.endswith(".py"):
            items.append(CompletionItem(shown + ":", type="plain"))
    return items
