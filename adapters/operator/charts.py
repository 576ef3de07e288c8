"""Small inline SVG charts for the HTML report and the dashboard: no JavaScript, no server, no
dependency. Values are Decimals (money, prices) and datetimes; coordinates are floats only
inside the drawing. Every text is escaped."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from html import escape
from typing import Sequence

W, H = 640, 220
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 32, 28


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, Decimal]]
    color: str
    step: bool = False          # a level held until the next point (stop lines)
    dash: str = ""


@dataclass(frozen=True)
class Marker:
    name: str
    points: Sequence[tuple[datetime, Decimal]]
    color: str
    shape: str = "circle"       # circle | triangle


@dataclass
class _Frame:
    t0: float
    t1: float
    v0: float
    v1: float
    parts: list[str] = field(default_factory=list)

    def x(self, t: datetime) -> float:
        span = (self.t1 - self.t0) or 1.0
        return PAD_L + (t.timestamp() - self.t0) / span * (W - PAD_L - PAD_R)

    def y(self, v: Decimal) -> float:
        span = (self.v1 - self.v0) or 1.0
        return PAD_T + (self.v1 - float(v)) / span * (H - PAD_T - PAD_B)


def _frame(times: list[datetime], values: list[Decimal]) -> _Frame:
    lo, hi = float(min(values)), float(max(values))
    if lo == hi:
        lo, hi = lo - 0.01, hi + 0.01
    margin = (hi - lo) * 0.08
    return _Frame(min(times).timestamp(), max(times).timestamp(), lo - margin, hi + margin)


def _money(v: float) -> str:
    return f"{'-' if v < 0 else ''}${abs(v):.2f}"


def _axes(f: _Frame, title: str, money: bool) -> list[str]:
    out = [f'<text x="{PAD_L}" y="11" class="t">{escape(title)}</text>']
    for i in range(5):
        v = f.v0 + (f.v1 - f.v0) * i / 4
        y = f.y(Decimal(str(v)))
        out.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>')
        out.append(f'<text x="{PAD_L - 4}" y="{y + 3:.1f}" text-anchor="end" class="a">'
                   f'{_money(v) if money else f"{v:.2f}"}</text>')
    for i in range(4):
        t = f.t0 + (f.t1 - f.t0) * i / 3
        x = PAD_L + (t - f.t0) / ((f.t1 - f.t0) or 1.0) * (W - PAD_L - PAD_R)
        label = datetime.fromtimestamp(t, tz=timezone.utc).strftime("%m-%d %H:%M")
        anchor = "end" if i == 3 else "middle"
        out.append(f'<text x="{x:.1f}" y="{H - 8}" text-anchor="{anchor}" class="a">{label}</text>')
    return out


_STYLE = ("<style>.t{font:bold 12px sans-serif}.a{font:10px sans-serif;fill:#555}.g{stroke:#eee}"
          ".l{font:10px sans-serif}</style>")


def line_chart(title: str, series: Sequence[Series], markers: Sequence[Marker] = (), *,
               money: bool = False) -> str:
    pts = [p for s in series for p in s.points] + [p for m in markers for p in m.points]
    if not pts:
        return f'<p class="empty">{escape(title)}: no data</p>'
    f = _frame([t for t, _ in pts], [v for _, v in pts])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             f'role="img" aria-label="{escape(title)}">', _STYLE]
    parts += _axes(f, title, money)
    if money and f.v0 < 0 < f.v1:
        y0 = f.y(Decimal(0))
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y0:.1f}" y2="{y0:.1f}" stroke="#999"/>')
    legend_x = PAD_L
    for s in series:
        if not s.points:
            continue
        coords = []
        for i, (t, v) in enumerate(s.points):
            if s.step and i > 0:
                coords.append(f"{f.x(t):.1f},{f.y(s.points[i - 1][1]):.1f}")
            coords.append(f"{f.x(t):.1f},{f.y(v):.1f}")
        if len(coords) == 1:
            coords.append(f"{W - PAD_R:.1f},{f.y(s.points[0][1]):.1f}")
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="1.6"{dash} '
                     f'points="{" ".join(coords)}"><title>{escape(s.name)}</title></polyline>')
        parts.append(f'<text x="{legend_x}" y="25" class="l" fill="{s.color}">{escape(s.name)}</text>')
        legend_x += 7 * len(s.name) + 16
    for m in markers:
        for t, v in m.points:
            x, y = f.x(t), f.y(v)
            label = f"{m.name} {v:.2f} at {t.strftime('%H:%M:%S')}"
            if m.shape == "triangle":
                parts.append(f'<polygon points="{x:.1f},{y - 5:.1f} {x - 5:.1f},{y + 4:.1f} {x + 5:.1f},{y + 4:.1f}" '
                             f'fill="{m.color}"><title>{escape(label)}</title></polygon>')
            else:
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{m.color}">'
                             f'<title>{escape(label)}</title></circle>')
        if m.points:
            parts.append(f'<text x="{legend_x}" y="25" class="l" fill="{m.color}">{escape(m.name)}</text>')
            legend_x += 7 * len(m.name) + 16
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, bars: Sequence[tuple[str, Decimal]]) -> str:
    """Horizontal bars, green for gains, red for losses, each labeled with its value."""
    if not bars:
        return f'<p class="empty">{escape(title)}: no data</p>'
    row = 22
    height = PAD_T + row * len(bars) + 10
    lo = min(Decimal(0), *(v for _, v in bars))
    hi = max(Decimal(0), *(v for _, v in bars))
    span = float(hi - lo) or 1.0
    left, right = 150, W - 70

    def x(v: Decimal) -> float:
        return left + float(v - lo) / span * (right - left)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" height="{height}" '
             f'role="img" aria-label="{escape(title)}">', _STYLE, f'<text x="4" y="11" class="t">{escape(title)}</text>']
    zero = x(Decimal(0))
    for i, (name, v) in enumerate(bars):
        y = PAD_T + i * row
        x0, x1 = sorted((zero, x(v)))
        color = "#2e7d32" if v >= 0 else "#c62828"
        sign = "-" if v < 0 else "+"
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" class="a">{escape(name)}</text>')
        parts.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" height="{row - 6}" fill="{color}">'
                     f'<title>{escape(name)}: {sign}${abs(v):.2f}</title></rect>')
        parts.append(f'<text x="{x1 + 4 if v >= 0 else zero + 4:.1f}" y="{y + 14}" class="a">{sign}${abs(v):.2f}</text>')
    parts.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{PAD_T}" y2="{height - 10}" stroke="#999"/>')
    parts.append("</svg>")
    return "".join(parts)
