"""``--format html``: one self-contained page to keep as a CI artifact — the summary, the counts per status
and per mistake, the worst rows, the reproduce commands, and two inline SVG charts: the distribution of the
per-row (or per-case) max relative error over decades (a log scale) and the mistakes found. No script, no
style sheet, font or image from anywhere else: it opens the same offline."""

from __future__ import annotations

from html import escape

from softgrad.commands.batch.summary import HIST_HI, HIST_LO
from softgrad.inputs.files import printable
from softgrad.render.ci_summary import CiSummary

COLOUR = {"pass": "#1a7f37", "fail": "#cf222e", "unstable": "#9a6700", "bad": "#cf222e"}

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#1f2328}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
th{background:#f6f8fa}pre{background:#f6f8fa;padding:0.8em;overflow-x:auto}.status{font-weight:bold}"""


def _e(text: str) -> str:
    return escape(printable(text), quote=True)


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def bars_svg(title: str, bars: list[tuple[str, int, str]], x_label: str) -> str:
    """A vertical bar chart as inline SVG: (label, count, colour) per bar; heights in proportion."""
    if not bars:
        return ""
    width, height, left, bottom, top = max(320, 34 * len(bars) + 60), 220, 40, 60, 24
    plot = height - bottom - top
    biggest = max(n for _, n, _ in bars) or 1
    step = (width - left - 10) / len(bars)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{_e(title)}" font-size="10" font-family="sans-serif">'
        ),
        f"<title>{_e(title)}</title>",
        f'<text x="{left}" y="14" font-size="12" font-weight="bold">{_e(title)}</text>',
        f'<line x1="{left}" y1="{top + plot}" x2="{width - 10}" y2="{top + plot}" stroke="#57606a"/>',
    ]
    for i, (label, n, colour) in enumerate(bars):
        h = plot * n / biggest
        x = left + i * step + 2
        y = top + plot - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 4:.1f}" height="{h:.1f}" fill="{colour}">'
            f"<title>{_e(label)}: {n}</title></rect>"
        )
        parts.append(f'<text x="{x + (step - 4) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{n}</text>')
        lx, ly = x + (step - 4) / 2, top + plot + 12
        parts.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" transform="rotate(-40 {lx:.1f} {ly:.1f})">'
            f"{_e(label)}</text>"
        )
    parts.append(f'<text x="{width / 2:.0f}" y="{height - 4}" text-anchor="middle">{_e(x_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_bars(hist: dict[str, int]) -> list[tuple[str, int, str]]:
    """The decades from the smallest to the largest one that holds a row (exact zeros first), empty ones
    included so that the axis is a true log scale."""
    bars: list[tuple[str, int, str]] = []
    if "0" in hist:
        bars.append(("0", hist["0"], COLOUR["pass"]))
    present = [e for e in range(HIST_LO, HIST_HI) if f"1e{e}" in hist]
    if present:
        for e in range(present[0], present[-1] + 1):
            colour = COLOUR["fail"] if e >= -3 else COLOUR["unstable"] if e >= -7 else COLOUR["pass"]
            bars.append((f"1e{e}", hist.get(f"1e{e}", 0), colour))
    return bars


def render_html(s: CiSummary, show: int) -> str:
    """The whole page."""
    colour = COLOUR.get(s.status, "#1f2328")
    body = [
        f'<h1>softgrad {_e(s.command)}: <span class="status" style="color:{colour}">{_e(s.status.upper())}</span></h1>',
        f"<p><strong>{_e(s.subject)}</strong>: {_e(s.verdict)}</p>",
        "<h2>Counts</h2>",
        _table(("status", s.unit), [(k, str(v)) for k, v in s.counts.items()]),
    ]
    if s.mistakes:
        body += ["<h2>Mistakes found</h2>", _table(("mistake", s.unit), [(k, str(v)) for k, v in s.mistakes.items()])]
    if s.rows[:show]:
        body += [f"<h2>Worst {_e(s.unit)} (--show {show})</h2>", _table(s.columns, list(s.rows[:show]))]
    charts = [
        bars_svg(
            f"per-{s.unit.rstrip('s')} max relative error",
            histogram_bars(s.histogram),
            "max relative error (decades, log scale)",
        ),
        bars_svg("mistakes found", [(k, v, COLOUR["fail"]) for k, v in s.mistakes.items()], "catalogue id"),
    ]
    if any(charts):
        body += ["<h2>Charts</h2>", *(f"<figure>{c}</figure>" for c in charts if c)]
    body += [f"<p>Note: {_e(n)}</p>" for n in s.notes]
    if s.reproduce:
        body += ["<h2>Reproduce</h2>", "<pre>" + "\n".join(_e(c) for c in s.reproduce) + "</pre>"]
    title = _e(f"softgrad {s.command}: {s.status.upper()} — {s.subject}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
