"""ExecutorActor: carries out one exit, from first order to filled, preempted or given up.

DESIGN.md §3 by priority: CRITICAL immediate_market (marketable IOC, re-sent every timeout),
HIGH walk_then_market (aggressive limit, 2 walks, then marketable), MEDIUM walk_price (fair
limit, up to 5 walks, then give up), LOW walk_slowly (conservative limit, up to 10 walks).

Safety rules it keeps:
- One live order at a time: a new order goes out only after the previous one is confirmed
  canceled or executed (a cancel answered 404 is followed by a look-up, never by a re-send; a
  refused one by look-ups with back-off, executor_recovery.py).
- Never more than held: every order is sized from target - filled so far.
- After an IOC that found too little, the next price comes from a book newer than its answer.
- Every order's client_order_id ({exit_id}-{attempt}) is written down (RecordOrderPending)
  before it is sent; a create that fails ambiguously is looked up by that id before anything
  is sent again, and a re-send reuses it.

Which price each order gets is models/execution.py (the exit prices and the retry ladder).
Look-ups and its recovery after a crash are in actors/executor_recovery.py, what it reports of
cancels and its end in actors/executor_reports.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from actors.base import ArbeesActor
from actors.executor_calls import WaitingCalls
from actors.executor_recovery import ExitRecovery
from actors.executor_reports import ExitReports
from actors.wiring import Refs
from config.schema import Config
from models import audit_events as ae
from models.commands import CallKind, CancelExit, ForwardToPosition, GetQuote, Preempt, VenueCall
from models.durations import seconds
from models.events import CallWithdrawn, ExitFill, ExitOutcome, FillStreamed, QuoteUpdated, VenueResult
from models.execution import ExitPhase, Ladder, NoMarket, Rung, climb, exit_price
from models.exit_ids import exit_order_id
from models.ledger import FillTotals, after, fill_id, new_fill
from models.market import Quote, Side
from models.money import ZERO
from models.orders import Action, Fill, OrderRequest, OrderSnapshot, OrderStatus, TimeInForce
from models.priorities import Priority
from models.records import AttemptAction
from models.store_commands import (
    RecordExitAttempt,
    RecordFill,
    RecordOrderPending,
    RecordOrderRejected,
    RecordOrderUpdate,
)
from models.venue import OrderNotFound, OrderRejected


@dataclass(frozen=True, slots=True)
class OrderTimedOut:
    """An executor's order has rested for its timeout."""
    generation: int


@dataclass(frozen=True, slots=True)
class ExitOrder:
    exit_id: str
    position_id: str
    ticker: str
    side: Side
    condition: str
    priority: Priority
    contracts: int
    stage: int | None = None
    min_price: Decimal | None = None     # a profit-taking exit never offers below this (ExitTrigger.min_price)
    gave_up_before: int = 0              # exits of this position and condition that gave up just before it


