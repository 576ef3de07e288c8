"""PositionActor: one per open position; owns its state and nothing else.

On a wake-up (every 30 s, 5 s near a threshold, staggered per position) it asks the
PriceCache for a quote; on every quote it marks the position (mark = best bid of our side),
updates peak and trailing stop, evaluates the ten exit rules and sends every trigger to the
ExitRouter. Fills of an exit come back as ExitFill; when no contracts remain it closes,
tells everyone who counts on it, and stops. State is saved through the Store on every change
that matters for a restart (contracts, status, peak, trailing stop, stages) and at least
once per wake-up. Selling, settling and closing are models/closing.py; its side of a
rebalance is actors/position_rebalance.py.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import zlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from actors.base import ArbeesActor
from actors.position_rebalance import PositionRebalance
from actors.position_band import QuietBandMixin
from actors.wiring import Refs
from config.schema import Config
from models import audit_events as ae
from models.closing import apply_exit_fill, apply_settlement, close_position
from models.control import ManualExitRequested, manual_trigger
from models.durations import seconds
from models.liquidity import breach_since
from models.exit_rules import ExitContext, evaluate_exits, model_is_fresh, near_threshold
from models.market import Quote, Side
from models.commands import (
    CancelExitFor, GetQuote, MarksNeeded, RebalanceExit, RebalanceOffer, Subscribe, Unsubscribe,
)
from models.events import (
    CircuitBreakerTripped, CooldownOver, ExitEnded, ExitFill, ExitOutcome, ExitStarted, ExitTriggered, ExposureReleased,
    MarketSettled, ModelProbabilityUpdated, PnlRealized, PositionClosed, QuoteUpdated, RebalanceEnded,
)
from models.store_commands import RecordExitEvent, SavePosition
from models.money import ONE
from models.pnl import mark_position
from models.records import ExitStatus
from models.priorities import Priority
from models.position import PositionState, PositionStatus, mark_moved, matters_for_restart


@dataclass(frozen=True, slots=True)
class Wake:
    """A position's monitoring tick."""
    generation: int


SETTLEMENT_WAIT = timedelta(minutes=2)   # longest a settlement waits for the exit in flight


