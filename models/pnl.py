"""Marking a position: the mark is the best bid of the side we hold (what we could sell at now).

P&L percentages are of the entry price and gross of fees (thresholds compare like with like);
realized P&L is net of every fee paid.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from config.schema import Config
from models.market import Quote
from models.money import HUNDRED, ZERO, q6
from models.position import PositionState


def pnl_pct(entry_price: Decimal, mark: Decimal) -> Decimal:
    if entry_price <= 0:
        return ZERO
    return (mark - entry_price) / entry_price * HUNDRED


def price_at_pct(entry_price: Decimal, pct: Decimal) -> Decimal:
    """The mark at which P&L % equals `pct`."""
    return entry_price * (1 + pct / HUNDRED)


def mark_position(state: PositionState, quote: Quote, now: datetime, config: Config) -> PositionState:
    """Update mark, unrealized P&L, peak and trailing stop from a fresh quote.

    A quote without a bid for our side makes the mark unknown (current_price and unrealized P&L
    None): the last bid is a price that is gone. Peak and trailing stop keep their history.
    The trailing stop activates once the peak P&L reaches its activation and then stays
    active; its price only ever rises (peak - distance).
    """
    mark = quote.bid(state.side)
    if mark is None:
        return state.replace(current_price=None, unrealized_pnl=None, unrealized_pnl_pct=None, last_update=now,
                             close_time=quote.close_time or state.close_time)
    peak = mark if state.peak_price is None else max(state.peak_price, mark)
    ts_cfg = config.signal_type(state.signal_type).trailing_stop
    active = state.trailing_stop_active or pnl_pct(state.entry_price, peak) >= ts_cfg.activation_pct
    trail = (peak - ts_cfg.distance_cents / HUNDRED) if active else None
    return state.replace(
        current_price=mark,
        unrealized_pnl=(mark - state.entry_price) * state.contracts,
        unrealized_pnl_pct=pnl_pct(state.entry_price, mark),
        last_update=now,
        peak_price=peak,
        trailing_stop_active=active,
        trailing_stop_price=trail,
        close_time=quote.close_time or state.close_time,
    )


def realized_pnl(entry_price: Decimal, exit_price: Decimal, contracts: int, exit_fee: Decimal,
                 entry_fee_share: Decimal) -> Decimal:
    """Net P&L of selling `contracts` at `exit_price`, charging this sale's share of the entry fee."""
    return q6((exit_price - entry_price) * contracts - exit_fee - entry_fee_share)
