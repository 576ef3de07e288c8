"""A position's quiet band: the quotes that cannot change anything it decides (issue 14).

After an evaluation, a position that is quiet (OPEN, marked, nothing firing, not near any
threshold) has a band of marks (our side's best bid) inside which a new quote would:
- fire none of the price rules of models/exit_rules.py: stop_loss (mark <= stop), trailing_stop
  (mark <= peak - distance, once active), partial_exit_target / profit_target (P&L % >= the next
  stage / the target), early_exit and edge_disappeared (model probability - mark below their
  edges, while the model is fresh);
- not move the peak (mark > peak), so neither the trailing stop's activation nor its price moves;
- not bring the position within `urgent_threshold_pct` of the stop, the next stage / the target
  or the trailing stop (models/exit_rules.near_threshold), so its wake-up cadence stays the normal
  one.
The band says nothing about the rest of the quote; `QuietBand.leaves(quote)` is the whole test a
quote must pass to be skipped: it is delivered when
- our side has no bid, or its mark is at or below `floor`, or above `ceiling`;
- liquidity_dried_up would judge it (no bid, spread, recent volume: models/liquidity.py);
- its close time is not the one the band was made with (time_based_urgent reads it);
- it is at or after `until`: the moment the time exit becomes due, or the model probability
  grows too old to drive the edge rules (the rules the band counted change then).

Exact, not approximate: every edge is found by bisection over the 6-decimal price grid (the
finest price a quote may carry, see actors/price_cache.quote_problem) with the rules' own
arithmetic (pnl_pct, the edge in points), and each predicate is monotone in the mark, so every
mark strictly inside (floor, ceiling] is quiet. A position that is not quiet has no band (None):
it is sent every quote.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable

from config.schema import Config
from models.exit_rules import ExitContext, minutes_to_close, model_is_fresh, partial_stage_size, stop_basis
from models.liquidity import liquidity_breach
from models.market import Quote, Side
from models.money import HUNDRED
from models.pnl import pnl_pct
from models.position import PositionState, PositionStatus
from models.durations import seconds

GRID = Decimal("0.000001")      # the finest price step a quote may carry
LOWEST, HIGHEST = Decimal(0), Decimal(1)


@dataclass(frozen=True, slots=True)
class QuietBand:
    """Deliver a quote when it leaves the band (see the module docstring)."""

    side: Side
    floor: Decimal                  # a mark at or below it is delivered
    ceiling: Decimal                # a mark above it is delivered
    close_time: datetime | None     # the close time the band was made with
    until: datetime | None          # delivered from this moment on (None: no clock edge)
    liquidity: object               # config.liquidity (frozen): what liquidity_dried_up judges

    def leaves(self, quote: Quote) -> bool:
        mark = quote.bid(self.side)
        if mark is None or mark <= self.floor or mark > self.ceiling:
            return True
        if quote.close_time is not None and quote.close_time != self.close_time:
            return True
        if self.until is not None and quote.ts >= self.until:
            return True
        return liquidity_breach(quote, self.side, self.liquidity) is not None  # type: ignore[arg-type]


def _last_true(pred: Callable[[Decimal], bool], lo: Decimal, hi: Decimal) -> Decimal:
    """The highest grid price in [lo, hi] where `pred` (true low, false high) holds; lo - GRID when none."""
    if not pred(lo):
        return lo - GRID
    a, b = int(lo / GRID), int(hi / GRID)          # pred(a) true
    while a < b:
        mid = (a + b + 1) // 2
        if pred(mid * GRID):
            a = mid
        else:
            b = mid - 1
    return a * GRID


def _first_true(pred: Callable[[Decimal], bool], lo: Decimal, hi: Decimal) -> Decimal:
    """The lowest grid price in [lo, hi] where `pred` (false low, true high) holds; hi + GRID when none."""
    if not pred(hi):
        return hi + GRID
    a, b = int(lo / GRID), int(hi / GRID)          # pred(b) true
    while a < b:
        mid = (a + b) // 2
        if pred(mid * GRID):
            b = mid
        else:
            a = mid + 1
    return a * GRID


def quiet_band(state: PositionState, quote: Quote | None, now: datetime, config: Config,
               context: ExitContext) -> QuietBand | None:
    """The band of a position just marked and evaluated on `quote` at `now` (None: not quiet,
    send it every quote). `state` is the state after marking; nothing must have fired."""
    mark = state.current_price
    if (state.status is not PositionStatus.OPEN or state.contracts <= 0 or mark is None or quote is None
            or state.peak_price is None or context.circuit_breaker or context.rebalance_edge is not None):
        return None
    st = config.signal_type(state.signal_type)
    near = config.monitoring.urgent_threshold_pct
    entry, basis = state.entry_price, stop_basis(state)

    pct0 = pnl_pct(entry, mark)
    # Low side: stop_loss and its urgent zone; the trailing stop and its urgent zone.
    lows = [lambda m: pnl_pct(basis, m) - (-st.stop_loss_pct) <= near]
    if state.trailing_stop_active and state.trailing_stop_price is not None:
        trail_pct = pnl_pct(entry, state.trailing_stop_price)
        lows.append(lambda m: pnl_pct(entry, m) - trail_pct <= near)
    # High side: the peak, the partial stages (or the profit target), the edge rules.
    highs = [lambda m: m > state.peak_price]
    pe = config.partial_exits
    if pe.enabled:
        stages = pe.stages[state.partial_stages_done:]
        # evaluate_exits: stage k fires when P&L reaches every threshold up to it and it sells > 0
        reach, sizes = [], []
        for stage in stages:
            reach.append(max([stage.profit_pct] + [r for r in reach[-1:]]))
            sizes.append(partial_stage_size(state, stage.sell_fraction_pct))
        fire_at = [r for r, n in zip(reach, sizes) if n > 0]
        if fire_at:
            highs.append(lambda m, r=min(fire_at): pnl_pct(entry, m) >= r)
        urgent_at = stages[0].profit_pct if stages else None      # near_threshold watches the next stage
    else:
        highs.append(lambda m: pnl_pct(entry, m) >= st.profit_target_pct)
        urgent_at = st.profit_target_pct
    if urgent_at is not None:
        if abs(pct0 - urgent_at) <= near:
            return None
        if pct0 < urgent_at:
            highs.append(lambda m, p=urgent_at: pnl_pct(entry, m) >= p - near)
        else:
            lows.append(lambda m, p=urgent_at: pnl_pct(entry, m) <= p + near)
    until = None
    due = _time_exit_due(state, quote, config)
    if due is not None:
        until = due
    prob = context.model_probability
    if prob is not None and model_is_fresh(context.model_probability_ts, now, config, state.sport):
        ee = config.edge_exits
        edge_floor = max(ee.edge_disappeared_edge_pct, ee.early_exit_edge_pct)
        highs.append(lambda m: (prob - m) * HUNDRED < edge_floor)
        stale_at = context.model_probability_ts + seconds(config.max_model_age_secs(state.sport))  # type: ignore[operator]
        until = stale_at if until is None else min(until, stale_at)
    if any(p(mark) for p in lows) or any(p(mark) for p in highs):
        return None      # near a threshold (or past one): every quote counts
    floor = max(_last_true(p, LOWEST, mark) for p in lows)
    ceiling = min(_first_true(p, mark, HIGHEST) for p in highs) - GRID
    if until is not None and until <= now:
        return None
    return QuietBand(state.side, floor, ceiling, quote.close_time or state.close_time, until, config.liquidity)


def _time_exit_due(state: PositionState, quote: Quote, config: Config) -> datetime | None:
    close = quote.close_time or state.close_time
    if close is None:
        return None
    return close - seconds(config.time_based_urgent.minutes_before_close * 60)


__all__ = ["GRID", "QuietBand", "minutes_to_close", "quiet_band"]
