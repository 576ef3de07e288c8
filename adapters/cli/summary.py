"""The end-of-run summary, read back from the database (so it shows what was persisted).

Each position shows the contracts bought and those held now, how long it was held (open to close;
an open one until now, marked "+"), its realized P&L and, while open, its unrealized P&L at the
last mark; the totals show "today" (the engine clock's day) beside "all time"
(adapters/storage/trade_history.py splits P&L by the day of each sale) and the closed positions'
median, shortest and longest hold."""
from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from adapters.storage.repository import Repository
from adapters.storage.trade_history import realizations, unrealized
from models.duration import fmt_duration
from models.money import ZERO, fmt_money, fmt_price
from models.records import ExitStatus
PRIORITY_OF_SETTLEMENT = None


def build_summary(repo: Repository, *, today: date | None = None) -> dict[str, Any]:
    """`today` defaults to the day of the repository's clock (a replay's market day)."""
    now = repo._clock.now()   # noqa: SLF001 - the engine's clock, read-only
    if today is None:
        today = now.date()
    positions = []
    reasons: Counter[str] = Counter()
    realized = entry_fees = exit_fees = ZERO
    for p in sorted(repo.all_positions(), key=lambda s: (s.opened_at, s.position_id)):
        exits = []
        for e in repo.exits_for(p.position_id):
            if e.status is ExitStatus.TRIGGERED or e.contracts <= 0:
                continue
            exits.append({"reason": e.reason, "priority": e.priority or PRIORITY_OF_SETTLEMENT,
                          "contracts": e.contracts, "price": None if e.price is None else str(e.price),
                          "fees": str(e.fees), "ts": (e.filled_at or e.triggered_at).isoformat(),
                          "outcome": e.status.value})
            reasons[e.reason] += 1
        exits.sort(key=lambda x: x["ts"])
        realized += p.realized_pnl
        entry_fees += p.entry_fees
        exit_fees += p.exit_fees
        positions.append({
            "position_id": p.position_id, "ticker": p.ticker, "side": p.side.value,
            "signal_type": p.signal_type, "entry_price": str(p.entry_price), "contracts": p.initial_contracts,
            "contracts_held": p.contracts, "status": "closed" if p.status.value == "closed" else "open",
            "realized_pnl": str(p.realized_pnl),
            "mark": None if p.current_price is None or p.status.value == "closed" else str(p.current_price),
            "unrealized_pnl": None if (u := unrealized(p)) is None else str(u), "entry_fees": str(p.entry_fees), "exit_fees": str(p.exit_fees),
            "exit_reason": p.exit_reason, "exits": exits,
            "held_s": int(((p.closed_at or now) - p.opened_at).total_seconds()),
        })
    holds = sorted(x["held_s"] for x in positions if x["status"] == "closed")
    totals = {
        "positions": len(positions),
        "open": sum(1 for p in positions if p["status"] == "open"),
        "closed": sum(1 for p in positions if p["status"] == "closed"),
        "exits_by_reason": dict(sorted(reasons.items())),
        "realized_pnl": str(realized), "entry_fees": str(entry_fees), "exit_fees": str(exit_fees),
        "fees": str(entry_fees + exit_fees),
        "today": today.isoformat(),
        "realized_pnl_today": str(sum((r.pnl for r in realizations(repo) if r.ts.date() == today), ZERO)),
        "unrealized_pnl": str(sum((Decimal(p["unrealized_pnl"]) for p in positions if p["unrealized_pnl"]), ZERO)),
        "hold_s": {"median": holds[(len(holds) - 1) // 2], "shortest": holds[0], "longest": holds[-1]} if holds else None,
    }
    return {"positions": positions, "totals": totals}


def format_summary(summary: dict[str, Any], *, extra: dict[str, Any] | None = None) -> str:
    lines = ["", "=" * 96, "SUMMARY", "=" * 96]
    t = summary["totals"]
    if not summary["positions"]:
        lines.append("No positions were opened.")
    else:
        lines.append(f"{'market':<30} {'side':<4} {'entry':>6} {'qty':>5} {'held':>5} {'status':<7} {'hold':>7} "
                     f"{'P&L':>9} {'unreal.':>9}  exits")
        for p in summary["positions"]:
            exits = ", ".join(f"{e['reason']}({e['priority'] or '-'}) {e['contracts']}@{fmt_price(Decimal(e['price']))}"
                              for e in p["exits"]) or "-"
            unreal = fmt_money(Decimal(p["unrealized_pnl"])) if p.get("unrealized_pnl") else "-"
            hold = fmt_duration(p["held_s"]) + ("+" if p["status"] == "open" else "")
            lines.append(f"{p['ticker'][:30]:<30} {p['side']:<4} {fmt_price(Decimal(p['entry_price'])):>6} "
                         f"{p['contracts']:>5} {p['contracts_held']:>5} {p['status']:<7} {hold:>7} "
                         f"{fmt_money(Decimal(p['realized_pnl'])):>9} {unreal:>9}  {exits}")
    lines.append("-" * 96)
    lines.append(f"Positions: {t['positions']} ({t['closed']} closed, {t['open']} open)")
    by_reason = ", ".join(f"{k}: {v}" for k, v in t["exits_by_reason"].items()) or "none"
    lines.append(f"Exits by reason: {by_reason}")
    if t.get("hold_s"):
        h = t["hold_s"]
        lines.append(f"Hold (closed positions): median {fmt_duration(h['median'])}, shortest "
                     f"{fmt_duration(h['shortest'])}, longest {fmt_duration(h['longest'])}")
    lines.append(f"Realized P&L (net of fees): {fmt_money(Decimal(t['realized_pnl']))} all time, "
                 f"{fmt_money(Decimal(t['realized_pnl_today']))} today ({t['today']})")
    if t["open"]:
        lines.append(f"Unrealized P&L at the mark (open positions, before exit fees): "
                     f"{fmt_money(Decimal(t['unrealized_pnl']))}")
    lines.append(f"Fees paid: ${Decimal(t['fees']):.2f} (entry ${Decimal(t['entry_fees']):.2f}, "
                 f"exit ${Decimal(t['exit_fees']):.2f})")
    for key, value in (extra or {}).items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines)
