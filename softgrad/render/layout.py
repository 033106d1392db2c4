"""A small, neutral document model (styled lines and tables) that both the rich and the plain renderer
draw. Report-specific modules build documents; they never format for a particular output."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Style names a cell may carry; the rich renderer maps them to colours, the plain one ignores them.
STYLES = ("", "ok", "bad", "warn", "ref", "dim", "bold", "head")


@dataclass(frozen=True)
class Cell:
    text: str
    style: str = ""


Line = tuple[Cell, ...]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    title: str = ""
    #: per column: "left" or "right"
    align: list[str] = field(default_factory=list)

    def add(self, *cells: Cell | str) -> None:
        self.rows.append([c if isinstance(c, Cell) else Cell(c) for c in cells])


#: The marks for a check that passed and one that failed.
TICK = Cell("✓", "ok")
CROSS = Cell("✗", "bad")

Block = Line | Table
Document = list[Block]


def line(*parts: Cell | str) -> Line:
    return tuple(p if isinstance(p, Cell) else Cell(p) for p in parts)


def num(x: float | None, digits: int = 6) -> str:
    """A number for people: up to ``digits`` significant digits, ``—`` for missing, ``nan``/``inf`` as is.
    Typed back, it reads as the number it is to the digits shown (see ``core.numbers.written_precision``)."""
    if x is None:
        return "—"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if text.lstrip("-").isdigit() and float(text) != x:
        # rounded to a whole number: keep the zeros, so that the text says how precise it is (typed back into
        # --grad, "-2.00000" is -2 ± 5e-6, "-2" would be exactly -2)
        text = f"{x:#.{digits}g}"
    return text


def vector(xs: Sequence[float] | None, digits: int = 6, limit: int = 12) -> str:
    """``[a, b, c]``, eliding the middle of long vectors with a count (never silently)."""
    if xs is None:
        return "—"
    items = [num(x, digits) for x in xs]
    if len(items) > limit:
        half = limit // 2
        items = [*items[:half], f"… {len(items) - 2 * half} more …", *items[-half:]]
    return "[" + ", ".join(items) + "]"


def matrix_lines(rows: Sequence[Sequence[float]], digits: int = 6) -> list[str]:
    """A matrix as aligned text lines, one per row."""
    cells = [[num(x, digits) for x in r] for r in rows]
    width = max((len(c) for r in cells for c in r), default=1)
    return ["[" + "  ".join(c.rjust(width) for c in r) + "]" for r in cells]


def side_by_side(left: Sequence[str], right: Sequence[str], gap: int = 6) -> list[str]:
    """Two blocks of text lines next to each other, the left one padded to a common width."""
    width = max((len(x) for x in left), default=0)
    n = max(len(left), len(right))
    lft = [*left, *[""] * (n - len(left))]
    rgt = [*right, *[""] * (n - len(right))]
    return [(a.ljust(width + gap) + b).rstrip() for a, b in zip(lft, rgt, strict=True)]


def value_lines(value: float | Sequence[float] | Sequence[Sequence[float]] | None, digits: int = 6) -> list[str]:
    """A scalar, vector or matrix as text lines."""
    if value is None:
        return ["—"]
    if isinstance(value, float):
        return [num(value, digits)]
    if value and isinstance(value[0], Sequence):
        return matrix_lines(value, digits)  # type: ignore[arg-type]
    return [vector(value, digits)]  # type: ignore[arg-type]
