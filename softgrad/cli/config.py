"""Settings in one place: ``[tool.softgrad]`` in the nearest ``pyproject.toml`` or a ``softgrad.toml``
(found walking up from the current directory), ``SOFTGRAD_*`` environment variables, and the command line.

Precedence, per option: the command line, then the environment (``SOFTGRAD_RTOL``, ``SOFTGRAD_FORMAT`` …),
then the file (a command's own section, ``[tool.softgrad.batch]``, over the shared one), then the default.
A setting is any option a command has that is not an input (``rtol``, ``dtype``, ``format``, ``show``,
``trials``, ``reduction`` …), spelled as its long option without the dashes (``batch-size`` or
``batch_size``). Every value is checked as the option checks it, when softgrad starts: a bad value or an
unknown key is a one-line error naming the file (or variable) and the key — never a setting silently
ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from softgrad.errors import InputError

#: Options that describe an input, not a setting: never read from a file or the environment.
NOT_SETTINGS = frozenset(
    {
        "output",
        "case",
        "z_file",
        "t_file",
        "grad_file",
        "jacobian_file",
        "help",
        "version",
        "no_color",
        "summary",
    }
)
ENV_PREFIX = "SOFTGRAD_"
#: environment variables of softgrad's own that are not settings of a command (SOFTGRAD_FAST=0: the numpy
#: CSV path, see softgrad.inputs.fast)
NOT_SETTINGS = frozenset({"SOFTGRAD_FAST"})
FILE_NAMES = ("softgrad.toml", "pyproject.toml")


@dataclass(frozen=True)
class Setting:
    """One effective value and where it came from."""

    command: str
    key: str
    value: Any
    #: "default", "environment SOFTGRAD_RTOL", "pyproject.toml [tool.softgrad.batch]" …
    source: str


def _key(name: str) -> str:
    return name.replace("-", "_").lower()


def settable(command: click.Command) -> dict[str, click.Option]:
    """key → option of every setting a command has (inputs, given per run, are not settings)."""
    found: dict[str, click.Option] = {}
    for p in command.params:
        if not isinstance(p, click.Option) or p.multiple or p.name is None:
            continue
        longs = [o for o in p.opts if o.startswith("--")]
        key = _key(longs[0][2:]) if longs else _key(p.name)
        if p.name in NOT_SETTINGS or key in NOT_SETTINGS:
            continue
        found[key] = p
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
        except ModuleNotFoundError:
            raise InputError(
                _shown(path), "reading settings needs Python 3.11 or later (or the tomli package)"
            ) from None
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(_shown(path), f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise InputError(_shown(path), f"cannot be read: {exc.strerror or exc}") from None
    return data


def find_files(start: Path | None = None) -> list[tuple[Path, str, dict[str, Any]]]:
    """(file, table name, table) of the settings in force: those of the nearest directory (walking up from
    ``start``) with a ``softgrad.toml`` or a ``pyproject.toml`` with ``[tool.softgrad]``. Within one
    directory ``softgrad.toml`` comes first (it wins)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        found: list[tuple[Path, str, dict[str, Any]]] = []
        own = folder / "softgrad.toml"
        if own.is_file():
            found.append((own, "", _read_toml(own)))
        project = folder / "pyproject.toml"
        if project.is_file():
            tool = _read_toml(project).get("tool", {})
            if isinstance(tool, dict) and "softgrad" in tool:
                table = tool["softgrad"]
                if not isinstance(table, dict):
                    raise InputError(f"{_shown(project)} tool.softgrad", "expected a table ([tool.softgrad])")
                found.append((project, "tool.softgrad", table))
        if found:
            return found
    return []


def _label(path: Path, table: str, section: str | None) -> str:
    name = ".".join(p for p in (table, section) if p)
    return f"{_shown(path)} [{name}]" if name else _shown(path)


