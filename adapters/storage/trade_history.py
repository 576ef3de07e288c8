"""Realized and unrealized P&L read back from the database, for the summary, `report` and `status`.

A *realization* is one executed exit (or settlement) that sold contracts: its P&L is what that
sale realized, net of its own fee and its share of the entry fee (models/pnl.realized_pnl,
the way the position actor books it), so P&L can be split by the day, reason and signal type
of each sale. A position's P&L is the database's realized_pnl (their sum, to the cent).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable

from adapters.storage.repository import Repository
from models.money import ZERO
from models.pnl import realized_pnl
from models.position import PositionState, PositionStatus
from models.records import ExitStatus
@dataclass(frozen=True, slots=True)
class Realization:
    position_id: str
    ticker: str
    side: str
    sport: str
    signal_type: str
    reason: str
    priority: str
    ts: datetime
    contracts: int
    price: Decimal
    fees: Decimal
    pnl: Decimal


def realizations(repo: Repository, positions: Iterable[PositionState] | None = None) -> list[Realization]:
    """Every sale of every position (or of `positions`), oldest first."""
    out = []
    for p in positions if positions is not None else repo.all_positions():
        for e in repo.exits_for(p.position_id):
            if e.status is ExitStatus.TRIGGERED or e.contracts <= 0 or e.price is None:
                continue
            share = p.entry_fees * e.contracts / p.initial_contracts if p.initial_contracts else ZERO
            out.append(Realization(p.position_id, p.ticker, p.side.value, p.sport, p.signal_type, e.reason,
                                   e.priority or "", e.filled_at or e.triggered_at, e.contracts, e.price, e.fees,
                                   realized_pnl(p.entry_price, e.price, e.contracts, e.fees, share)))
    out.sort(key=lambda r: (r.ts, r.position_id))
    return out


def unrealized(p: PositionState) -> Decimal | None:
    """Unrealized P&L of what is held now, at the mark (None without a mark); gross of fees."""
    if p.status is PositionStatus.CLOSED or p.current_price is None or p.contracts <= 0:
        return None
    return (p.current_price - p.entry_price) * p.contracts


def _sum_by(items: Iterable[Realization], key) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in items:
        totals[key(r)] += r.pnl
    return dict(sorted(totals.items()))


def pnl_report(repo: Repository, *, today: date, since: datetime | None = None) -> dict[str, Any]:
    """The numbers of `report`: P&L today / by day / sport / exit reason / signal type, win
    rate, largest loss, fees, average hold time. `since` keeps sales (and positions closed)
    from that time on; open positions are always shown."""
    positions = repo.all_positions()
    sales = [r for r in realizations(repo, positions) if since is None or r.ts >= since]
    closed = [p for p in positions if p.status is PositionStatus.CLOSED
              and (since is None or (p.closed_at or p.opened_at) >= since)]
    open_ = [p for p in positions if p.status is not PositionStatus.CLOSED]
    wins = [p for p in closed if p.realized_pnl > 0]
    holds = [p.closed_at - p.opened_at for p in closed if p.closed_at is not None]
    avg_hold = sum(holds, timedelta()) / len(holds) if holds else None
    in_scope = [p for p in positions if since is None or p.opened_at >= since]
    fees = sum((r.fees for r in sales), ZERO) + sum((p.entry_fees for p in in_scope), ZERO)
    losses = [p for p in closed if p.realized_pnl < 0]
    worst = min(losses, key=lambda p: p.realized_pnl) if losses else None
    return {
        "today": today.isoformat(),
        "since": since.isoformat() if since else None,
        "realized_pnl": sum((r.pnl for r in sales), ZERO),
        "realized_today": sum((r.pnl for r in sales if r.ts.date() == today), ZERO),
        "unrealized_pnl": sum((u for p in open_ if (u := unrealized(p)) is not None), ZERO),
        "by_day": _sum_by(sales, lambda r: r.ts.date().isoformat()),
        "by_sport": _sum_by(sales, lambda r: r.sport),
        "by_exit_reason": _sum_by(sales, lambda r: r.reason),
        "by_signal_type": _sum_by(sales, lambda r: r.signal_type),
        "positions_closed": len(closed), "positions_open": len(open_),
        "wins": len(wins), "win_rate_pct": (Decimal(len(wins)) * 100 / len(closed)).quantize(Decimal("0.1"))
        if closed else None,
        "largest_loss": None if worst is None else {"position_id": worst.position_id, "ticker": worst.ticker,
                                                     "side": worst.side.value, "pnl": worst.realized_pnl},
        "fees": fees,
        "average_hold": None if avg_hold is None else str(avg_hold).split(".")[0],
        "sales": sales,
    }
