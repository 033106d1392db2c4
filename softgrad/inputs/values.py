"""Input layer: numbers from command-line values, text files, pasted printouts and JSON case files, each
with the precision it was written with, and errors that name the place (``--z: value 3``, ``z.txt:2:5``,
``case.json: key 't'``)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from softgrad.core.numbers import machine_written_text, written_precision
from softgrad.core.problem import Problem, make_problem
from softgrad.errors import InputError
from softgrad.inputs.files import load_json, read_text

CASE_KEYS = ("z", "t", "label", "grad", "jacobian", "temperature")

#: Tokens of a list of numbers or a pasted printout: brackets and parentheses, or anything between separators.
_TOKEN = re.compile(r"[\[\]()]|[^\s,\[\]()]+")
#: Names of the printouts that wrap numbers: ``array([...])``, ``tensor([...], dtype=torch.float64)``, …
_WRAPPERS = re.compile(r"^(?:(?:np|numpy|torch|jnp|jax\.numpy|tf)\.)?(?:array|tensor|Array|DeviceArray|matrix)$")
#: A keyword argument of a printout: ``dtype=torch.float64``, ``requires_grad=True``, ``grad_fn=<...>``.
_KEYWORD = re.compile(r"^[A-Za-z_]\w*=")


class Written(list[float]):
    """Numbers read from text, in order, with ``precision``: per number, half a unit in the last digit it
    was written with (0 = exact), and ``rows``: the length of each innermost bracketed group of a pasted
    printout (``[[a, b], [c, d]]`` → (2, 2); () when the numbers were not bracketed)."""

    def __init__(
        self, values: Iterable[float] = (), precision: Iterable[float] | None = None, rows: Sequence[int] = ()
    ):
        super().__init__(values)
        self.precision: list[float] = [0.0] * len(self) if precision is None else list(precision)
        self.rows: tuple[int, ...] = tuple(rows)

    @classmethod
    def of_texts(cls, values: Iterable[float], texts: Sequence[str], rows: Sequence[int] = ()) -> Written:
        """Numbers with the precision their texts show — none at all when one of the texts has 15 or more
        significant digits: the list was written by a program, and its short numbers are exact values."""
        exact = machine_written_text(texts)
        return cls(values, [0.0 if exact else written_precision(t) for t in texts], rows)


def parse_number(text: str, where: str, *, finite: bool = True) -> float:
    """One number, or an InputError naming ``where``; the minus sign of typeset text (``−0.5``, as in
    formulas copied from a page) is a minus."""
    try:
        value = float(text.replace("\u2212", "-"))
    except ValueError:
        hint = " (hex floats are not accepted; write it in decimal)" if text.lower().startswith(("0x", "-0x")) else ""
        raise InputError(where, f"{text!r} is not a number{hint}") from None
    if finite and not math.isfinite(value):
        raise InputError(where, f"{text!r} is not a finite number (NaN and inf are not allowed here)")
    return value


def parse_values(values: Iterable[str], option: str, *, finite: bool = True) -> Written:
    """Numbers given to a command-line option: several per value, separated by commas or spaces, or a pasted
    printout (``[0.659, -0.7576]``, ``array([...])``, ``tensor([...], dtype=torch.float64)``)."""
    out = scan_numbers(" ".join(values), lambda n, _: f"{option}: value {n}", finite=finite)
    if not out:
        raise InputError(option, "expected at least one number")
    return out


def numbers_from_text(text: str, name: str, *, finite: bool = True) -> Written:
    """Numbers separated by whitespace or commas, or a pasted printout; errors as ``name:line:column``."""

    def place(_: int, offset: int) -> str:
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        return f"{name}:{line}:{column}"

    out = scan_numbers(text, place, finite=finite)
    if not out:
        raise InputError(name, "no numbers found (the file is empty)")
    return out


def numbers_from_file(path: str, *, finite: bool = True) -> Written:
    name, text = read_text(path)
    return numbers_from_text(text, name, finite=finite)


def scan_numbers(text: str, place: Callable[[int, int], str], *, finite: bool = True) -> Written:
    """The numbers in ``text`` with the precision each was written with: plain lists (``1 2 3``, ``1,2,3``),
    bracketed and nested lists, and printouts of numpy, torch or jax arrays (their names and keyword
    arguments such as ``dtype=…`` are skipped). ``place(n, offset)`` names where the n-th number is, for
    errors."""
    values: list[float] = []
    texts: list[str] = []
    rows: list[int] = []
    opened: list[list[Any]] = []  # [bracket, offset, numbers before it, holds a bracketed group]
    tokens = list(_TOKEN.finditer(text))
    for i, m in enumerate(tokens):
        tok = m.group()
        if tok in ("[", "("):
            if tok == "[" and opened:
                opened[-1][3] = True
            opened.append([tok, m.start(), len(values), False])
            continue
        if tok in (")", "]"):
            want = "[" if tok == "]" else "("
            if not opened or opened[-1][0] != want:
                raise InputError(place(len(values) + 1, m.start()), f"{tok!r} closes nothing")
            _, _, before, nested = opened.pop()
            if tok == "]" and not nested:
                rows.append(len(values) - before)
            continue
        following = tokens[i + 1].group() if i + 1 < len(tokens) else ""
        if (_WRAPPERS.match(tok) and following == "(") or _KEYWORD.match(tok):
            continue
        if tok in ("...", "…"):
            raise InputError(
                place(len(values) + 1, m.start()),
                "the printout is cut short ('...'); print every value "
                "(numpy: np.set_printoptions(threshold=sys.maxsize))",
            )
        values.append(parse_number(tok, place(len(values) + 1, m.start()), finite=finite))
        texts.append(tok.replace("\u2212", "-"))
    if opened:
        bracket, offset, before, _ = opened[-1]
        raise InputError(place(before + 1, offset), f"{bracket!r} is never closed")
    return Written.of_texts(values, texts, rows)


def as_matrix_rows(numbers: Written, where: str) -> Written:
    """A nested printout of a matrix must have rows of one length: ``[[a, b], [c]]`` is an error."""
    if len(numbers.rows) > 1:
        first = numbers.rows[0]
        for i, n in enumerate(numbers.rows[1:], start=2):
            if n != first:
                raise InputError(where, f"row {i} has {n} value{'s' if n != 1 else ''}, row 1 has {first}")
    return numbers


class JsonNumber(float):
    """A number read from JSON that keeps the text it was written with (``json.loads(parse_float=…)``)."""

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        out = super().__new__(cls, text)
        out.text = text
        return out


def _case_numbers(value: Any, where: str, *, finite: bool, nested: bool = False) -> Written:
    """A list of numbers from a case: JSON numbers (with the precision their text shows, when read by
    :func:`read_case`) or numbers as strings; with ``nested``, a list of rows of one length."""
    if nested and isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        parts = [_case_texts(r, f"{where}[{i}]", finite=finite) for i, r in enumerate(value)]
        joined = Written.of_texts(
            [x for r in parts for x in r[0]], [x for r in parts for x in r[1]], [len(r[0]) for r in parts]
        )
        return as_matrix_rows(joined, where)
    values, texts = _case_texts(value, where, finite=finite)
    return Written.of_texts(values, texts)


def _case_texts(value: Any, where: str, *, finite: bool) -> tuple[list[float], list[str]]:
    """A list of case numbers, and the text each was written with (``""`` where there is none: exact)."""
    if not isinstance(value, list):
        raise InputError(where, f"expected a list of numbers, got {_json_type(value)}")
    values: list[float] = []
    texts: list[str] = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            if isinstance(v, str):
                values.append(parse_number(v, f"{where}[{i}]", finite=finite))
                texts.append(v.replace("\u2212", "-"))
                continue
            raise InputError(f"{where}[{i}]", f"expected a number, got {_json_type(v)}")
        fv = float(v)
        if finite and not math.isfinite(fv):
            raise InputError(f"{where}[{i}]", f"{v!r} is not a finite number")
        values.append(fv)
        texts.append(v.text if isinstance(v, JsonNumber) else "")
    return values, texts


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
    obj = load_json(text, name, float_type=JsonNumber)  # numbers keep their text (precision)
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
    matrix: bool = False,
) -> Written | None:
    """The numbers for one input: from ``--x``, ``--x-file`` or the case file, in that order of priority;
    ``matrix``: a nested printout must have rows of one length."""
    if values and file:
        raise InputError(option, f"give either {option} or {file_option}, not both")
    if values:
        out = parse_values(values, option, finite=finite)
        return as_matrix_rows(out, option) if matrix else out
    if file:
        out = numbers_from_file(file, finite=finite)
        return as_matrix_rows(out, f"{file_option} {file}") if matrix else out
    value = case.get(key)
    if value is None:
        return None
    return value if isinstance(value, Written) else Written(value)


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
    js = pick("--jacobian", jacobian, "--jacobian-file", jacobian_file, c, "jacobian", finite=False, matrix=True)
    names = {
        "z": "--z-file " + z_file if z_file else "--z" if z or not case else f"{case}: key 'z'",
        "t": "--t-file " + t_file if t_file else "--t" if t or not case else f"{case}: key 't'",
        "label": "--label",
        "grad": "--grad-file " + grad_file
        if grad_file
        else "--grad"
        if grad or "grad" not in c
        else f"{case}: key 'grad'",
        "jacobian": "--jacobian-file " + jacobian_file
        if jacobian_file
        else "--jacobian"
        if jacobian or "jacobian" not in c
        else f"{case}: key 'jacobian'",
        "temperature": "--temperature",
        "dtype": "--dtype",
    }
    tau = temperature if temperature is not None else c.get("temperature", 1.0)
    problem = make_problem(
        zs,
        ts,
        label=lab,
        grad=gs,
        jacobian=js,
        temperature=tau,
        dtype=dtype,
        names=names,
        grad_precision=None if gs is None else gs.precision,
        jacobian_precision=None if js is None else js.precision,
    )
    sources = [p for p in (z_file, t_file, case, grad_file, jacobian_file) if p]
    return problem, sources


def written(value: Any, where: str, *, finite: bool = True) -> Written | None:
    """Numbers given to the Python API as text — a string (a list or a pasted printout) or a list holding
    strings — with the precision each was written with; None when ``value`` holds no text (Python numbers
    and arrays are exact)."""
    if isinstance(value, str):
        out = scan_numbers(value, lambda n, _: f"{where}: value {n}", finite=finite)
        if not out:
            raise InputError(where, "expected at least one number")
        return out
    if isinstance(value, (list, tuple)) and any(isinstance(v, str) for v in value):
        return _case_numbers(list(value), where, finite=finite, nested=True)
    return None
