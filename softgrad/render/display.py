"""Reports in a notebook and in ``print``: every report shows as the table the terminal shows.

The reports are plain data in ``softgrad.commands``, a layer below the renderers, which may not import them.
So the renderers give the reports their display here, through Python's and IPython's display protocol:
:func:`register` attaches to a report class

- ``__str__``: the plain-text report (what ``softgrad … | cat`` prints), so ``print(report)`` and
  ``str(report)`` read as the command's output rather than a dataclass repr;
- ``_repr_pretty_``: the same text, for IPython's ``text/plain``;
- ``_repr_html_``: the terminal's rich table, colours included, as HTML for Jupyter.

:func:`install` registers the public reports; the package root (``softgrad/__init__.py``) calls it, so
any import of softgrad gives them their display. ``repr(report)`` stays the dataclass repr, and
``report.to_dict()`` the JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from softgrad.render.layout import Document
from softgrad.render.plain import render_plain

#: report class -> the function that builds its document
BUILDERS: dict[type, Callable[[Any], Document]] = {}


def document_of(report: object) -> Document:
    """The document of a registered report."""
    for cls in type(report).__mro__:
        if cls in BUILDERS:
            return BUILDERS[cls](report)
    raise TypeError(f"no document builder registered for {type(report).__name__}")


def plain_text(report: object) -> str:
    """The report as plain text, exactly as the command prints it when piped."""
    return render_plain(document_of(report))


def html(report: object) -> str:
    """The report as the terminal's table, in HTML."""
    from softgrad.render.rich_out import render_html

    text = plain_text(report)
    width = max((len(line) for line in text.splitlines()), default=80)
    return render_html(document_of(report), width=max(80, width + 4))


def _str(self: object) -> str:
    return plain_text(self).rstrip("\n")


def _repr_pretty_(self: object, printer: Any, cycle: bool) -> None:
    printer.text("…" if cycle else _str(self))


def _repr_html_(self: object) -> str:
    return html(self)


def register(cls: type, builder: Callable[[Any], Document]) -> None:
    """Give ``cls`` its display: ``str()``/``print()`` and ``text/plain`` as plain text, ``text/html`` as the
    terminal's table."""
    BUILDERS[cls] = builder
    setattr(cls, "__str__", _str)  # noqa: B010 - a method attached from the renderer layer, by design
    setattr(cls, "_repr_pretty_", _repr_pretty_)  # noqa: B010
    setattr(cls, "_repr_html_", _repr_html_)  # noqa: B010


def _check(r: Any) -> Document:
    from softgrad.render.check_doc import check_document

    return check_document(r)


def _explain(r: Any) -> Document:
    from softgrad.render.explain_doc import explain_document

    return explain_document(r)


def _batch(r: Any) -> Document:
    from softgrad.render.batch_doc import batch_document

    return batch_document(r)


def _verify(r: Any) -> Document:
    from softgrad.render.verify_doc import verify_document

    return verify_document(r)


def _verify_weights(r: Any) -> Document:
    from softgrad.render.verify_weights_doc import verify_weights_document

    return verify_weights_document(r)


def _layer(r: Any) -> Document:
    from softgrad.render.layer_doc import layer_document

    return layer_document(r)


def _layer_explain(r: Any) -> Document:
    from softgrad.render.layer_doc import layer_explain_document

    return layer_explain_document(r)


def install() -> None:
    """Register the reports of check, explain, batch, verify and layer."""
    from softgrad.commands.batch.report import BatchReport
    from softgrad.commands.check.explain import ExplainReport
    from softgrad.commands.check.report import CheckReport
    from softgrad.commands.layer.explain import LayerExplainReport
    from softgrad.commands.layer.report import LayerReport
    from softgrad.commands.verify.report import VerifyReport
    from softgrad.commands.verify.weights_report import WeightsReport

    for cls, builder in (
        (CheckReport, _check),
        (ExplainReport, _explain),
        (BatchReport, _batch),
        (VerifyReport, _verify),
        (WeightsReport, _verify_weights),
        (LayerReport, _layer),
        (LayerExplainReport, _layer_explain),
    ):
        register(cls, builder)
