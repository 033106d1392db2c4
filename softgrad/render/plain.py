"""Plain text: stable, colourless output for pipes, files and logs."""

from __future__ import annotations

from softgrad.render.layout import Document, Line, Table


def render_plain(doc: Document) -> str:
    out: list[str] = []
    for block in doc:
        if isinstance(block, Table):
            out.extend(_table(block))
        else:
            out.append(_line(block))
    return "\n".join(out).rstrip() + "\n"


def _line(parts: Line) -> str:
    return "".join(c.text for c in parts).rstrip()


def _table(t: Table) -> list[str]:
    cells = [t.columns, *([c.text for c in row] for row in t.rows)]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(t.columns))]
    align = t.align or ["left"] * len(t.columns)

    def fmt(row: list[str]) -> str:
        parts = [
            (v.rjust(w) if align[i] == "right" else v.ljust(w))
            for i, (v, w) in enumerate(zip(row, widths, strict=False))
        ]
        return "  ".join(parts).rstrip()

    lines = [t.title] if t.title else []
    lines.append(fmt(t.columns))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt(r) for r in cells[1:])
    lines.append("")
    return lines
