"""The ten exit conditions (DESIGN.md §2) as one pure function.

`evaluate_exits(state, quote, now, config, context)` returns every condition that fires,
most urgent first (priority, then config order). It reads no clock and does no I/O.

Decisions worth knowing:
- The mark is the best bid of our side (none: unknown); a quote older than the cache TTL is stale and no
  price-based condition is evaluated on it (only circuit_breaker and time_based_urgent).
- The stop loss is measured from the entry-time mark (`stop_basis`: our side's bid when the
  entry was priced), not from the price paid: the spread crossed to enter is not a loss the
  market made, and a real adverse move of stop_loss_pct fires it (see `stop_price`).
- With partial exits enabled, profit_target stays silent: stage 1 (+15%) sells 50% of the
  initial contracts, stage 2 (+25%) sells 25%, each once, and the rest rides the trailing
  stop (or any other condition). With partial exits disabled, profit_target closes all.
- early_exit fires for edge in [edge_disappeared, early_exit) and edge_disappeared below
  that, so the two never fire together and the reason names the real state.
- The edge rules (and rebalance) use the model probability only while it is no older than
  edge_exits.max_model_age_secs for the sport (`model_is_fresh`); the entry signal's
  probability ages from the signal's ts like any update.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from config.schema import Config
from models.durations import seconds
from models.liquidity import liquidity_breach
from models.market import Quote
from models.money import CENT, HUNDRED, fmt_pct, fmt_price, round_to_tick
from models.pnl import pnl_pct, price_at_pct
from models.position import PositionState
from models.priorities import Priority


@dataclass(frozen=True, slots=True)
class ExitContext:
    """Inputs that do not come from the quote: the latest model probability of our side,
    whether the circuit breaker has tripped, and a rebalance offer (the edge of a new signal
    that wants this position's capital)."""

    model_probability: Decimal | None = None
    circuit_breaker: bool = False
    rebalance_edge: Decimal | None = None
    model_probability_ts: datetime | None = None   # when it was estimated; None = unknown age
    liquidity_breach_since: datetime | None = None  # when the current liquidity breach began (models/liquidity.py)


@dataclass(frozen=True, slots=True)
class ExitTrigger:
    condition: str
    priority: Priority
    rank: tuple[int, int]
    contracts: int
    value: Decimal | None
    threshold: Decimal | None
    detail: str = ""
    stage: int | None = None  # partial_exit_target: the stage index
    # A profit-taking exit's lowest acceptable price: its threshold price rounded up to the tick,
    # never below entry. Capital protection and the rest sell wherever they can (None).
    min_price: Decimal | None = None


def partial_stage_size(state: PositionState, fraction_pct: Decimal) -> int:
    size = int((Decimal(state.initial_contracts) * fraction_pct / HUNDRED).to_integral_value(ROUND_FLOOR))
    return min(size, state.contracts)


def minutes_to_close(close_time: datetime | None, now: datetime) -> Decimal | None:
    """Minutes left before the market closes (negative once closed); None when unknown.
    time_based_urgent fires at or below `minutes_before_close`; entries are refused there."""
    if close_time is None:
        return None
    return Decimal((close_time - now).total_seconds()) / 60


def model_is_fresh(estimated_at: datetime | None, now: datetime, config: Config, sport: str) -> bool:
    """A model probability drives edge exits (early_exit, edge_disappeared, rebalance) only while
    its age is at most edge_exits.max_model_age_secs for the sport; unknown age is too old."""
    return estimated_at is not None and now - estimated_at <= seconds(config.max_model_age_secs(sport))


def stop_basis(state: PositionState) -> Decimal:
    """What the stop loss is measured from: the entry-time mark (our side's bid when the entry
    was priced), else the price paid (positions recorded before the basis existed)."""
    return state.entry_price if state.stop_basis is None else state.stop_basis


def stop_price(state: PositionState, config: Config) -> Decimal:
    """The mark at or below which stop_loss fires: stop_loss_pct below the entry-time bid. The
    spread crossed to enter is not counted as a loss; a real adverse move of the stop's size is."""
    return price_at_pct(stop_basis(state), -config.signal_type(state.signal_type).stop_loss_pct)


def take_profit_price(entry_price: Decimal, profit_pct: Decimal, tick: Decimal = CENT) -> Decimal:
    """The lowest price a profit-taking exit offers: its threshold rounded up to the tick, and
    never below entry (+15% on 0.50 -> 0.575 -> 0.58)."""
    return max(round_to_tick(price_at_pct(entry_price, profit_pct), tick, up=True), entry_price)



def _num(d: Decimal) -> str:
    """4.00 -> '4', 3.5 -> '3.5' (cents and counts in reasons)."""
    return f"{Decimal(d).normalize():f}"


def evaluate_exits(state: PositionState, quote: Quote | None, now: datetime, config: Config,
                   context: ExitContext = ExitContext()) -> tuple[ExitTrigger, ...]:
    if state.contracts <= 0:
        return ()
    found: list[ExitTrigger] = []

    def fire(condition: str, value: Decimal | None, threshold: Decimal | None, detail: str,
             contracts: int | None = None, stage: int | None = None, min_price: Decimal | None = None) -> None:
        level = config.priority_of(condition)
        found.append(ExitTrigger(condition, Priority[level], config.condition_rank(condition),
                                 state.contracts if contracts is None else contracts,
                                 value, threshold, detail, stage, min_price))

    if context.circuit_breaker:
        fire("circuit_breaker", None, None, "circuit breaker tripped")

    close_time = (quote.close_time if quote is not None else None) or state.close_time
    minutes_left = minutes_to_close(close_time, now)
    if minutes_left is not None and minutes_left <= config.time_based_urgent.minutes_before_close:
        fire("time_based_urgent", minutes_left.quantize(Decimal("0.1")),
             config.time_based_urgent.minutes_before_close, f"{minutes_left:.1f} min to close")

    fresh = quote is not None and quote.is_fresh(now, seconds(config.monitoring.price_cache_ttl_secs))
    mark = quote.bid(state.side) if fresh else None
    if fresh and quote is not None:
        if not model_is_fresh(context.model_probability_ts, now, config, state.sport):
            context = dataclasses.replace(context, model_probability=None)   # too old to act on
        _price_rules(state, quote, mark, config, context, fire, now)

    found.sort(key=lambda t: t.rank)
    return tuple(found)


def _price_rules(state, quote, mark, config, context, fire, now) -> None:  # type: ignore[no-untyped-def]
    st = config.signal_type(state.signal_type)
    breach = liquidity_breach(quote, state.side, config.liquidity)
    since, lasted = context.liquidity_breach_since, seconds(config.liquidity.breach_for_secs)
    if breach is not None and (not lasted or (since is not None and now - since >= lasted)):
        fire("liquidity_dried_up", breach.value, breach.threshold, breach.detail)
    if mark is None:
        return
    pct = pnl_pct(state.entry_price, mark)
    move = pnl_pct(stop_basis(state), mark)
    if move <= -st.stop_loss_pct:
        fire("stop_loss", move, -st.stop_loss_pct,
             f"bid {fmt_price(mark)} <= stop {fmt_price(stop_price(state, config))}, {_num(st.stop_loss_pct)}% below "
             f"the entry-time bid {fmt_price(stop_basis(state))}")

    peak = mark if state.peak_price is None else max(state.peak_price, mark)
    active = state.trailing_stop_active or pnl_pct(state.entry_price, peak) >= st.trailing_stop.activation_pct
    if active:
        trail = peak - st.trailing_stop.distance_cents / HUNDRED
        if mark <= trail:
            fire("trailing_stop", mark, trail, f"mark {fmt_price(mark)} <= trail {fmt_price(trail)} (peak "
                                               f"{fmt_price(peak)} - {_num(st.trailing_stop.distance_cents)}c)")

    pe = config.partial_exits
    if pe.enabled:
        for index in range(state.partial_stages_done, len(pe.stages)):
            stage = pe.stages[index]
            if pct < stage.profit_pct:
                break
            size = partial_stage_size(state, stage.sell_fraction_pct)
            if size > 0:
                fire("partial_exit_target", pct, stage.profit_pct,
                     f"stage {index + 1}: P&L {fmt_pct(pct, stage.profit_pct)} >= {_num(stage.profit_pct)}%, "
                     f"sell {size}",
                     contracts=size, stage=index, min_price=take_profit_price(state.entry_price, stage.profit_pct))
                break
    elif pct >= st.profit_target_pct:
        fire("profit_target", pct, st.profit_target_pct,
             f"P&L {fmt_pct(pct, st.profit_target_pct)} >= {_num(st.profit_target_pct)}%",
             min_price=take_profit_price(state.entry_price, st.profit_target_pct))

    if context.model_probability is not None:
        edge = (context.model_probability - mark) * HUNDRED
        ee = config.edge_exits
        if edge < ee.edge_disappeared_edge_pct:
            fire("edge_disappeared", edge, ee.edge_disappeared_edge_pct,
                 f"edge {fmt_pct(edge, ee.edge_disappeared_edge_pct)} < {_num(ee.edge_disappeared_edge_pct)}%")
        elif edge < ee.early_exit_edge_pct:
            fire("early_exit", edge, ee.early_exit_edge_pct,
                 f"edge {fmt_pct(edge, ee.early_exit_edge_pct)} < {_num(ee.early_exit_edge_pct)}%")
        if context.rebalance_edge is not None and config.rebalance.enabled:
            gain = context.rebalance_edge * HUNDRED - edge
            if gain >= config.rebalance.edge_margin_pct:
                fire("rebalance", gain, config.rebalance.edge_margin_pct,
                     f"new edge beats ours by {fmt_pct(gain, config.rebalance.edge_margin_pct)[:-1]} points")


def current_edge(state: PositionState, quote: Quote | None, now: datetime, config: Config,
                 context: ExitContext) -> Decimal | None:
    """Our edge now, in points: model probability of our side - our best bid, from a fresh quote
    and a model probability no older than its limit; None when either is missing or too old."""
    if quote is None or not quote.is_fresh(now, seconds(config.monitoring.price_cache_ttl_secs)):
        return None
    mark = quote.bid(state.side)
    if mark is None or context.model_probability is None or \
            not model_is_fresh(context.model_probability_ts, now, config, state.sport):
        return None
    return (context.model_probability - mark) * HUNDRED


def near_threshold(state: PositionState, config: Config) -> bool:
    """True when the mark is within `urgent_threshold_pct` P&L points of the stop loss, the
    profit target (or next partial stage) or the trailing stop: monitor at the urgent cadence.
    A position that has been marked and has lost its bid is watched at the urgent cadence too:
    it is blind, and a bid coming back may have to re-attack its stop at once."""
    if state.current_price is None:
        return state.last_update is not None
    st = config.signal_type(state.signal_type)
    band = config.monitoring.urgent_threshold_pct
    pct = pnl_pct(state.entry_price, state.current_price)
    if abs(pnl_pct(stop_basis(state), state.current_price) - (-st.stop_loss_pct)) <= band:
        return True
    pe = config.partial_exits
    if pe.enabled:
        if state.partial_stages_done < len(pe.stages):
            if abs(pct - pe.stages[state.partial_stages_done].profit_pct) <= band:
                return True
    elif abs(pct - st.profit_target_pct) <= band:
        return True
    if state.trailing_stop_active and state.trailing_stop_price is not None:
        gap_pct = pnl_pct(state.entry_price, state.current_price) - pnl_pct(state.entry_price, state.trailing_stop_price)
        if gap_pct <= band:
            return True
    return False


__all__ = ["ExitContext", "ExitTrigger", "current_edge", "evaluate_exits", "minutes_to_close", "model_is_fresh", "near_threshold", "partial_stage_size", "price_at_pct", "stop_basis", "stop_price", "take_profit_price"]
