"""HTML building blocks: escaping, the page frame, tables and small SVG charts drawn on the server.

string.Template for the frame and plain functions for the parts, every value through `esc`: no
template engine dependency, no build step, and nothing a file name can inject.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from string import Template
from typing import Any

NAV = (("/", "Dashboard"), ("/night", "Night"), ("/review", "Review"), ("/events", "Events"),
       ("/calibration", "Calibration"))

FRAME = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · $station</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head><body data-can-write="$can_write">
<header><span class="brand">AMS $station</span><nav>$nav</nav><span class="who">$who</span></header>
<main>
<h1>$title</h1>
$body
</main></body></html>
""")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, station: str, body: str, active: str, can_write: bool, who: str) -> str:
    nav = "".join(f'<a href="{href}"{" class=on" if href == active else ""}>{esc(name)}</a>' for href, name in NAV)
    who_html = (f"reviewing as {esc(who)}" if can_write else
                '<a href="/login">log in to review</a>')
    return FRAME.substitute(title=esc(title), station=esc(station), nav=nav, body=body,
                            can_write="1" if can_write else "0", who=who_html)


def table(cols: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    """Cells are escaped unless wrapped in `Raw`."""
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class Raw(str):
    """Trusted HTML (built here from escaped parts)."""


def cell(v: Any) -> str:
    if isinstance(v, Raw):
        return str(v)
    if v is None:
        return '<span class="dim">–</span>'
    if isinstance(v, float):
        return esc(f"{v:.3g}")
    return esc(v)


def kv(pairs: Iterable[tuple[str, Any]]) -> str:
    return '<dl class="kv">' + "".join(f"<dt>{esc(k)}</dt><dd>{cell(v)}</dd>" for k, v in pairs) + "</dl>"


def _scale(vals: Sequence[float], lo_px: float, hi_px: float) -> tuple[float, float, Any]:
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    return lo, hi, lambda v: lo_px + (v - lo) / (hi - lo) * (hi_px - lo_px)


def line_chart(xs: Sequence[float], ys: Sequence[float], x_label: str, y_label: str,
               w: int = 420, h: int = 220, invert_y: bool = False) -> str:
    """A small SVG line+points chart with its axis ranges labelled (light curve, az/el track)."""
    if len(xs) < 1:
        return '<p class="dim">no data</p>'
    pad = 40
    x0, x1, sx = _scale(xs, pad, w - 10)
    y0, y1, sy0 = _scale(ys, h - 30, 10)

    def sy(v: float) -> float:
        return float(sy0(v)) if not invert_y else float(h - 30 + 10 - sy0(v))

    pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys, strict=True))
    dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5"/>' for x, y in zip(xs, ys, strict=True))
    top, bottom = (y0, y1) if invert_y else (y1, y0)
    return (f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            f'aria-label="{esc(y_label)} against {esc(x_label)}">'
            f'<rect x="{pad}" y="10" width="{w - pad - 10}" height="{h - 40}" class="frame"/>'
            f'<polyline points="{pts}"/>{dots}'
            f'<text x="{pad}" y="{h - 8}">{x0:.4g}</text>'
            f'<text x="{w - 10}" y="{h - 8}" text-anchor="end">{x1:.4g}</text>'
            f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle" class="lab">{esc(x_label)}</text>'
            f'<text x="{pad - 4}" y="20" text-anchor="end">{top:.4g}</text>'
            f'<text x="{pad - 4}" y="{h - 30}" text-anchor="end">{bottom:.4g}</text>'
            f'<text x="12" y="{h / 2}" class="lab" transform="rotate(-90 12 {h / 2})" text-anchor="middle">'
            f'{esc(y_label)}</text></svg>')


def bars(counts: Sequence[int], labels: Sequence[str], w: int = 300, h: int = 60, full: int = 60) -> str:
    """Minutes per hour: one bar per hour, full height = `full` minutes."""
    n = max(1, len(counts))
    bw = w / n
    out = []
    for i, (c, lab) in enumerate(zip(counts, labels, strict=True)):
        bh = min(1.0, c / full) * (h - 14)
        cls = "bar" if c >= full * 0.9 else ("bar low" if c else "bar none")
        out.append(f'<rect class="{cls}" x="{i * bw + 1:.1f}" y="{h - 14 - bh:.1f}" width="{bw - 2:.1f}" '
                   f'height="{max(bh, 1):.1f}"><title>{esc(lab)}: {c} min</title></rect>')
        if i % 3 == 0:
            out.append(f'<text x="{i * bw:.1f}" y="{h - 2}">{esc(lab[-2:])}</text>')
    return f'<svg class="bars" viewBox="0 0 {w} {h}" width="{w}" height="{h}">{"".join(out)}</svg>'
