"""PositionActor: one per open position; owns its state and nothing else.

On a wake-up (every 30 s, 5 s near a threshold, staggered per position) it asks the
PriceCache for a quote; on every quote it marks the position (mark = best bid of our side),
updates peak and trailing stop, evaluates the ten exit rules and sends every trigger to the
ExitRouter. Fills of an exit come back as ExitFill; when no contracts remain it closes,
tells everyone who counts on it, and stops. State is saved through the Store on every change
that matters for a restart (contracts, status, peak, trailing stop, stages) and at least
once per wake-up.
"""
from __future__ import annotations

import dataclasses
import zlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from actors.base import ArbeesActor
from actors.wiring import Refs
from config.schema import Config
from models import audit_events as ae
from models.control import ManualExitRequested, manual_trigger
from models.durations import seconds
from models.exit_rules import ExitContext, current_edge, evaluate_exits, model_is_fresh, near_threshold
from models.market import Quote, Side
from models.messages import (
    CircuitBreakerTripped,
    CooldownOver,
    ExitEnded,
    ExitFill,
    ExitStarted,
    ExitTriggered,
    ExposureReleased,
    GetQuote,
    MarketSettled,
    ModelProbabilityUpdated,
    PnlRealized,
    PositionClosed,
    PositionMarked,
    QuoteUpdated,
    RebalanceEdge,
    RebalanceEnded,
    RebalanceExit,
    RebalanceOffer,
    RecordExitEvent,
    SavePosition,
    Subscribe,
    Unsubscribe,
    Wake,
)
from models.money import ONE, ZERO
from models.pnl import mark_position, realized_pnl
from models.position import PositionState, PositionStatus

SETTLEMENT_WAIT = timedelta(minutes=2)   # longest a settlement waits for the exit in flight


