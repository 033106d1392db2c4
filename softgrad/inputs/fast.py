"""The optional fast CSV parser (``pip install 'softgrad[fast]'``: polars), used when it is installed.

It takes only chunks it cannot get wrong: every column numeric, every byte a digit, sign, point, exponent
letter, the delimiter or a line end, and every field present. Anything else, and any error of the parser,
returns None, and the chunk goes to the exact numpy path (``numpy.loadtxt``, then line by line), which
locates bad rows. Within that alphabet polars and ``float()`` accept the same numbers and round them the same
way (correctly), so the arrays are bit-identical to the numpy path's (tested).

``SOFTGRAD_FAST=0`` in the environment turns it off.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

import numpy as np

from softgrad.core import Array

#: The environment variable that turns the fast parser off (``0``).
SWITCH = "SOFTGRAD_FAST"
#: Bytes a chunk the fast parser takes may hold, besides the delimiter and line ends.
_NUMBER_BYTES = b"0123456789+-.eE"

#: Below this size a chunk goes to numpy unless polars is already loaded: importing polars costs more than
#: numpy takes to parse a small input.
MIN_BYTES = 2 << 20

_polars: Any = None
#: set in a process forked after polars was loaded: its thread pool did not survive the fork
_forked = False


def after_fork() -> None:
    """Called in a forked worker: if polars was loaded before the fork, this process must not use it (its
    threads are gone, its locks may be held), so its chunks take the numpy path."""
    global _forked
    _forked = "polars" in sys.modules


def engine() -> str | None:
    """``"polars"`` when the fast parser is installed and not turned off, else None (the numpy path)."""
    if _forked or os.environ.get(SWITCH, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    if _polars is not None:
        return "polars"
    return "polars" if importlib.util.find_spec("polars") is not None else None


def _load() -> Any:
    """polars, imported at the first chunk (not before: a forked worker must not inherit its threads)."""
    global _polars
    if _polars is None:
        import polars

        _polars = polars
    return _polars


def parse_numbers(data: bytes, ncols: int, delimiter: str) -> Array | None:
    """The (lines, ncols) float64 array of a chunk of whole lines of numbers, one row per line, or None if
    the fast parser does not take it (see the module docstring)."""
    if engine() is None or len(delimiter) != 1 or delimiter in "+-.eE0123456789\n":
        return None
    if _polars is None and len(data) < MIN_BYTES:
        return None
    line_ends = data.translate(None, _NUMBER_BYTES + delimiter.encode())  # what is not a number or a delimiter
    if line_ends.strip(b"\n"):
        return None  # something else than plain numbers (quotes, spaces, CR, inf/nan spellings): exact path
    pl = _load()
    names = [f"c{i}" for i in range(ncols)]
    try:
        df = pl.read_csv(
            data,
            has_header=False,
            separator=delimiter,
            new_columns=names,
            schema=dict.fromkeys(names, pl.Float64),
            quote_char=None,
            comment_prefix=None,
        )
        arr = df.to_numpy() if df.width == ncols else None
    except Exception:  # noqa: BLE001 - any failure of the optional parser: the exact path decides
        return None
    if arr is None or arr.dtype != np.float64 or arr.ndim != 2:
        return None
    out: Array = arr  # column-major, as polars hands it over: the checks run fastest on that layout
    if out.shape[0] != len(line_ends) or np.isnan(out).any():
        return None  # a blank line (a row fewer than the lines), or a missing field (no NaN can be spelled)
    return out