class ExecutorActor(ExitRecovery, ExitReports, WaitingCalls, ArbeesActor):
    """Carries out one exit (see the module docstring).

    Receives: QuoteUpdated (its GetQuote answers), VenueResult and CallWithdrawn (its orders), Preempt and
    CancelExit from the ExitRouter, FillStreamed (a fill of its order the venue's stream reported,
    via the ExitRouter; confirmed by a look-up at once), and its own timer OrderTimedOut.

    Sends: GetQuote to the PriceCache; VenueCall (CallKind.EXIT), WithdrawCall and ExpediteCall
    (actors/executor_calls.py) to the RateLimiter; RecordOrderNeverSent,
    RecordExitAttempt, RecordExitEvent, RecordFill, RecordOrderUpdate and RecordOrderRejected to
    the Store; ExitFill to its position through the Supervisor (ForwardToPosition); ExitEnded
    (an ExitOutcome) to the router.

    Asks: the Store RecordOrderPending (written down before it is sent) and LedgerTotals (after
    a crash, what the ledger holds of an earlier order), within ask_timeout_s (10 s).
    """

    kind = "executor"

    def __init__(self, rt, config: Config, refs: Refs, order: ExitOrder, router, *, recover: bool = False) -> None:
        super().__init__(rt, order.exit_id, refs.supervisor)
        self.config = config
        self.refs = refs
        self.o = order
        self.router = router
        self.cfg = config.exit_execution.for_priority(order.priority.name)
        self.filled = 0
        self.proceeds = ZERO
        self.fees_paid = ZERO
        self.attempt = 0
        self.walks = 0
        self.marketable_tries = 0
        self.phase = ExitPhase.START
        self.next_kind = Rung.INITIAL   # the ladder's next rung (models/execution.py)
        self.stop_reason: ExitOutcome | None = None
        self.request: OrderRequest | None = None
        self.order_id: str | None = None
        self.price: Decimal | None = None
        self._known = FillTotals()       # what the current order is known to have filled
        self._rested = False             # the venue has shown the current order resting: later fills are a maker's
        self._keeping = False            # a look-up of an order kept at its floor is on its way
        self._gen = 0
        self._timer = None
        self._lookups = 0
        self._req = 0
        self._recover = recover
        self._alerted_unknown = False
        self._probe = 0
        self._probe_last: OrderSnapshot | None = None
        self._on_stream = 0              # contracts the venue's stream reported filled on the current order
        self._confirming = False         # a look-up a streamed fill asked for is on its way
        self._stream_ids: set[str] = set()
        self._refusals = self._looks = 0  # the current order's refused cancels; its look-ups since the first
        self._alerted_no_bid = False
        self._missed_at = None           # when an IOC found too little: the next quote must be newer
        self._waiting: dict[str, str] = {}   # request_id -> method of its calls not answered yet
        self._urgency = order.priority       # its calls' priority: a preempting exit's once preempted
        self._resent = False                 # the current order's create was sent again (never withdrawn)

    @property
    def remaining(self) -> int:
        return self.o.contracts - self.filled

    def on_start(self) -> None:
        if self._recover:
            self._next_probe()
        else:
            self._need_quote()

    def handle(self, message: Any) -> None:
        if isinstance(message, (VenueResult, CallWithdrawn)):
            self._waiting.pop(message.request_id, None)
        match message:
            case QuoteUpdated(quote=q) if self.phase is ExitPhase.QUOTE:
                self._priced(q)
            case QuoteUpdated():
                pass
            case VenueResult() if self.phase is ExitPhase.RECOVERING:
                self._on_probe(message)
            case VenueResult():
                self._on_result(message)
            case OrderTimedOut(generation=g) if g == self._gen:
                self._on_timeout()
            case OrderTimedOut():
                pass
            case Preempt(priority=by):
                self._stop_for(ExitOutcome.PREEMPTED, Priority(by))
            case CallWithdrawn():
                self._withdrawn(message)
            case CancelExit():
                self._stop_for(ExitOutcome.CANCELED)
            case FillStreamed(fill=fill):
                self._on_streamed_fill(fill)
            case _:
                self.unknown(message)

    # steps -------------------------------------------------------------------------------
    def _need_quote(self) -> None:
        self.phase = ExitPhase.QUOTE
        self.send(self.refs.price_cache, GetQuote(self.o.ticker, self.actor_ref, self.o.exit_id, self._missed_at,
                                                  int(self._urgency)))

    def _priced(self, quote: Quote | None) -> None:
        ttl = seconds(self.config.monitoring.price_cache_ttl_secs)
        try:
            if quote is None or not quote.is_fresh(self.rt.clock.now(), ttl):
                raise NoMarket(f"{self.o.ticker}: no fresh quote")
            priced = exit_price(self.cfg, self.config.exit_execution, self._ladder(), quote, self.o.side, self.price,
                                floor=self.o.min_price)
        except NoMarket as exc:
            self._no_market(str(exc))
            return
        self._place(priced.price, priced.time_in_force, quote)

    def _place(self, price: Decimal, tif: TimeInForce, quote: Quote) -> None:
        self.attempt += 1
        cid = exit_order_id(self.o.exit_id, self.attempt)
        self.request = OrderRequest(cid, self.o.ticker, self.o.side, Action.SELL, self.remaining, price, tif)
        self.order_id = None
        self._known = FillTotals()
        self._rested = False
        self._keeping = False
        self._lookups = 0
        self._on_stream = 0
        self._confirming = False
        self._refusals = self._looks = 0
        self._resent = False
        action = {Rung.INITIAL: AttemptAction.PLACED, Rung.WALK: AttemptAction.WALKED,
                  Rung.MARKETABLE: AttemptAction.ESCALATED}[self.next_kind]
        sent = {AttemptAction.PLACED: ae.OrderPlaced, AttemptAction.WALKED: ae.OrderWalked,
                AttemptAction.ESCALATED: ae.OrderEscalated}[action]
        prev = self.price
        self.price = price
        now = self.rt.clock.now()
        if not self._written_down():
            return
        self.rt.audit.emit(sent(position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id,
                                client_order_id=cid, price=price, previous_price=prev, contracts=self.remaining,
                                time_in_force=tif, condition=self.o.condition, priority=self.o.priority.name,
                                walk=self.walks if action is AttemptAction.WALKED else None,
                                bid=quote.bid(self.o.side), ask=quote.ask(self.o.side), held=self.o.side))
        self.phase = ExitPhase.PLACING
        self._call("place_order", (self.request,))
        # The attempt's row goes after the call (the order itself is already on disk: only that
        # durable write-down stands between a trigger and the venue). The Store still gets it
        # before anything this executor writes about the call's result.
        self.send(self.refs.store, RecordExitAttempt(self.o.exit_id, self.o.position_id, self.attempt, cid, action,
                                                     price, self.remaining, now))

    def _written_down(self) -> bool:
        """Write the order down (durably) before it is sent; if that fails, do not send it."""
        assert self.request is not None
        try:
            ok = self.rt.ask(self.refs.store, RecordOrderPending(self.request, self.o.position_id, self.o.exit_id))
        except Exception as exc:  # noqa: BLE001 - a Timeout or a dead store
            ok, why = False, type(exc).__name__
        else:
            why = "database write failed"
        if not ok:
            self._finish(ExitOutcome.GAVE_UP, f"order {self.request.client_order_id} not sent: {why}")
        return bool(ok)

    def _call(self, method: str, args: tuple) -> None:
        self._req += 1
        rid = f"{self.o.exit_id}:{self._req}"
        self._waiting[rid] = method
        self.send(self.refs.rate_limiter, VenueCall(rid, CallKind.EXIT, method, args, self.actor_ref,
                                                    int(self._urgency)))

    def _arm_timeout(self, secs: Decimal | None = None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._gen += 1
        delay = seconds(secs if secs is not None else self.cfg.timeout_secs)
        self._timer = self.rt.scheduler.call_later(delay, self.actor_ref, OrderTimedOut(self._gen))

    # venue answers -----------------------------------------------------------------------
    def _on_result(self, r: VenueResult) -> None:
        if r.ok:
            snap: OrderSnapshot | None = r.value
            if r.method == "find_order" and snap is None:
                self._resend_same()
                return
            if snap is None:
                return
            self._account(snap)
            self.order_id = snap.order_id
            confirming = self._confirming and r.method == "get_order" and not self._keeping
            if confirming:
                self._confirming = False
            self._rested = self._rested or snap.status is OrderStatus.RESTING
            if snap.is_done:
                self._keeping = False
                if (r.method == "cancel_order" or self.phase is ExitPhase.CANCELING) and snap.status is OrderStatus.CANCELED:
                    self._audit_canceled(snap)       # (a cancel that found it executed cancels nothing)
                self._order_over()
            elif confirming and self.phase in (ExitPhase.RESTING, ExitPhase.CANCELING):
                return                  # a streamed fill's look-up: the timeout (or the cancel) runs on
            elif self.phase is ExitPhase.CANCELING and self._refusals:
                self._still_resting()           # a look-up after a refused cancel (executor_recovery.py)
            elif self.stop_reason is not None:
                self._cancel()
            elif self.phase is ExitPhase.CANCELING:
                self._cancel()          # a look-up after a failed cancel: still resting, cancel again
            else:
                if self._keeping:
                    self._kept()
                self.phase = ExitPhase.RESTING
                self._arm_timeout()
                if self._on_stream > self._known.count:
                    self._confirm()                     # the stream saw a fill this answer did not
            return
        err = r.error
        if r.method == "place_order":
            if isinstance(err, OrderRejected):
                if self.request is not None:
                    self.send(self.refs.store, RecordOrderRejected(self.request.client_order_id))
                self.rt.audit.emit(ae.OrderRejected(
                    exit_id=self.o.exit_id, position_id=self.o.position_id, market=self.o.ticker,
                    client_order_id=self.request.client_order_id if self.request else None, error=str(err)))
                self._finish(ExitOutcome.GAVE_UP, f"order rejected: {err}")
                return
            self._lookup_client_id()                 # ambiguous (timeout, 5xx, 409): did it get there?
        elif r.method == "cancel_order":
            if isinstance(err, OrderNotFound):
                self._call("get_order", (self.order_id,))
            else:
                self._cancel_refused(err)            # look it up with back-off; never re-send before it is confirmed
        elif r.method in ("get_order", "find_order"):
            self._unknown(f"{err}")
            self._arm_timeout(self._backoff())
            self.phase = ExitPhase.LOOKUP

    def _resend_same(self) -> None:
        # The venue never got it: send the same request (same client_order_id) again.
        assert self.request is not None
        if self.stop_reason is not None:
            self._finish(self.stop_reason)
            return
        self.phase = ExitPhase.PLACING
        self._resent = True       # never withdrawn: the first create may still land (executor_calls.py)
        self._call("place_order", (self.request,))

    def _account(self, snap: OrderSnapshot) -> None:
        n, price, fee = new_fill(self._known, snap)
        if n > 0:
            self._known = after(snap)
            n = min(n, self.remaining)
            self.filled += n
            self.proceeds += price * n
            self.fees_paid += fee
            now = self.rt.clock.now()
            fid = fill_id(snap.order_id, snap.filled_count)
            self.rt.audit.emit(ae.OrderFilled(
                position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id, order_id=snap.order_id,
                client_order_id=snap.client_order_id, contracts=n, price=price, fee=fee, condition=self.o.condition,
                priority=self.o.priority.name, fill_id=fid, filled_total=snap.filled_count, held=self.o.side))
            self.send(self.refs.store, RecordExitAttempt(self.o.exit_id, self.o.position_id, self.attempt,
                                                         snap.client_order_id, AttemptAction.FILLED, price, n, now,
                                                         snap.order_id))
            self.send(self.refs.store, RecordFill(Fill(
                fid, snap.order_id, snap.client_order_id, self.o.ticker,
                self.o.side, Action.SELL, n, price, fee, now, is_taker=not self._rested)))
            # Through the supervisor: it knows the position's current actor, even after a restart.
            self.send(self.refs.supervisor, ForwardToPosition(self.o.position_id, ExitFill(
                self.o.exit_id, self.o.condition, self.o.priority, n, price, fee, snap.order_id,
                snap.client_order_id, self.o.stage, now, fid)))
        self.send(self.refs.store, RecordOrderUpdate(snap))

    # timeouts and the strategy ladder -----------------------------------------------------
    def _on_timeout(self) -> None:
        if self.phase is ExitPhase.RECOVERING_WAIT:
            self._next_probe()
        elif self.phase is ExitPhase.RESTING:
            if self._keep_at_floor():
                return
            self._cancel()
        elif self.phase is ExitPhase.WAITING:
            self._need_quote()
        elif self.phase is ExitPhase.CANCELING:
            self._look_after_refusal()
        elif self.phase is ExitPhase.LOOKUP:
            if self.request is not None and self.order_id is None:
                self._lookup_client_id()
            elif self.order_id is not None:
                self._lookups += 1
                self._call("get_order", (self.order_id,))

    def _cancel(self) -> None:
        if self.order_id is None:
            self._lookup_client_id()
            return
        self.phase = ExitPhase.CANCELING
        self._call("cancel_order", (self.order_id,))

    def _order_over(self) -> None:
        """The current order is executed or canceled (confirmed). Decide what comes next."""
        if self.remaining <= 0:
            self._finish(ExitOutcome.FILLED)
            return
        if self.stop_reason is not None:
            self._finish(self.stop_reason)
            return
        if not self._advance():
            return
        if self.request is not None and self.request.time_in_force is not TimeInForce.GTC:
            # An IOC that found too little: wait the timeout, then price from a book newer than its answer.
            self._missed_at = self.rt.clock.now()
            self.phase = ExitPhase.WAITING
            self._arm_timeout()
        else:
            self._need_quote()

    def _ladder(self) -> Ladder:
        return Ladder(self.next_kind, self.walks, self.marketable_tries)

    def _advance(self) -> bool:
        """Move one rung up the ladder (models/execution.py climb). False when it gave up."""
        ladder, gave_up = climb(self.cfg, self._ladder(), self.remaining)
        self.next_kind, self.walks, self.marketable_tries = ladder.next, ladder.walks, ladder.marketable_tries
        if gave_up is not None:
            self._finish(ExitOutcome.GAVE_UP, gave_up)
            return False
        return True