class PositionActor(ArbeesActor):
    kind = "position"

    def __init__(self, rt, config: Config, refs: Refs, state: PositionState, *, breaker_tripped: bool = False,
                 applied_fills: frozenset[str] = frozenset()) -> None:
        super().__init__(rt, state.position_id, refs.supervisor)
        self.config = config
        self.refs = refs
        self.state = state
        self.quote: Quote | None = None
        self.context = ExitContext(
            model_probability=state.model_probability, circuit_breaker=breaker_tripped,
            model_probability_ts=state.model_probability_ts)
        self._said_model_stale = False
        self.sold = state.initial_contracts - state.contracts
        self._saved: PositionState | None = None   # the last state sent to the Store
        self._applied: set[str] = set(applied_fills)   # exit fills already in `state` (idempotence)
        self._gen = 0
        self._timer = None
        self._next_wake = None
        self._last_eval = None
        self._active: set[tuple[str, int | None]] = set()   # (condition, stage) announced and not yet over
        m = config.monitoring
        self._normal = seconds(m.normal_interval_secs)
        self._urgent = seconds(m.urgent_interval_secs)
        self.evaluations = 0
        # Streamed quotes (a replay, a live stream): every change is pushed and evaluated at once;
        # the cadence's wake-ups are answered by the cache from the last pushed quote.
        self.streamed = getattr(rt, "streamed_quotes", False)
        self._settlement: MarketSettled | None = None   # waits for the exit in flight (see _on_settled)
        self._marked: Decimal | None = None             # the unrealized P&L last told to the RiskManager
        self._last_price: Decimal | None = state.current_price   # the last known mark (the bid may vanish)
        self._offers: list[str] = []                    # rebalance offers waiting for a fresh quote
        self._rebalance_for: str | None = None          # the signal our rebalance exit makes room for
        self._book: tuple | None = None     # our side's (bid, bid size) in the last quote evaluated
        self.book_changes = 0
        self.manual: str | None = None   # issue 12: a person asked to close it (models/control.py)

    # lifecycle -------------------------------------------------------------------------
    def on_start(self) -> None:
        self.send(self.refs.price_cache, Subscribe(self.state.ticker, self.actor_ref, self.key))
        # Stagger the first wake-up across the interval so 1,000 positions do not wake together.
        # Ten 100 ms slots: positions in one slot wake at the same instant, which the virtual
        # scheduler delivers as one step (and the PriceCache serves with one read).
        slot = zlib.crc32(self.key.encode()) % 10
        if self.streamed:
            self.send(self.refs.price_cache, GetQuote(self.state.ticker, self.actor_ref, "refresh"))
        self._schedule(self.rt.clock.now() + timedelta(milliseconds=100 * slot))

    def handle(self, message: Any) -> None:
        match message:
            case Wake(generation=g):
                if g == self._gen:
                    self._on_wake()
            case QuoteUpdated(quote=q):
                self._on_quote(q, from_wake=bool(message.request_id))
            case ExitFill():
                self._on_fill(message)
            case ExitStarted():
                if self.state.status is PositionStatus.OPEN:
                    self.state = self.state.replace(status=PositionStatus.EXITING)
                    self._save()
            case ExitEnded():
                self._on_exit_ended(message)
            case ModelProbabilityUpdated(yes_probability=p, ts=ts):
                mine = p if self.state.side is Side.YES else ONE - p
                self.context = dataclasses.replace(self.context, model_probability=mine, model_probability_ts=ts)
                self.state = self.state.replace(model_probability=mine, model_probability_ts=ts)
                self._said_model_stale = False
                self._evaluate()
            case CircuitBreakerTripped():
                self.context = dataclasses.replace(self.context, circuit_breaker=True)
                self._evaluate()
            case RebalanceOffer(signal_id=sid):
                self._on_rebalance_offer(sid)
            case RebalanceExit(signal_id=sid, edge=edge):
                self._on_rebalance_exit(sid, edge)
            case MarketSettled():
                self._on_settled(message)
            case ManualExitRequested(reason=why):
                self.manual = why
                self._evaluate()
            case CooldownOver():
                self._evaluate()
            case _:
                self.unknown(message)

    # monitoring ------------------------------------------------------------------------
    def _interval(self) -> timedelta:
        return self._urgent if near_threshold(self.state, self.config) else self._normal

    def _schedule(self, when) -> None:  # type: ignore[no-untyped-def]
        if self._timer is not None:
            self._timer.cancel()
        self._gen += 1
        self._next_wake = when
        self._timer = self.rt.scheduler.call_at(when, self.actor_ref, Wake(self._gen))

    def _on_wake(self) -> None:
        now = self.rt.clock.now()
        recent = self._last_eval is not None and now - self._last_eval < self._interval()
        if recent and not self._close_window_opened(now):
            self._schedule(self._next_wake_after(self._last_eval + self._interval(), now))
            return
        self._schedule(self._next_wake_after(now + self._interval(), now))
        # Streamed quotes: the cache answers from the last pushed quote (no venue read), so a
        # market whose quotes never change is still evaluated at the cadence: clock rules
        # (time_based_urgent) and measures that dry up with time (recent volume) need it.
        self.send(self.refs.price_cache, GetQuote(self.state.ticker, self.actor_ref, "wake"))

    def _time_exit_due(self):  # type: ignore[no-untyped-def]
        """The moment time_based_urgent becomes due (close - minutes_before_close), or None."""
        close = (self.quote.close_time if self.quote is not None else None) or self.state.close_time
        if close is None:
            return None
        return close - seconds(self.config.time_based_urgent.minutes_before_close * 60)

    def _close_window_opened(self, now) -> bool:  # type: ignore[no-untyped-def]
        due = self._time_exit_due()
        return due is not None and self._last_eval is not None and self._last_eval < due <= now

    def _next_wake_after(self, wanted, now):  # type: ignore[no-untyped-def]
        """`wanted`, or the time-exit boundary when that comes first: a clock rule no quote
        announces, so the position wakes exactly there (and at the cadence after it)."""
        due = self._time_exit_due()
        return due if due is not None and now < due < wanted else wanted

    def _on_quote(self, quote: Quote | None, from_wake: bool) -> None:
        if quote is not None and (self.quote is None or quote.ts >= self.quote.ts):
            self.quote = quote
        self._evaluate(persist=from_wake)
        if self._offers:
            self._answer_offers()

    # rebalance -------------------------------------------------------------------------
    def _on_rebalance_offer(self, signal_id: str) -> None:
        """Answer with our current edge, from a fresh quote: a stale one is refreshed first
        (polling), never answered from and never dropped."""
        self._offers.append(signal_id)
        now = self.rt.clock.now()
        fresh = self.quote is not None and self.quote.is_fresh(now, seconds(self.config.monitoring.price_cache_ttl_secs))
        if self.streamed or fresh:
            self._answer_offers()
        else:
            self.send(self.refs.price_cache, GetQuote(self.state.ticker, self.actor_ref, "rebalance"))

    def _answer_offers(self) -> None:
        now = self.rt.clock.now()
        quote = self.quote
        if self.streamed and quote is not None and quote.ts < now:
            quote = dataclasses.replace(quote, ts=now)      # the stream says: unchanged since
        edge = None
        if self.state.status is PositionStatus.OPEN and self._settlement is None:
            edge = current_edge(self.state, quote, now, self.config, self.context)
        offers, self._offers = self._offers, []
        for sid in offers:
            self.send(self.refs.entry_manager, RebalanceEdge(sid, self.key, edge))

    def _on_rebalance_exit(self, signal_id: str, edge: Decimal) -> None:
        self.context = dataclasses.replace(self.context, rebalance_edge=edge)
        triggers = self._evaluate()
        self.context = dataclasses.replace(self.context, rebalance_edge=None)
        if any(t.condition == "rebalance" for t in triggers or ()) and self._settlement is None:
            self._rebalance_for = signal_id
        else:   # the market moved since the answer: the margin is no longer there
            self.send(self.refs.entry_manager, RebalanceEnded(signal_id, self.key, 0))

    def _evaluate(self, persist: bool = False):  # type: ignore[no-untyped-def]
        """Mark, evaluate every rule, send the triggers; returns them."""
        if self.state.status is PositionStatus.CLOSED:
            return ()
        now = self.rt.clock.now()
        self._last_eval = now
        self.evaluations += 1
        before = self.state
        ttl = seconds(self.config.monitoring.price_cache_ttl_secs)
        if self.streamed and self.quote is not None and self.quote.ts < now:
            self.quote = dataclasses.replace(self.quote, ts=now)   # the stream says: unchanged since
        priced = self.quote is not None and self.quote.is_fresh(now, ttl)
        if priced:
            self.state = mark_position(self.state, self.quote, now, self.config)
            self._report_mark()
            book = (self.quote.bid(self.state.side), self.quote.bid_size(self.state.side))
            if book != self._book:
                self._book = book
                self.book_changes += 1
        elif not persist:
            # Not a wake-up (a model update, a breaker, an exit ending) and the quote is stale:
            # evaluate what does not need a price now, and ask for a fresh quote for the rest.
            self.send(self.refs.price_cache, GetQuote(self.state.ticker, self.actor_ref, "refresh"))
        triggers = evaluate_exits(self.state, self.quote, now, self.config, self.context)
        if self.manual is not None and self.state.contracts > 0:
            triggers = (manual_trigger(self.state, self.manual), *triggers)
        self._say_if_model_stale(now)
        self._record_new_triggers(triggers, now, priced)
        if triggers and self._settlement is None:   # a settled market takes no more orders
            self.send(self.refs.exit_router, ExitTriggered(
                self.key, self.state.ticker, self.state.side, self.state.contracts, self.sold, triggers,
                self.actor_ref, now, self.book_changes))
        if _matters_for_restart(before, self.state) or (persist and _mark_moved(self._saved, self.state)):
            self._save()
        wanted = self._next_wake_after(self._last_eval + self._interval(), now)
        if self._next_wake is None or wanted < self._next_wake or self._next_wake < now:
            self._schedule(wanted)
        return triggers

    def _say_if_model_stale(self, now) -> None:  # type: ignore[no-untyped-def]
        """Once per stale episode: the model probability is too old to drive edge exits."""
        c = self.context
        if self._said_model_stale or c.model_probability is None or \
                model_is_fresh(c.model_probability_ts, now, self.config, self.state.sport):
            return
        self._said_model_stale = True
        limit = self.config.max_model_age_secs(self.state.sport)
        age = "of unknown age (restored)" if c.model_probability_ts is None else \
            f"{(now - c.model_probability_ts).total_seconds() / 60:.1f} min old"
        self.rt.audit.emit(ae.ModelStale(
            position_id=self.key, market=self.state.ticker, side=self.state.side, sport=self.state.sport,
            model_probability=c.model_probability, estimated_at=c.model_probability_ts, limit_secs=limit, age=age))

    def _record_new_triggers(self, triggers, now, priced: bool) -> None:  # type: ignore[no-untyped-def]
        """Announce each trigger once per episode. An episode ends when the condition stops
        firing on a priced evaluation while no exit is in flight: a condition flickering during
        an exit, or still firing after its exit gave up, is not announced again (the router says
        once why it waits)."""
        firing = {(t.condition, t.stage) for t in triggers}
        for t in triggers:
            if (t.condition, t.stage) in self._active:
                continue
            self.rt.audit.emit(ae.ExitTriggered(
                position_id=self.key, market=self.state.ticker, side=self.state.side, condition=t.condition,
                priority=t.priority.name, value=t.value, threshold=t.threshold, contracts=t.contracts,
                mark=self.state.current_price, detail=t.detail))
            self.send(self.refs.store, RecordExitEvent(
                self.key, "", t.condition, t.priority.name, t.contracts, "triggered", now,
                price=self.state.current_price, trigger_value=t.value, threshold=t.threshold, detail=t.detail))
        if priced and self.state.status is PositionStatus.OPEN:
            self._active = firing
        else:
            self._active |= firing

    # exits -----------------------------------------------------------------------------
    def _on_fill(self, fill: ExitFill) -> None:
        if fill.fill_id and fill.fill_id in self._applied:
            return   # already counted (rebuilt from the fills ledger after a restart)
        self._applied.add(fill.fill_id)
        n = min(fill.contracts, self.state.contracts)
        if n <= 0:
            return
        entry_share = self.state.entry_fees * n / self.state.initial_contracts
        pnl = realized_pnl(self.state.entry_price, fill.price, n, fill.fee, entry_share)
        changes: dict[str, Any] = dict(
            contracts=self.state.contracts - n,
            realized_pnl=self.state.realized_pnl + pnl,
            exit_fees=self.state.exit_fees + fill.fee,
            exit_reason=fill.condition, exit_priority=fill.priority.name)
        if fill.stage is not None:
            changes["partial_stages_done"] = max(self.state.partial_stages_done, fill.stage + 1)
        self.state = self.state.replace(**changes)
        self.sold += n
        self.send(self.refs.entry_manager, ExposureReleased(self.key, self.state.ticker, self.state.game_id,
                                                            self.state.entry_price * n))
        self.send(self.refs.risk_manager, PnlRealized(self.key, pnl, fill.ts, fill.fill_id))
        self._report_mark()
        if self.state.contracts == 0:
            self._close(fill.condition, fill.priority.name)
        else:
            self._save()

    def _on_exit_ended(self, ended: ExitEnded) -> None:
        if self.state.status is PositionStatus.CLOSED:
            return
        if ended.stage is not None and ended.filled > 0:
            self.state = self.state.replace(partial_stages_done=max(self.state.partial_stages_done, ended.stage + 1))
        if self.state.status is PositionStatus.EXITING:
            self.state = self.state.replace(status=PositionStatus.OPEN)
        self._save()
        if self._rebalance_for is not None and ended.condition == "rebalance":
            self.send(self.refs.entry_manager, RebalanceEnded(self._rebalance_for, self.key, ended.filled))
            self._rebalance_for = None
        if self._settlement is not None:
            settlement, self._settlement = self._settlement, None
            self._on_settled(settlement)
            return
        self._evaluate()

    def _on_settled(self, msg: MarketSettled) -> None:
        if self.state.status is PositionStatus.CLOSED or self.state.contracts == 0:
            return
        if self.state.status is PositionStatus.EXITING and self._settlement is not msg:
            # An exit is in flight: some of its contracts may already have sold, their fills on
            # the way. Settle what is left once it has ended (the venue refuses new orders on a
            # settled market, so it ends within a timeout); the same message comes back after
            # SETTLEMENT_WAIT and settles anyway (a status EXITING restored after a restart).
            self._settlement = msg
            self.rt.scheduler.call_later(SETTLEMENT_WAIT, self.actor_ref, msg)
            return
        self._settlement = None
        payout = ONE if msg.result is self.state.side else ZERO
        n = self.state.contracts
        entry_share = self.state.entry_fees * n / self.state.initial_contracts
        pnl = realized_pnl(self.state.entry_price, payout, n, ZERO, entry_share)
        self.state = self.state.replace(contracts=0, realized_pnl=self.state.realized_pnl + pnl,
                                        current_price=payout, exit_reason="settlement", exit_priority=None)
        self.sold += n
        self.rt.audit.emit(ae.PositionSettled(position_id=self.key, market=self.state.ticker, result=msg.result,
                                              contracts=n, payout=payout, realized_pnl=pnl, side=self.state.side))
        self.send(self.refs.store, RecordExitEvent(self.key, f"{self.key}-settle", "settlement", "", n, "filled", msg.ts,
                                                   price=payout, detail=f"settled {msg.result.value}"))
        self.send(self.refs.entry_manager, ExposureReleased(self.key, self.state.ticker, self.state.game_id,
                                                            self.state.entry_price * n))
        self.send(self.refs.risk_manager, PnlRealized(self.key, pnl, msg.ts, f"{self.key}-settle"))
        self._report_mark()
        self._close("settlement", None)

    def _close(self, reason: str, priority: str | None) -> None:
        now = self.rt.clock.now()
        self.state = self.state.replace(status=PositionStatus.CLOSED, closed_at=now, exit_reason=reason,
                                        exit_priority=priority, unrealized_pnl=ZERO, unrealized_pnl_pct=ZERO)
        self._save()
        if self._timer is not None:
            self._timer.cancel()
        s = self.state
        self.rt.audit.emit(ae.PositionClosed(position_id=self.key, market=s.ticker, side=s.side, reason=reason,
                                             priority=priority, realized_pnl=s.realized_pnl, exit_fees=s.exit_fees,
                                             entry_fees=s.entry_fees))
        closed = PositionClosed(self.key, s.ticker, s.side, s.game_id, s.realized_pnl, Decimal(0))
        for ref in (self.refs.exit_router, self.refs.entry_manager, self.refs.supervisor):
            self.send(ref, closed)
        self.send(self.refs.price_cache, Unsubscribe(s.ticker, self.key))
        self.actor_ref.stop(block=False)

    def _report_mark(self) -> None:
        """Tell the RiskManager the unrealized P&L of what is held, at the mark, when it changed
        (the daily loss limit counts it; 0 once nothing is held). While our side has no bid the
        mark is unknown and the last known one is kept: a loss does not vanish with the bid."""
        s = self.state
        if s.current_price is not None:
            self._last_price = s.current_price
        price = self._last_price if s.current_price is None else s.current_price
        u = (price - s.entry_price) * s.contracts if price is not None and s.contracts else ZERO
        if u != self._marked:
            self._marked = u
            self.send(self.refs.risk_manager, PositionMarked(self.key, u, self.rt.clock.now()))

    def _save(self) -> None:
        self._saved = self.state
        self.send(self.refs.store, SavePosition(self.state))


def _matters_for_restart(a: PositionState, b: PositionState) -> bool:
    return (a.peak_price != b.peak_price or a.trailing_stop_active != b.trailing_stop_active
            or a.contracts != b.contracts or a.status != b.status or a.partial_stages_done != b.partial_stages_done)


def _mark_moved(saved: PositionState | None, now: PositionState) -> bool:
    """A wake-up saves the mark only when it moved (a quiet market costs no writes)."""
    return saved is None or (saved.current_price, saved.model_probability) != (now.current_price,
                                                                               now.model_probability)
