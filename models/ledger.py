"""The fills ledger is the source of truth for what a position still holds.

After a crash, a position's own row may lag behind its exits (a fill can reach the database
before the position actor that should have counted it). `reconcile_with_fills` rebuilds the
sold contracts, realized P&L and exit fees from the recorded exit fills, so a restarted
position never thinks it holds contracts it already sold (or the reverse).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from models.money import ZERO, q6
from models.orders import Action, Fill, OrderSnapshot
from models.closing import SETTLEMENT, apply_exit_fill
from models.position import PositionState, PositionStatus


# The reason of the position_exits row start-up reconciliation writes when the venue holds
# fewer contracts than the database (sold or settled outside Arbees while it was down).
RECONCILED_AWAY = "reconciled: venue holds fewer"


def reconcile_with_fills(state: PositionState, exit_fills: Iterable[Fill], removed: int = 0) -> PositionState:
    """`removed`: contracts reconciliation found gone from the venue (no fill of ours): they
    are not held, and their P&L is unknown (not booked)."""
    sold_by_fills = state.replace(contracts=state.initial_contracts, realized_pnl=ZERO, exit_fees=ZERO)
    for f in exit_fills:
        if f.action is Action.SELL and f.ticker == state.ticker and f.side is state.side:
            sold_by_fills = apply_exit_fill(sold_by_fills, f.count, f.price, f.fee)
    sold = state.initial_contracts - sold_by_fills.contracts
    pnl, fees = sold_by_fills.realized_pnl, sold_by_fills.exit_fees
    if state.exit_reason == SETTLEMENT:
        return state   # settled positions are closed by the settlement itself
    held = max(0, state.initial_contracts - sold - removed)
    if held == state.contracts and pnl == state.realized_pnl:
        return state
    changes: dict[str, object] = dict(contracts=held, realized_pnl=pnl, exit_fees=fees)
    if held == 0 and state.status is not PositionStatus.CLOSED:
        changes["status"] = PositionStatus.CLOSED
    elif held > 0 and state.status is PositionStatus.CLOSED:
        raise ValueError(f"position {state.position_id}: closed in the database but the fills leave {held} held")
    return state.replace(**changes)


@dataclass(frozen=True, slots=True)
class FillTotals:
    """What is known to have filled of one order: contracts, cost (price x count) and fees."""

    count: int = 0
    cost: Decimal = ZERO
    fees: Decimal = ZERO


def totals(fills: Iterable[Fill]) -> FillTotals:
    fills = tuple(fills)
    return FillTotals(sum(f.count for f in fills), sum((f.price * f.count for f in fills), ZERO),
                      sum((f.fee for f in fills), ZERO))


def fill_id(order_id: str, cumulative: int) -> str:
    """A fill's id: the order and its cumulative filled count (the same fill, the same id)."""
    return f"{order_id}-{cumulative}"


def new_fill(known: FillTotals, snap: OrderSnapshot) -> tuple[int, Decimal, Decimal]:
    """(contracts, average price, fee) of what an order filled beyond `known`; 0 contracts if none."""
    n = snap.filled_count - known.count
    if n <= 0:
        return 0, ZERO, ZERO
    cost = (snap.avg_fill_price or ZERO) * snap.filled_count
    return n, q6((cost - known.cost) / n), snap.fees - known.fees


def after(snap: OrderSnapshot) -> FillTotals:
    """Everything the snapshot says has filled."""
    return FillTotals(snap.filled_count, (snap.avg_fill_price or ZERO) * snap.filled_count, snap.fees)
