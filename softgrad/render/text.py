"""Pick the text renderer: rich (lazily imported) on a terminal, plain stable text otherwise; both write
only what ``encoding`` can hold."""

from __future__ import annotations

from softgrad.render.layout import Document
from softgrad.render.plain import render_plain


def render_text(
    doc: Document, *, terminal: bool, color: bool, encoding: str = "utf-8", width: int | None = None
) -> str:
    if terminal:
        from softgrad.render.rich_out import render_rich

        return render_rich(doc, color=color, width=width, encoding=encoding)
    return render_plain(doc, encoding)
