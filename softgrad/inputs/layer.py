"""Layer inputs: arrays written on the command line (``[[0.2, 0.4], [0.1, -0.3]]``, numpy's printed form
``[[ 0.2  0.4] [ 0.1 -0.3]]``, rows separated by ``;``, plain numbers for a vector), JSON layer case files and
``.npz`` archives — with errors that name the place (``--W: value 3``, ``layer.json: key 'W'[1]``)."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from softgrad.errors import InputError
from softgrad.inputs.files import read_text
from softgrad.inputs.values import parse_number

#: The inputs of a layer (arrays), in the order of the forward pass.
INPUT_KEYS = ("a", "W", "b", "t", "label", "a_in", "W_h", "b_h")
#: The user's gradients.
USER_KEYS = ("delta", "dW", "db", "da", "delta_h", "dW_h", "db_h")
#: Settings a case file may hold (options on the command line take precedence).
SETTING_KEYS = ("activation", "convention", "reduction", "reg", "reg_convention")
CASE_KEYS = INPUT_KEYS + USER_KEYS + SETTING_KEYS

_TOKEN = re.compile(r"[\[\]();,]|[^\s\[\]();,]+")
_ARRAY_CALL = re.compile(r"^\s*(?:(?:np|numpy)\.)?(?:array|asarray)\((.*?)(?:,\s*dtype\s*=\s*[\w.]+)?\)\s*$", re.S)


def parse_array_text(text: str, where: str, *, finite: bool = True) -> Any:
    """A number, a vector or a nested array from text: ``[[0.2, 0.4], [0.1, -0.3]]`` (commas optional, as
    numpy prints arrays; ``np.array(...)`` around it is ignored), rows separated by ``;`` (``0.2 0.4; 0.1
    -0.3``), or plain numbers separated by spaces or commas (a vector). Nested lists are returned."""
    m = _ARRAY_CALL.match(text)
    if m:
        text = m.group(1)
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise InputError(where, "expected at least one number")
    count = [0]

    def number(tok: str) -> float:
        count[0] += 1
        try:
            return parse_number(tok, where, finite=finite)
        except InputError as exc:  # the place stays the quantity (the CLI names its option)
            raise InputError(where, f"value {count[0]}: {exc.message}") from None

    if any(t in "[(" for t in tokens):
        pos, value = _nested(tokens, 0, where, number)
        if pos != len(tokens):
            raise InputError(where, f"unexpected {tokens[pos]!r} after the closing bracket")
        _rectangular(value, where)
        return value
    if ";" in tokens:
        rows: list[list[float]] = [[]]
        for tok in tokens:
            if tok == ";":
                rows.append([])
            elif tok not in ",)]":
                rows[-1].append(number(tok))
        rows = [r for r in rows if r] or rows
        _rectangular(rows, where)
        return rows
    values = [number(t) for t in tokens if t != ","]
    if any(t in ")]" for t in tokens):
        raise InputError(where, "a closing bracket without an opening one")
    return values


def _nested(tokens: Sequence[str], pos: int, where: str, number: Any) -> tuple[int, Any]:
    tok = tokens[pos]
    if tok not in "[(":
        return pos + 1, number(tok)
    close = "]" if tok == "[" else ")"
    items: list[Any] = []
    pos += 1
    while True:
        if pos >= len(tokens):
            raise InputError(where, f"missing {close!r}")
        tok = tokens[pos]
        if tok == close:
            return pos + 1, items
        if tok == ",":
            pos += 1
            continue
        if tok in "])":
            raise InputError(where, f"unexpected {tok!r} (expected {close!r})")
        if tok == ";":
            raise InputError(where, "';' separates rows only outside brackets")
        pos, item = _nested(tokens, pos, where, number)
        items.append(item)


def _rectangular(value: Any, where: str, path: str = "") -> tuple[int, ...]:
    """The shape of nested lists, or an InputError where the rows have different lengths."""
    if not isinstance(value, list):
        return ()
    if not value:
        raise InputError(where, f"empty list{' at ' + path if path else ''}")
    shapes = [_rectangular(v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    for i, s in enumerate(shapes[1:], start=1):
        if s != shapes[0]:
            raise InputError(
                where,
                f"rows of different lengths: {path}[0] has {_describe(shapes[0])}, {path}[{i}] has {_describe(s)}",
            )
    return (len(value), *shapes[0])


def _describe(shape: tuple[int, ...]) -> str:
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"{shape[0]} value{'s' if shape[0] != 1 else ''}"
    return f"shape {'×'.join(map(str, shape))}"


def parse_labels(values: Iterable[str], where: str) -> list[int]:
    """Class indices: whole numbers separated by spaces or commas (or a bracketed list)."""
    out: list[int] = []
    flat = parse_array_text(" ".join(values), where)
    for i, v in enumerate(np.ravel(np.array(flat, dtype=np.float64)).tolist(), start=1):
        if not float(v).is_integer():
            raise InputError(where, f"value {i}: {v!r} is not a class index (a whole number)")
        out.append(int(v))
    return out


def _json_type(v: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(v), type(v).__name__)


def _case_array(value: Any, where: str, *, finite: bool) -> Any:
    """Nested JSON lists of numbers (numbers may be written as strings) into nested Python floats."""
    if isinstance(value, list):
        out = [_case_array(v, f"{where}[{i}]", finite=finite) for i, v in enumerate(value)]
        return out
    if isinstance(value, str):
        return parse_number(value, where, finite=finite)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(where, f"expected a number or a list of numbers, got {_json_type(value)}")
    fv = float(value)
    if finite and not np.isfinite(fv):
        raise InputError(where, f"{value!r} is not a finite number")
    return fv


def parse_layer_case(obj: Any, name: str) -> dict[str, Any]:
    """Validate a JSON layer case object into plain values (nested lists, strings, numbers)."""
    if not isinstance(obj, dict):
        raise InputError(
            name, f'expected a JSON object like {{"a": [...], "W": [[...]], "t": [...]}}, got {_json_type(obj)}'
        )
    if "z" in obj and "W" not in obj:
        raise InputError(name, "has logits z and no weights W: a dE/dz case, for softgrad check --case")
    unknown = [k for k in obj if k not in CASE_KEYS]
    if unknown:
        raise InputError(name, f"unknown key {unknown[0]!r} (known keys: {', '.join(CASE_KEYS)})")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        where = f"{name}: key '{key}'"
        if key in ("activation", "convention", "reduction", "reg_convention"):
            if not isinstance(value, str):
                raise InputError(where, f"expected a string, got {_json_type(value)}")
            out[key] = value
        elif key == "reg":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(where, f"expected a number, got {_json_type(value)}")
            out[key] = float(value)
        elif key == "label":
            labels = value if isinstance(value, list) else [value]
            for i, lab in enumerate(labels):
                if isinstance(lab, bool) or not isinstance(lab, int):
                    raise InputError(f"{where}[{i}]" if isinstance(value, list) else where,
                                     f"expected an integer class index, got {_json_type(lab)}")  # fmt: skip
            out[key] = value
        else:
            arr = _case_array(value, where, finite=key not in USER_KEYS)
            _rectangular(arr, where)
            out[key] = arr
    return out


def read_layer_case(path: str) -> dict[str, Any]:
    """A layer case: a JSON object (``.json``, or any text) or a ``.npz`` archive with the same keys."""
    if path.lower().endswith(".npz"):
        return read_layer_npz(path)
    name, text = read_text(path)
    if not text.strip():
        raise InputError(name, "is empty; expected a JSON object")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}") from None
    return parse_layer_case(obj, name)


def read_layer_npz(path: str) -> dict[str, Any]:
    """``.npz`` arrays named like the JSON keys (``a`` (N, H), ``W`` (H, K), ``label`` (N,), …); strings
    (``activation``) and numbers (``reg``) as 0-d arrays."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"not a readable .npz file ({exc})") from None
    out: dict[str, Any] = {}
    with data:
        unknown = [k for k in data.files if k not in CASE_KEYS]
        if unknown:
            raise InputError(path, f"unknown array {unknown[0]!r} (known: {', '.join(CASE_KEYS)})")
        for key in data.files:
            where = f"{path}: array '{key}'"
            try:
                arr = data[key]
            except ValueError as exc:  # object arrays need pickle, which is refused
                raise InputError(where, f"cannot be read without pickle ({exc})") from None
            if key in ("activation", "convention", "reduction", "reg_convention"):
                if arr.dtype.kind not in "US" or arr.ndim != 0:
                    raise InputError(where, f"expected a string, got an array of {arr.dtype} with shape {arr.shape}")
                out[key] = str(arr)
            elif key == "label":
                if arr.dtype.kind not in "iu":
                    raise InputError(where, f"expected integer class indices, got {arr.dtype}")
                out[key] = arr.tolist()
            elif arr.dtype.kind not in "biuf":
                raise InputError(where, f"expected numbers, got {arr.dtype}")
            elif key == "reg":
                if arr.size != 1:
                    raise InputError(where, f"expected one number, got shape {arr.shape}")
                out[key] = float(arr.reshape(()))
            else:
                values = arr.astype(np.float64)
                if key not in USER_KEYS and not np.all(np.isfinite(values)):
                    raise InputError(where, "numbers must be finite (no NaN or inf)")
                out[key] = values
    return out


