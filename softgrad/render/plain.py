"""Plain text: stable, colourless output for pipes, files and logs.

Every piece of text from the data (carried columns, file names, messages) is made safe here and in the
rich renderer: control and invisible formatting characters are shown as escapes (``\\x1b``, ``\\u202e``),
never written raw; and for an output encoding that cannot hold a character (``PYTHONIOENCODING=ascii``,
cp1252), the character is replaced by an ASCII stand-in (``✓`` → ``ok``, ``τ`` → ``tau``) before the
columns are measured, so tables stay aligned.
"""

from __future__ import annotations

import unicodedata

from softgrad.inputs.files import printable
from softgrad.render.layout import Document, Line, Table

#: ASCII stand-ins for the symbols the reports use, when the output encoding cannot hold them.
ASCII = {
    "✓": "ok", "✗": "FAIL", "—": "-", "–": "-", "−": "-", "…": "...", "⋮": ":", "█": "#", "·": "*", "τ": "tau",
    "Σ": "sum ", "ᵀ": "^T", "⊙": "(.)", "×": "x", "≠": "!=", "÷": "/", "²": "^2", "δ": "delta", "½": "1/2",
    "∇": "grad ", "‖": "||", "ε": "eps", "±": "+/-", "∈": " in ", "≤": "<=", "≥": ">=", "≈": "~", "→": "->",
    "←": "<-", "∞": "inf", "√": "sqrt", "∂": "d", "⁻": "^-", "¹": "1", "│": "|", "─": "-", "━": "-",
}  # fmt: skip
_UTF = ("utf8", "utf8sig", "utf16", "utf32")


def for_encoding(text: str, encoding: str = "utf-8") -> str:
    """``text`` as ``encoding`` can write it: ASCII stand-ins (or the character without its accents, or
    ``?``) for what it cannot."""
    if encoding.lower().replace("-", "").replace("_", "") in _UTF:
        return text
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    except LookupError:
        return text
    out = []
    for c in text:
        try:
            c.encode(encoding)
            out.append(c)
        except UnicodeEncodeError:
            out.append(_stand_in(c, encoding))
    return "".join(out)


def _stand_in(c: str, encoding: str) -> str:
    if c in ASCII:
        return ASCII[c]
    bare = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
    try:
        bare.encode(encoding)
        return bare or "?"
    except UnicodeEncodeError:
        return "?"


def safe(text: str, encoding: str = "utf-8") -> str:
    """Printable (:func:`printable`) and writable in ``encoding`` (:func:`for_encoding`)."""
    return for_encoding(printable(text), encoding)


def render_plain(doc: Document, encoding: str = "utf-8") -> str:
    out: list[str] = []
    for block in doc:
        if isinstance(block, Table):
            out.extend(_table(block, encoding))
        else:
            out.append(_line(block, encoding))
    return "\n".join(out).rstrip() + "\n"


def _line(parts: Line, encoding: str) -> str:
    return "".join(safe(c.text, encoding) for c in parts).rstrip()


def _table(t: Table, encoding: str) -> list[str]:
    columns = [safe(c, encoding) for c in t.columns]
    cells = [columns, *([safe(c.text, encoding) for c in row] for row in t.rows)]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(columns))]
    align = t.align or ["left"] * len(columns)

    def fmt(row: list[str]) -> str:
        parts = [
            (v.rjust(w) if align[i] == "right" else v.ljust(w))
            for i, (v, w) in enumerate(zip(row, widths, strict=False))
        ]
        return "  ".join(parts).rstrip()

    lines = [safe(t.title, encoding)] if t.title else []
    lines.append(fmt(columns))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt(r) for r in cells[1:])
    lines.append("")
    return lines
