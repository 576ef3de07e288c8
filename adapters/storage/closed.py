"""Closed positions the engine still acts on: the stop-outs the EntryManager holds off buying
back after a restart (actors/entry_manager.py, signals.reentry_after_stop_secs)."""
from __future__ import annotations

from datetime import datetime

from adapters.storage.tables import PositionRow
from models.position import PositionStatus


def closed_by_since(reason: str, since: datetime) -> tuple[tuple[str, str, datetime], ...]:
    """(ticker, side, closed_at) of the positions an exit for `reason` closed at or after
    `since`, oldest first."""
    closed = (PositionRow.status == PositionStatus.CLOSED.value) & (PositionRow.exit_reason == reason)
    query = PositionRow.select(PositionRow.ticker, PositionRow.side, PositionRow.closed_at).where(
        closed & (PositionRow.closed_at >= since)).order_by(PositionRow.closed_at)
    return tuple((r.ticker, r.side, r.closed_at) for r in query)
