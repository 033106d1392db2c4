"""Rich output for terminals and notebooks: the only place that knows about colour. Text from the data is
made safe as in :mod:`softgrad.render.plain` (no raw control characters; stand-ins for what the encoding
lacks)."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from softgrad.render.layout import Document, Line, Table
from softgrad.render.plain import for_encoding, safe

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


class _Buffer(io.StringIO):
    """A string buffer that tells rich which encoding the text will be written in (so that it picks
    ASCII box characters where the terminal cannot show others)."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def render_rich(doc: Document, *, color: bool, width: int | None = None, encoding: str = "utf-8") -> str:
    buf = _Buffer(encoding)
    console = Console(
        file=buf,
        force_terminal=color,
        force_jupyter=False,
        no_color=not color,
        color_system="standard" if color else None,
        width=width if width is None or width >= 20 else 20,
        highlight=False,
        soft_wrap=False,
    )
    for block in doc:
        item = _table(block, encoding) if isinstance(block, Table) else _text(block, encoding)
        console.print(item, overflow="fold")
    return for_encoding(buf.getvalue(), encoding)


#: How a notebook shows a block of terminal output (the format rich itself uses in Jupyter).
NOTEBOOK_HTML = (
    '<pre style="white-space:pre;overflow-x:auto;line-height:normal;'
    "font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace\">{code}</pre>\n"
)


def render_html(doc: Document, *, width: int = 100) -> str:
    """The terminal's table as HTML for a notebook: the same text and colours, in a ``<pre>`` block with
    inline styles. ``width``: the widest line, so that nothing folds."""
    console = Console(
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        force_jupyter=False,  # in a notebook rich would display each block itself
        color_system="truecolor",
        width=width,
        highlight=False,
        soft_wrap=False,
    )
    for block in doc:
        console.print(_table(block, "utf-8") if isinstance(block, Table) else _text(block, "utf-8"), overflow="fold")
    return console.export_html(inline_styles=True, code_format=NOTEBOOK_HTML)


def _text(parts: Line, encoding: str) -> Text:
    text = Text()
    for c in parts:
        text.append(safe(c.text, encoding), style=COLOURS.get(c.style, ""))
    return text


def _table(t: Table, encoding: str) -> RichTable:
    table = RichTable(
        title=safe(t.title, encoding) or None,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
        safe_box=True,
    )
    align = t.align or ["left"] * len(t.columns)
    for name, a in zip(t.columns, align, strict=False):
        table.add_column(safe(name, encoding), justify="right" if a == "right" else "left", overflow="fold")
    for row in t.rows:
        table.add_row(*(Text(safe(c.text, encoding), style=COLOURS.get(c.style, "")) for c in row))
    return table
