"""Rich output for terminals: the only place that knows about colour."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from softgrad.render.layout import Document, Line, Table

COLOURS = {
    "": "",
    "ok": "green",
    "bad": "bold red",
    "warn": "yellow",
    "ref": "cyan",
    "dim": "dim",
    "bold": "bold",
    "head": "bold",
}


def render_rich(doc: Document, *, color: bool, width: int | None = None) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        soft_wrap=False,
    )
    for block in doc:
        console.print(_table(block) if isinstance(block, Table) else _text(block), overflow="fold")
    return buf.getvalue()


def _text(parts: Line) -> Text:
    text = Text()
    for c in parts:
        text.append(c.text, style=COLOURS.get(c.style, ""))
    return text


def _table(t: Table) -> RichTable:
    table = RichTable(title=t.title or None, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    align = t.align or ["left"] * len(t.columns)
    for name, a in zip(t.columns, align, strict=False):
        table.add_column(name, justify="right" if a == "right" else "left", overflow="fold")
    for row in t.rows:
        table.add_row(*(Text(c.text, style=COLOURS.get(c.style, "")) for c in row))
    return table