class PositionActor(PositionRebalance, QuietBandMixin, ArbeesActor):
    """One open position (see the module docstring).

    Receives: QuoteUpdated (pushed, or its GetQuote answers), ModelProbabilityUpdated,
    CircuitBreakerTripped, MarketSettled, ExitStarted, ExitFill, ExitEnded, CooldownOver,
    RebalanceOffer, RebalanceExit, ManualExitRequested (the operator), and its own timer Wake.

    Sends: Subscribe, Unsubscribe and GetQuote to the PriceCache; ExitTriggered to the
    ExitRouter; PositionClosed to the router, the EntryManager and the Supervisor;
    ExposureReleased, RebalanceEdge and RebalanceEnded to the EntryManager; PnlRealized and
    PositionMarked to the RiskManager; SavePosition and RecordExitEvent to the Store; CancelExitFor
    to the ExitRouter (its market settled while an exit was in flight: no walk into it);
    BandChanged and ReleaseBand to the PriceCache (its quiet band, actors/position_band.py).

    Asks: nothing (it is asked, through its proxy, for `state` and `refs` by a restarted
    Supervisor).
    """

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
        self._exit_priority: Priority | None = None    # of our exit in flight (ExitStarted)
        self._init_bands(rt, state)

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

    def _handle(self, message: Any) -> None:
        match message:
            case MarksNeeded():
                self._marks_needed = True
                self._floor_pnl = None                  # exact from now on: the answer the RiskManager waits for
                self._report_mark(force=True)
            case Wake(generation=g):
                if g == self._gen:
                    self._on_wake()
            case QuoteUpdated(quote=q):
                self._on_quote(q, from_wake=bool(message.request_id))
            case ExitFill():
                self._on_fill(message)
            case ExitStarted(priority=p):
                self._exit_priority = p
                if self.state.status is PositionStatus.OPEN:
                    self.state = self.state.replace(status=PositionStatus.EXITING)
                    self._save()
            case ExitEnded():
                if message.outcome is ExitOutcome.GAVE_UP:
                    self._cooling.add(message.condition)
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
            case CooldownOver(condition=c):
                self._cooling.discard(c)
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
        if self.streamed and self._exit_priority is Priority.CRITICAL and self.state.status is PositionStatus.EXITING:
            # Nothing preempts a CRITICAL exit and every changed quote still reaches us: no wake-up until
            # it ends (_on_exit_ended evaluates, reschedules). Polled positions read quotes at their wake-ups.
            self._next_wake = None
            return
        now = self.rt.clock.now()
        recent = self._last_eval is not None and now - self._last_eval < self._interval()
        if recent and not self._close_window_opened(now):
            self._schedule(self._next_wake_after(self._last_eval + self._interval(), now))
            return
        self._schedule(self._next_wake_after(now + self._interval(), now))
        # Streamed quotes: the cache answers from the last pushed quote (no venue read), so a
        # market whose quotes never change is still evaluated at the cadence (a banded position
        # sleeps through the ticks no clock rule can use: time bands, actors/position_band.py).
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
            since = breach_since(self.context.liquidity_breach_since, self.quote, self.state.side, self.config.liquidity, now)
            if since != self.context.liquidity_breach_since:
                self.context = dataclasses.replace(self.context, liquidity_breach_since=since)
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
                self.book_changes))
        if matters_for_restart(before, self.state) or (persist and mark_moved(self._saved, self.state)):
            self._save()
        wanted = self._next_wake_after(self._last_eval + self._interval(), now)
        if self._next_wake is None or wanted < self._next_wake or self._next_wake < now:
            self._schedule(wanted)
        if self._bands_on:
            self._update_band(triggers, now)
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
                self.key, "", t.condition, t.priority.name, t.contracts, ExitStatus.TRIGGERED, now,
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
        before = self.state
        self.state = apply_exit_fill(before, fill.contracts, fill.price, fill.fee, reason=fill.condition,
                                     priority=fill.priority.name, stage=fill.stage)
        n = before.contracts - self.state.contracts
        if n <= 0:
            return
        pnl = self.state.realized_pnl - before.realized_pnl
        self.sold += n
        self.send(self.refs.entry_manager, ExposureReleased(self.key, self.state.ticker, self.state.game_id,
                                                            self.state.entry_price * n))
        self.send(self.refs.risk_manager, PnlRealized(pnl, fill.fill_id))
        self._report_mark()
        if self.state.contracts == 0:
            self._close(fill.condition, fill.priority.name)
        else:
            self._save()

    def _on_exit_ended(self, ended: ExitEnded) -> None:
        self._exit_priority = None
        if self.state.status is PositionStatus.CLOSED:
            return
        if ended.stage is not None and ended.filled > 0:
            self.state = self.state.replace(partial_stages_done=max(self.state.partial_stages_done, ended.stage + 1))
        if self.state.status is PositionStatus.EXITING:
            self.state = self.state.replace(status=PositionStatus.OPEN)
        self._save()
        if self._rebalance_for is not None and ended.condition == "rebalance":
            self.send(self.refs.entry_manager, RebalanceEnded(self.key, ended.filled))
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
            # The exit is stopped now: a resting order is canceled, nothing more is sent into a
            # settled market (no walk at its timeout, no escalation).
            if self._settlement is None:
                self.send(self.refs.exit_router, CancelExitFor(self.key))   # no walk into a settled market
            self._settlement = msg
            self.rt.scheduler.call_later(SETTLEMENT_WAIT, self.actor_ref, msg)
            return
        self._settlement = None
        before = self.state
        n = before.contracts
        self.state = apply_settlement(before, msg.result)
        payout = self.state.current_price
        pnl = self.state.realized_pnl - before.realized_pnl
        self.sold += n
        self.rt.audit.emit(ae.PositionSettled(position_id=self.key, market=self.state.ticker, result=msg.result,
                                              contracts=n, payout=payout, realized_pnl=pnl, side=self.state.side))
        self.send(self.refs.store, RecordExitEvent(self.key, f"{self.key}-settle", "settlement", "", n,
                                                   ExitStatus.FILLED, msg.ts,
                                                   price=payout, detail=f"settled {msg.result.value}"))
        self.send(self.refs.entry_manager, ExposureReleased(self.key, self.state.ticker, self.state.game_id,
                                                            self.state.entry_price * n))
        self.send(self.refs.risk_manager, PnlRealized(pnl, f"{self.key}-settle"))
        self._report_mark()
        self._close("settlement", None)

    def _close(self, reason: str, priority: str | None) -> None:
        self.state = close_position(self.state, self.rt.clock.now(), reason, priority)
        self._save()
        if self._timer is not None:
            self._timer.cancel()
        s = self.state
        self.rt.audit.emit(ae.PositionClosed(position_id=self.key, market=s.ticker, side=s.side, reason=reason,
                                             priority=priority, realized_pnl=s.realized_pnl, exit_fees=s.exit_fees,
                                             entry_fees=s.entry_fees))
        closed = PositionClosed(self.key, s.ticker, s.side, reason)
        for ref in (self.refs.exit_router, self.refs.entry_manager, self.refs.supervisor):
            self.send(ref, closed)
        self.send(self.refs.price_cache, Unsubscribe(s.ticker, self.key))
        self.actor_ref.stop(block=False)

    def _save(self) -> None:
        self._saved = self.state
        self.send(self.refs.store, SavePosition(self.state))
