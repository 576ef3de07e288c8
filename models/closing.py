"""Selling and closing a position, pure: the one owner of that arithmetic.

Every path that takes contracts out of a position or closes it calls these: the PositionActor
(an exit fill, a settlement, the close), the Supervisor (fills a crashed position actor never
applied, taken in from the ledger), the fills-ledger rebuild (models/ledger.py) and start-up
reconciliation (adapters/engine/reconcile.py: a position every contract of which was sold
while no process watched, and one the venue no longer holds).

- `apply_exit_fill`: `count` contracts sold at `price` with `fee`, never more than are held.
  Realized P&L is net of the sale's fee and of its share of the entry fee (models/pnl.py).
  With a `reason` the exit's condition and priority are recorded; a partial `stage` that sold
  is done (it never fires again).
- `apply_settlement`: the market settled; every contract held is paid 1 (our side won) or 0,
  with no fee; the mark becomes the payout.
- `close_position`: nothing is held any more: CLOSED, stamped with when (a time already set
  is kept), why and at which priority; the unrealized P&L is 0.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from models.market import Side
from models.money import ONE, ZERO
from models.pnl import realized_pnl
from models.position import PositionState, PositionStatus

SETTLEMENT = "settlement"
_KEEP: Any = object()


def apply_exit_fill(state: PositionState, count: int, price: Decimal, fee: Decimal, *, reason: str | None = None,
                    priority: str | None = None, stage: int | None = None) -> PositionState:
    """`state` less `count` contracts sold (at most what is held); unchanged when none is."""
    n = min(count, state.contracts)
    if n <= 0:
        return state
    entry_share = state.entry_fees * n / state.initial_contracts
    pnl = realized_pnl(state.entry_price, price, n, fee, entry_share)
    changes: dict[str, Any] = dict(contracts=state.contracts - n, realized_pnl=state.realized_pnl + pnl,
                                   exit_fees=state.exit_fees + fee)
    if reason is not None:
        changes.update(exit_reason=reason, exit_priority=priority)
    if stage is not None:
        changes["partial_stages_done"] = max(state.partial_stages_done, stage + 1)
    return state.replace(**changes)


def settlement_payout(state: PositionState, result: Side) -> Decimal:
    return ONE if result is state.side else ZERO


def apply_settlement(state: PositionState, result: Side) -> PositionState:
    """Every contract held paid its settlement value (no fee): nothing is held afterwards."""
    payout = settlement_payout(state, result)
    sold = apply_exit_fill(state, state.contracts, payout, ZERO, reason=SETTLEMENT, priority=None)
    return sold.replace(current_price=payout)


def close_position(state: PositionState, now: datetime, reason: str | None = _KEEP,
                   priority: str | None = _KEEP) -> PositionState:
    """CLOSED with nothing held. `reason` and `priority` default to those already recorded."""
    return state.replace(
        status=PositionStatus.CLOSED, contracts=0, closed_at=state.closed_at or now,
        exit_reason=state.exit_reason if reason is _KEEP else reason,
        exit_priority=state.exit_priority if priority is _KEEP else priority,
        unrealized_pnl=ZERO, unrealized_pnl_pct=ZERO)
