"""Input layer: numbers from command-line values, text files and JSON case files, with errors that name
the place (``--z: value 3``, ``z.txt:2:5``, ``case.json: key 't'``)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from softgrad.core.problem import Problem, make_problem
from softgrad.errors import InputError
from softgrad.inputs.files import load_json, read_text

_TOKEN = re.compile(r"[^\s,]+")
CASE_KEYS = ("z", "t", "label", "grad", "jacobian", "temperature")


def parse_number(text: str, where: str, *, finite: bool = True) -> float:
    """One number, or an InputError naming ``where``."""
    try:
        value = float(text)
    except ValueError:
        hint = " (hex floats are not accepted; write it in decimal)" if text.lower().startswith(("0x", "-0x")) else ""
        raise InputError(where, f"{text!r} is not a number{hint}") from None
    if finite and not math.isfinite(value):
        raise InputError(where, f"{text!r} is not a finite number (NaN and inf are not allowed here)")
    return value


def parse_values(values: Iterable[str], option: str, *, finite: bool = True) -> list[float]:
    """Numbers given to a command-line option; each value may hold several, separated by commas/spaces."""
    out: list[float] = []
    for raw in values:
        for tok in _TOKEN.findall(raw):
            out.append(parse_number(tok, f"{option}: value {len(out) + 1}", finite=finite))
    if not out:
        raise InputError(option, "expected at least one number")
    return out


def numbers_from_text(text: str, name: str, *, finite: bool = True) -> list[float]:
    """Numbers separated by whitespace or commas; errors as ``name:line:column``."""
    out: list[float] = []
    for lineno, row in enumerate(text.splitlines(), start=1):
        for m in _TOKEN.finditer(row):
            out.append(parse_number(m.group(), f"{name}:{lineno}:{m.start() + 1}", finite=finite))
    if not out:
        raise InputError(name, "no numbers found (the file is empty)")
    return out


def numbers_from_file(path: str, *, finite: bool = True) -> list[float]:
    name, text = read_text(path)
    return numbers_from_text(text, name, finite=finite)


def _case_numbers(value: Any, where: str, *, finite: bool, nested: bool = False) -> list[float]:
    if nested and isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        return [x for r in value for x in _case_numbers(r, where, finite=finite)]
    if not isinstance(value, list):
        raise InputError(where, f"expected a list of numbers, got {_json_type(value)}")
    out: list[float] = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            if isinstance(v, str):
                out.append(parse_number(v, f"{where}[{i}]", finite=finite))
                continue
            raise InputError(f"{where}[{i}]", f"expected a number, got {_json_type(v)}")
        fv = float(v)
        if finite and not math.isfinite(fv):
            raise InputError(f"{where}[{i}]", f"{v!r} is not a finite number")
        out.append(fv)
    return out


def _json_type(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), type(v).__name__
    )


def parse_case(obj: Any, where: str) -> dict[str, Any]:
    """Validate a JSON case object into plain values for :func:`softgrad.core.problem.make_problem`."""
    if not isinstance(obj, dict):
        raise InputError(where, f'expected a JSON object like {{"z": [...], "t": [...]}}, got {_json_type(obj)}')
    unknown = [k for k in obj if k not in CASE_KEYS]
    if unknown:
        raise InputError(where, f"unknown key {unknown[0]!r} (known keys: {', '.join(CASE_KEYS)})")
    if "z" not in obj:
        raise InputError(where, "missing key 'z' (the logits)")
    out: dict[str, Any] = {"z": _case_numbers(obj["z"], f"{where}: key 'z'", finite=True)}
    if "t" in obj:
        out["t"] = _case_numbers(obj["t"], f"{where}: key 't'", finite=True)
    if "label" in obj:
        lab = obj["label"]
        if isinstance(lab, bool) or not isinstance(lab, int):
            raise InputError(f"{where}: key 'label'", f"expected an integer class index, got {_json_type(lab)}")
        out["label"] = lab
    if "grad" in obj:
        out["grad"] = _case_numbers(obj["grad"], f"{where}: key 'grad'", finite=False)
    if "jacobian" in obj:
        out["jacobian"] = _case_numbers(obj["jacobian"], f"{where}: key 'jacobian'", finite=False, nested=True)
    if "temperature" in obj:
        tau = obj["temperature"]
        if isinstance(tau, bool) or not isinstance(tau, (int, float)):
            raise InputError(f"{where}: key 'temperature'", f"expected a number, got {_json_type(tau)}")
        out["temperature"] = float(tau)
    return out


def read_case(path: str) -> dict[str, Any]:
    """A ``--case`` JSON file: ``{"z": [...], "t": [...]}`` plus optional label, grad, jacobian, temperature."""
    name, text = read_text(path)
    if not text.strip():
        raise InputError(name, "is empty; expected a JSON object")
    obj = load_json(text, name)
    return parse_case(obj, name)


def pick(
    option: str,
    values: Sequence[str],
    file_option: str,
    file: str | None,
    case: dict[str, Any],
    key: str,
    *,
    finite: bool = True,
) -> list[float] | None:
    """The numbers for one input: from ``--x``, ``--x-file`` or the case file, in that order of priority."""
    if values and file:
        raise InputError(option, f"give either {option} or {file_option}, not both")
    if values:
        return parse_values(values, option, finite=finite)
    if file:
        return numbers_from_file(file, finite=finite)
    value = case.get(key)
    return None if value is None else list(value)


def problem_from_options(
    *,
    z: Sequence[str],
    t: Sequence[str],
    label: int | None,
    z_file: str | None,
    t_file: str | None,
    case: str | None,
    grad: Sequence[str],
    grad_file: str | None,
    jacobian: Sequence[str],
    jacobian_file: str | None,
    temperature: float | None,
    dtype: str,
    **_: Any,
) -> tuple[Problem, list[str]]:
    """Gather one example from command-line options, files and a case file; returns it and the paths read."""
    stdin_users = [
        o
        for o, v in (
            ("--z-file", z_file),
            ("--t-file", t_file),
            ("--case", case),
            ("--grad-file", grad_file),
            ("--jacobian-file", jacobian_file),
        )
        if v == "-"
    ]
    if len(stdin_users) > 1:
        raise InputError(stdin_users[1], f"only one input can read stdin ('-'); {stdin_users[0]} already does")
    c = read_case(case) if case else {}
    if label is not None and (t or t_file):
        raise InputError("--label", "give either --t (targets) or --label (a class index), not both")
    zs = pick("--z", z, "--z-file", z_file, c, "z")
    if zs is None:
        raise InputError("--z", "missing: give the logits with --z Z1 Z2 ..., --z-file PATH or --case PATH")
    ts = pick("--t", t, "--t-file", t_file, c, "t") if label is None else None
    lab = label if label is not None else (c.get("label") if ts is None else None)
    if ts is None and lab is None:
        raise InputError("--t", "missing: give the targets with --t T1 T2 ..., --t-file PATH or --label I")
    gs = pick("--grad", grad, "--grad-file", grad_file, c, "grad", finite=False)
    js = pick("--jacobian", jacobian, "--jacobian-file", jacobian_file, c, "jacobian", finite=False)
    names = {
        "z": "--z-file " + z_file if z_file else "--z" if z or not case else f"{case}: key 'z'",
        "t": "--t-file " + t_file if t_file else "--t" if t or not case else f"{case}: key 't'",
        "label": "--label",
        "grad": "--grad-file " + grad_file if grad_file else "--grad",
        "jacobian": "--jacobian-file " + jacobian_file if jacobian_file else "--jacobian",
        "temperature": "--temperature",
        "dtype": "--dtype",
    }
    tau = temperature if temperature is not None else c.get("temperature", 1.0)
    problem = make_problem(zs, ts, label=lab, grad=gs, jacobian=js, temperature=tau, dtype=dtype, names=names)
    sources = [p for p in (z_file, t_file, case, grad_file, jacobian_file) if p]
    return problem, sources