def _shown(path: Path) -> str:
    """A settings file as messages name it: relative to the current directory (it is that or a parent)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if len(rel) <= len(str(path)) else str(path)


def _expected(option: click.Option) -> str:
    t = option.type
    if isinstance(t, click.Choice):
        return "one of " + ", ".join(map(str, t.choices))
    if option.is_flag:
        return "true or false"
    return {"float": "a number", "integer": "a whole number", "text": "a string"}.get(t.name, t.name)


def _check(command: click.Command, name: str, option: click.Option, value: Any, where: str, key: str) -> Any:
    """The value as the option takes it, or a one-line error naming where it came from."""
    label = f"{where} {key}" if key else where
    if isinstance(value, (dict, list)) or (option.is_flag and not isinstance(value, bool)):
        raise InputError(label, f"expected {_expected(option)}, got {value!r}")
    ctx = click.Context(command, info_name=name)
    try:
        return option.process_value(ctx, value)
    except click.BadParameter as exc:
        raise InputError(label, f"expected {_expected(option)}, got {value!r}") from exc
    except InputError as exc:
        raise InputError(label, exc.message) from None


def _env_value(option: click.Option, text: str) -> Any:
    if option.is_flag:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
    return text


def any_settings(environ: Mapping[str, str] | None = None, start: Path | None = None) -> bool:
    """Is there a settings file in force, or a SOFTGRAD_* setting in the environment?"""
    env = os.environ if environ is None else environ
    if any(var.startswith(ENV_PREFIX) and var not in NOT_SETTINGS for var in env):
        return True
    return bool(find_files(start))


def effective(
    commands: Mapping[str, click.Command], environ: Mapping[str, str] | None = None, start: Path | None = None
) -> tuple[dict[str, dict[str, Any]], list[Setting]]:
    """The ``default_map`` for the group (command → parameter name → value, from the environment and the
    files) and every setting with its effective value and source. Raises InputError for a bad value or an
    unknown key."""
    env = os.environ if environ is None else environ
    options = {name: settable(cmd) for name, cmd in commands.items()}
    every_key = {k for opts in options.values() for k in opts}
    chosen: dict[str, dict[str, tuple[Any, str]]] = {name: {} for name in commands}
    for path, table, data in reversed(find_files(start)):  # the file that wins is applied last
        shared = {k: v for k, v in data.items() if not (isinstance(v, dict) and k in commands)}
        for key, value in shared.items():
            where = _label(path, table, None)
            if _key(key) not in every_key:
                raise InputError(f"{where} {key}", _unknown(key, every_key))
            _shared(commands, options, chosen, _key(key), value, where, key)
        for name in commands:
            section = data.get(name)
            if not isinstance(section, dict):
                continue
            where = _label(path, table, name)
            for key, value in section.items():
                opt = options[name].get(_key(key))
                if opt is None:
                    raise InputError(f"{where} {key}", _unknown(key, set(options[name])))
                chosen[name][opt.name or key] = (_check(commands[name], name, opt, value, where, key), where)
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or var in NOT_SETTINGS:
            continue
        key = _key(var[len(ENV_PREFIX) :])
        if key not in every_key:
            raise InputError(var, _unknown(key, every_key))
        _shared(commands, options, chosen, key, env[var], f"environment {var}", "")
    default_map = {name: {p: v for p, (v, _) in values.items()} for name, values in chosen.items() if values}
    report: list[Setting] = []
    for name in commands:
        for key, opt in options[name].items():
            value, source = chosen[name].get(opt.name or key, (opt.default, "default"))
            if callable(value):
                value = value()
            if not isinstance(value, (bool, int, float, str)):  # click's "no default" marker
                value = False if opt.is_flag else None
            report.append(Setting(name, key, value, source))
    return default_map, report


def _shared(
    commands: Mapping[str, click.Command],
    options: Mapping[str, Mapping[str, click.Option]],
    chosen: dict[str, dict[str, tuple[Any, str]]],
    key: str,
    value: Any,
    where: str,
    shown: str,
) -> None:
    """A setting for every command: applied to each one whose option takes the value (``format = "junit"``
    reaches batch and verify, not check); an error if none does."""
    error: InputError | None = None
    applied = False
    for name, cmd in commands.items():
        opt = options[name].get(key)
        if opt is None:
            continue
        raw = _env_value(opt, value) if isinstance(value, str) and where.startswith("environment") else value
        try:
            checked = _check(cmd, name, opt, raw, where, shown)
        except InputError as exc:
            error = error or exc
            continue
        chosen[name][opt.name or key] = (checked, where)
        applied = True
    if not applied and error is not None:
        raise error


def _unknown(key: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(_key(key), list(known), n=1)
    hint = f" (did you mean '{close[0].replace('_', '-')}'?)" if close else ""
    return f"unknown setting '{key}'{hint}"


CONFIG_HELP = """Print the effective settings of every command (or of COMMAND) and where each came from: the
command line is not involved; the environment (SOFTGRAD_RTOL, SOFTGRAD_FORMAT …), [tool.softgrad] in the
nearest pyproject.toml or a softgrad.toml (walking up from the current directory), or the default.

\b
Example pyproject.toml:
  [tool.softgrad]
  rtol = 1e-6
  dtype = "float64"
  format = "junit"          # where the command has it (batch, verify)
  [tool.softgrad.batch]
  show = 20
  skip-bad = true

\b
Examples:
  softgrad config
  softgrad config batch --format json | jq '.settings[] | select(.source != "default")'
"""


@click.command("config", help=CONFIG_HELP, short_help="Print the effective settings and where each came from.")
@click.argument("command", required=False, metavar="[COMMAND]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: for people; json: one JSON object.",
)
@click.pass_context
def config_cmd(ctx: click.Context, command: str | None, fmt: str) -> int:
    from softgrad.cli.output import emit
    from softgrad.render.layout import Cell, Document, Table, line

    group = ctx.parent.command if ctx.parent is not None else None
    load_all = getattr(group, "all_commands", None)
    commands = dict(load_all() if callable(load_all) else getattr(group, "commands", {}))
    commands.pop("config", None)
    if command is not None and command not in commands:
        raise InputError("COMMAND", f"no command {command!r} (one of {', '.join(sorted(commands))})")
    _, settings = effective(commands)
    files = [_label(path, table, None) for path, table, _ in find_files()]
    shown = [s for s in settings if command in (None, s.command)]

    def document() -> Document:
        doc: Document = [line(Cell("softgrad config", "head"))]
        doc.append(line("files: " + (", ".join(files) if files else "none (no softgrad.toml, no [tool.softgrad])")))
        table = Table(["command", "setting", "value", "source"], align=["left"] * 4)
        for s in shown:
            table.add(
                s.command,
                s.key.replace("_", "-"),
                _text(s.value),
                Cell(s.source, "dim" if s.source == "default" else ""),
            )
        doc.append(table)
        return doc

    data = {
        "files": files,
        "settings": [
            {"command": s.command, "key": s.key.replace("_", "-"), "value": _json(s.value), "source": s.source}
            for s in shown
        ],
    }
    emit(data, document, fmt, None, False, ())
    return 0


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)