def is_layer_case(path: str) -> bool:
    """Is ``path`` a layer case (an ``.npz``, or a JSON object with the key ``W``)? False when unreadable:
    the reader of check cases then says what is wrong with it."""
    if path.lower().endswith(".npz"):
        return True
    if path == "-":
        return False
    try:
        _, text = read_text(path)
        obj = json.loads(text)
    except (InputError, json.JSONDecodeError):
        return False
    return isinstance(obj, dict) and "W" in obj


def layer_from_options(
    *,
    case: str | None,
    texts: Mapping[str, Sequence[str]],
    label: Sequence[str],
    settings: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Gather a layer from command-line texts (by key: ``a``, ``W``, …, ``dW``…), class indices, settings
    (``activation``, ``convention``, ``reduction``, ``reg``, ``reg_convention``; None where not given) and
    a case file. Returns the keyword arguments of :func:`softgrad.check_layer`, the name of each input for
    error messages (the quantity for an option, ``FILE: key 'W'`` for a case file) and the paths read."""
    c = read_layer_case(case) if case else {}
    kwargs: dict[str, Any] = {}
    names: dict[str, str] = {}
    for key in (*INPUT_KEYS, *USER_KEYS):
        if key == "label":
            continue
        given = texts.get(key) or ()
        if given:
            kwargs[key] = parse_array_text(" ".join(given), key, finite=key not in USER_KEYS)
            names[key] = key
        elif key in c:
            kwargs[key] = c[key]
            names[key] = f"{case}: {'array' if str(case).lower().endswith('.npz') else 'key'} '{key}'"
    if label:
        if texts.get("t"):
            raise InputError("label", "give either the targets t or class indices label, not both")
        kwargs["label"] = parse_labels(label, "label")
        kwargs.pop("t", None)
        names["label"] = "label"
    elif "label" in c and "t" not in kwargs:
        kwargs["label"] = c["label"]
        names["label"] = f"{case}: key 'label'"
    for key in SETTING_KEYS:
        value = settings.get(key)
        if value is not None:
            kwargs[key] = value
            names[key] = key
        elif key in c:
            kwargs[key] = c[key]
            names[key] = f"{case}: key '{key}'"
    return kwargs, names, [case] if case else []
