"""`report`: P&L today / by day / by sport / by exit reason / by signal type, win rate, largest
loss, fees, average hold time (adapters/storage/trade_history.py), as text, JSON or one self-contained
HTML file with inline SVG charts: cumulative P&L, P&L by exit reason, and for each position a
price chart with its entry, marks, stop and trailing-stop lines and exit fills.

Price paths come from the audit log: the marks of the engine's HEARTBEAT (every 30 s when the
mark moved) and the mark at every trigger; fills from ORDER_FILLED.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from adapters.audit.files import read_typed
from adapters.storage.repository import Repository
from adapters.operator.status_view import position_levels
from adapters.operator.charts import Marker, Series, bar_chart, line_chart
from config.schema import Config
from models import audit_events as ae
from models.money import ZERO, fmt_money
from models.position import PositionState


def format_report(r: dict[str, Any]) -> str:
    def block(title: str, values: dict[str, Decimal]) -> list[str]:
        if not values:
            return [f"{title}: none"]
        width = max(len(k) for k in values)
        return [f"{title}:"] + [f"  {k:<{width}}  {fmt_money(v):>10}" for k, v in values.items()]

    scope = f" since {r['since']}" if r["since"] else ""
    lines = [f"P&L report{scope} (realized, net of fees)",
             f"Today ({r['today']}): {fmt_money(r['realized_today'])}    All{' in scope' if scope else ' time'}: "
             f"{fmt_money(r['realized_pnl'])}    Unrealized (open, at the mark): {fmt_money(r['unrealized_pnl'])}",
             f"Positions: {r['positions_closed']} closed, {r['positions_open']} open; "
             f"win rate {'-' if r['win_rate_pct'] is None else str(r['win_rate_pct']) + '%'} "
             f"({r['wins']} of {r['positions_closed']})",
             "Largest loss: " + ("-" if r["largest_loss"] is None else
                                 f"{fmt_money(r['largest_loss']['pnl'])} ({r['largest_loss']['ticker']} "
                                 f"{r['largest_loss']['side']}, {r['largest_loss']['position_id']})"),
             f"Fees paid: ${r['fees']:.2f}    Average hold: {r['average_hold'] or '-'}", ""]
    for title, key in (("By day", "by_day"), ("By sport", "by_sport"), ("By exit reason", "by_exit_reason"),
                       ("By signal type", "by_signal_type")):
        lines += block(title, r[key])
    return "\n".join(lines)


def _price_paths(audit: Path, pids: set[str]) -> tuple[dict[str, list], dict[str, list], dict[str, list]]:
    marks: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    trails: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    fills: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for ev in read_typed(audit, ("HEARTBEAT", "EXIT_TRIGGERED", "ORDER_FILLED")):
        ts = ev.ts
        if isinstance(ev, ae.Heartbeat):
            for m in ev.marks or ():
                pid = m.get("position_id") if isinstance(m, dict) else None
                if pid in pids and m.get("mark") is not None:
                    marks[pid].append((ts, Decimal(m["mark"])))
                    if m.get("trailing_stop") is not None:
                        trails[pid].append((ts, Decimal(m["trailing_stop"])))
        elif ev.get("position_id") in pids:
            pid = ev.get("position_id")
            if isinstance(ev, ae.ExitTriggered) and ev.mark is not None:
                marks[pid].append((ts, ev.mark))
            elif isinstance(ev, ae.OrderFilled) and ev.price is not None:
                fills[pid].append((ts, ev.price))
    for d in (marks, trails):
        for v in d.values():
            v.sort()
    return marks, trails, fills


def position_chart(p: PositionState, config: Config, marks: list, trail: list, fills: list) -> str:
    end = p.closed_at or (marks[-1][0] if marks else p.opened_at)
    stop = position_levels(p, config)["stop_price"]
    series = [Series("mark", [(p.opened_at, p.entry_price), *marks] if marks else [], "#1565c0"),
              Series("entry", [(p.opened_at, p.entry_price), (end, p.entry_price)], "#555", dash="4 3"),
              Series("stop", [(p.opened_at, stop), (end, stop)], "#c62828", dash="6 3"),
              Series("trailing stop", trail, "#ef6c00", step=True)]
    markers = [Marker("entry fill", [(p.opened_at, p.entry_price)], "#555", "triangle"),
               Marker("exit fills", fills, "#2e7d32")]
    title = f"{p.ticker} {p.side.value.upper()} ({p.position_id})"
    return line_chart(title, series, markers)


_CSS = ("body{font:14px sans-serif;margin:24px;max-width:1000px;color:#222}table{border-collapse:collapse}"
        "td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #eee}td:first-child,th:first-child"
        "{text-align:left}.pos{color:#2e7d32}.neg{color:#c62828}section{margin:18px 0}h2{margin-top:28px}")


def _money_cell(v: Decimal) -> str:
    return f'<td class="{"pos" if v >= 0 else "neg"}">{escape(fmt_money(v))}</td>'


def render_html(r: dict[str, Any], repo: Repository, audit: Path, config: Config, *, title: str = "Arbees report") -> str:
    positions = repo.all_positions()
    marks, trails, fills = _price_paths(audit, {p.position_id for p in positions})
    cumulative, total = [], ZERO
    for s in r["sales"]:
        total += s.pnl
        cumulative.append((s.ts, total))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>",
             "<pre>" + escape(format_report(r)) + "</pre>",
             "<section>" + line_chart("Cumulative realized P&L", [Series("cumulative P&L", cumulative, "#1565c0")],
                                      money=True) + "</section>",
             "<section>" + bar_chart("P&L by exit reason", list(r["by_exit_reason"].items())) + "</section>",
             "<h2>Positions</h2><table><tr><th>position</th><th>market</th><th>side</th><th>status</th><th>entry</th>"
             "<th>bought</th><th>held</th><th>realized</th><th>exit reason</th></tr>"]
    for p in positions:
        parts.append(f"<tr><td><a href='#{escape(p.position_id)}'>{escape(p.position_id)}</a></td>"
                     f"<td>{escape(p.ticker)}</td><td>{p.side.value}</td><td>{p.status.value}</td>"
                     f"<td>{p.entry_price:.2f}</td><td>{p.initial_contracts}</td><td>{p.contracts}</td>"
                     f"{_money_cell(p.realized_pnl)}<td>{escape(p.exit_reason or '-')}</td></tr>")
    parts.append("</table>")
    for p in positions:
        pid = p.position_id
        parts.append(f"<section id='{escape(pid)}'>"
                     + position_chart(p, config, marks.get(pid, []), trails.get(pid, []), fills.get(pid, []))
                     + "</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
