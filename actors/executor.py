"""ExecutorActor: carries out one exit, from first order to filled, preempted or given up.

DESIGN.md §3 by priority: CRITICAL immediate_market (marketable IOC, re-sent every timeout),
HIGH walk_then_market (aggressive limit, 2 walks, then marketable), MEDIUM walk_price (fair
limit, up to 5 walks, then give up), LOW walk_slowly (conservative limit, up to 10 walks).

Safety rules it keeps:
- One live order at a time: a new order goes out only after the previous one is confirmed
  canceled or executed (a cancel answered 404 is followed by a look-up, never by a re-send).
- Never more than held: every order is sized from target - filled so far.
- Every order's client_order_id ({exit_id}-{attempt}) is written down (RecordOrderPending)
  before it is sent; a create that fails ambiguously is looked up by that id before anything
  is sent again, and a re-send reuses it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from actors.base import ArbeesActor
from actors.wiring import Refs
from models.venue import OrderNotFound, OrderRejected
from config.schema import Config
from models import audit_events as ae
from models.durations import seconds
from models.execution import (
    NoMarket,
    PricedOrder,
    initial_exit_price,
    marketable_price,
    walked_price,
)
from models.ledger import FillTotals, after, fill_id, new_fill
from models.market import Quote, Side
from models.messages import (
    CallKind,
    CancelExit,
    ExitEnded,
    ExitFill,
    ForwardToPosition,
    GetQuote,
    LedgerTotals,
    OrderTimedOut,
    Preempt,
    QuoteUpdated,
    RecordExitAttempt,
    RecordExitEvent,
    RecordFill,
    RecordOrderPending,
    RecordOrderRejected,
    RecordOrderUpdate,
    VenueCall,
    VenueResult,
)
from models.money import ZERO, plural, q6
from models.orders import (
    Action,
    Fill,
    OrderRequest,
    OrderSnapshot,
    OrderStatus,
    TimeInForce,
)
from models.priorities import Priority
from models.retry import lookup_delay_secs

MAX_LOOKUPS = 5


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


class ExecutorActor(ArbeesActor):
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
        self.phase = "start"
        self.next_kind = "initial"      # initial | walk | marketable
        self.stop_reason: str | None = None
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

    @property
    def remaining(self) -> int:
        return self.o.contracts - self.filled

    def on_start(self) -> None:
        if self._recover:
            self._next_probe()
        else:
            self._need_quote()

    # recovery after a crash: find this exit's earlier orders before sending anything -------
    def _next_probe(self) -> None:
        self.phase = "recovering"
        self._probe += 1
        self._call("find_order", (f"{self.o.exit_id}-{self._probe}",))

    def _on_probe(self, r: VenueResult) -> None:
        snap: OrderSnapshot | None = r.value if r.ok else None
        if not r.ok:
            self._lookups += 1
            self._probe -= 1
            self.phase = "recovering-wait"
            self._arm_timeout(self._backoff())
            return
        if snap is not None:
            # What the ledger already holds of this order was reported by the crashed executor:
            # count it as sold, but do not report it again (fill ids are cumulative per order).
            try:
                known = self.rt.ask(self.refs.store, LedgerTotals(snap.order_id))
            except Exception:  # noqa: BLE001 - no ledger: the position's ledger check still dedupes
                known = FillTotals()
            self._known = known
            self.filled += min(known.count, self.remaining)
            self.proceeds += known.cost
            self.fees_paid += known.fees
            self.attempt = self._probe
            self.walks = max(0, self._probe - 1)
            self.request = OrderRequest(snap.client_order_id, snap.ticker, snap.side, snap.action, snap.count,
                                        snap.limit_price)
            self.price = snap.limit_price
            self.order_id = snap.order_id
            self._account(snap)
            self._rested = snap.status is OrderStatus.RESTING
            self._probe_last = snap
            self._next_probe()
            return
        # No more earlier orders: carry on from the last one found.
        self._recover = False
        last = self._probe_last
        self.rt.audit.emit(ae.OrderLookup(exit_id=self.o.exit_id, position_id=self.o.position_id, filled=self.filled,
                                          about=ae.LOOKUP_EXIT_RECOVERED, ticker=self.o.ticker, held=self.o.side,
                                          earlier_orders=self._probe - 1))
        if self.stop_reason is not None:          # preempted while recovering
            if last is not None and not last.is_done:
                self._cancel()
            else:
                self._finish(self.stop_reason)
        elif last is None:
            self._need_quote()
        elif not last.is_done:
            self.phase = "resting"
            self._arm_timeout()
        else:
            self.next_kind = "walk" if self.cfg.max_walks else "marketable"
            self._order_over()

    def handle(self, message: Any) -> None:
        match message:
            case QuoteUpdated(quote=q) if self.phase == "quote":
                self._priced(q)
            case QuoteUpdated():
                pass
            case VenueResult() if self.phase == "recovering":
                self._on_probe(message)
            case VenueResult():
                self._on_result(message)
            case OrderTimedOut(generation=g) if g == self._gen:
                self._on_timeout()
            case OrderTimedOut():
                pass
            case Preempt():
                self._stop_for("preempted")
            case CancelExit():
                self._stop_for("canceled")
            case _:
                self.unknown(message)

    # steps -------------------------------------------------------------------------------
    def _need_quote(self) -> None:
        self.phase = "quote"
        self.send(self.refs.price_cache, GetQuote(self.o.ticker, self.actor_ref, self.o.exit_id))

    def _priced(self, quote: Quote | None) -> None:
        ttl = seconds(self.config.monitoring.price_cache_ttl_secs)
        try:
            if quote is None or not quote.is_fresh(self.rt.clock.now(), ttl):
                raise NoMarket(f"{self.o.ticker}: no fresh quote")
            floor = self.o.min_price
            if self.next_kind == "marketable" or self.cfg.order_type == "marketable":
                priced = marketable_price(quote, self.o.side, floor=floor)
            elif self.next_kind == "walk" and self.price is not None:
                priced = PricedOrder(
                    walked_price(self.price, self.walks, self.config.exit_execution, quote, self.o.side, floor=floor),
                    TimeInForce.GTC)
            else:
                priced = initial_exit_price(self.cfg, quote, self.o.side, floor=floor)
        except NoMarket as exc:
            self._no_market(str(exc))
            return
        self._place(priced.price, priced.time_in_force)

    def _no_market(self, why: str) -> None:
        # Nothing to sell into: count it like an unfilled attempt and wait a timeout.
        self.rt.audit.emit(ae.Alert(said=f"exit {self.o.exit_id}: {why}; waiting", exit_id=self.o.exit_id,
                                    position_id=self.o.position_id, market=self.o.ticker, detail=why))
        if self._advance():
            self.phase = "waiting"
            self._arm_timeout()

    def _place(self, price: Decimal, tif: TimeInForce) -> None:
        self.attempt += 1
        cid = f"{self.o.exit_id}-{self.attempt}"
        self.request = OrderRequest(cid, self.o.ticker, self.o.side, Action.SELL, self.remaining, price, tif)
        self.order_id = None
        self._known = FillTotals()
        self._rested = False
        self._keeping = False
        self._lookups = 0
        action = {"initial": "placed", "walk": "walked", "marketable": "escalated"}[self.next_kind]
        sent = {"placed": ae.OrderPlaced, "walked": ae.OrderWalked, "escalated": ae.OrderEscalated}[action]
        prev = self.price
        self.price = price
        now = self.rt.clock.now()
        if not self._written_down():
            return
        self.send(self.refs.store, RecordExitAttempt(self.o.exit_id, self.o.position_id, self.attempt, cid, action,
                                                     price, self.remaining, now))
        self.rt.audit.emit(sent(position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id,
                                client_order_id=cid, price=price, previous_price=prev, contracts=self.remaining,
                                time_in_force=tif, condition=self.o.condition, priority=self.o.priority.name,
                                walk=self.walks if action == "walked" else None, held=self.o.side))
        self.phase = "placing"
        self._call("place_order", (self.request,))

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
            self._finish("gave_up", f"order {self.request.client_order_id} not sent: {why}")
        return bool(ok)

    def _call(self, method: str, args: tuple) -> None:
        self._req += 1
        self.send(self.refs.rate_limiter, VenueCall(f"{self.o.exit_id}:{self._req}", CallKind.EXIT, method, args,
                                                    self.actor_ref, int(self.o.priority)))

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
            self._rested = self._rested or snap.status is OrderStatus.RESTING
            if snap.is_done:
                self._keeping = False
                if (r.method == "cancel_order" or self.phase == "canceling") and snap.status is OrderStatus.CANCELED:
                    self._audit_canceled(snap)       # (a cancel that found it executed cancels nothing)
                self._order_over()
            elif self.stop_reason is not None:
                self._cancel()
            elif self.phase == "canceling":
                self._cancel()          # a look-up after a failed cancel: still resting, cancel again
            else:
                if self._keeping:
                    self._kept()
                self.phase = "resting"
                self._arm_timeout()
            return
        err = r.error
        if r.method == "place_order":
            if isinstance(err, OrderRejected):
                if self.request is not None:
                    self.send(self.refs.store, RecordOrderRejected(self.request.client_order_id))
                self.rt.audit.emit(ae.OrderRejected(
                    exit_id=self.o.exit_id, position_id=self.o.position_id, market=self.o.ticker,
                    client_order_id=self.request.client_order_id if self.request else None, error=str(err)))
                self._finish("gave_up", f"order rejected: {err}")
                return
            self._lookup_client_id()                 # ambiguous (timeout, 5xx, 409): did it get there?
        elif r.method == "cancel_order":
            if isinstance(err, OrderNotFound):
                self._call("get_order", (self.order_id,))
            else:
                self.phase = "canceling"
                self._arm_timeout(Decimal(1))        # retry the cancel; never re-send before it is confirmed
        elif r.method in ("get_order", "find_order"):
            self._unknown(f"{err}")
            self._arm_timeout(self._backoff())
            self.phase = "lookup"

    def _backoff(self) -> Decimal:
        """1 s, 2 s, 4 s ... up to 60 s between look-ups of an order whose state is unknown."""
        return Decimal(lookup_delay_secs(self._lookups))

    def _unknown(self, why: str) -> None:
        """An order's state cannot be confirmed. The exit never ends while that is so (another exit
        beside a live order could oversell): it keeps looking, and alerts once."""
        self._lookups += 1
        if self._lookups >= MAX_LOOKUPS and not self._alerted_unknown:
            self._alerted_unknown = True
            self.rt.audit.emit(ae.Alert(said=f"ALERT {self.o.ticker} {self.o.side.value}: cannot confirm the state of "
                                             f"exit order {self.request.client_order_id if self.request else '?'} "
                                             f"({why}); holding the exit and looking again with back-off",
                                        exit_id=self.o.exit_id, position_id=self.o.position_id, error=why))

    def _lookup_client_id(self) -> None:
        assert self.request is not None
        self._lookups += 1
        self.phase = "lookup"
        self.rt.audit.emit(ae.OrderLookup(exit_id=self.o.exit_id, position_id=self.o.position_id,
                                          client_order_id=self.request.client_order_id, about=ae.LOOKUP_EXIT))
        self._call("find_order", (self.request.client_order_id,))

    def _resend_same(self) -> None:
        # The venue never got it: send the same request (same client_order_id) again.
        assert self.request is not None
        if self.stop_reason is not None:
            self._finish(self.stop_reason)
            return
        self.phase = "placing"
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
                                                         snap.client_order_id, "filled", price, n, now, snap.order_id))
            self.send(self.refs.store, RecordFill(Fill(
                fid, snap.order_id, snap.client_order_id, self.o.ticker,
                self.o.side, Action.SELL, n, price, fee, now, is_taker=not self._rested)))
            # Through the supervisor: it knows the position's current actor, even after a restart.
            self.send(self.refs.supervisor, ForwardToPosition(self.o.position_id, ExitFill(
                self.o.exit_id, self.o.condition, self.o.priority, n, price, fee, snap.order_id,
                snap.client_order_id, self.o.stage, now, fid)))
        self.send(self.refs.store, RecordOrderUpdate(snap))

    def _audit_canceled(self, snap: OrderSnapshot) -> None:
        self.rt.audit.emit(ae.OrderCanceled(position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id,
                                            order_id=snap.order_id, client_order_id=snap.client_order_id,
                                            filled=snap.filled_count, count=snap.count, held=self.o.side))
        self.send(self.refs.store, RecordExitAttempt(self.o.exit_id, self.o.position_id, self.attempt,
                                                     snap.client_order_id, "canceled", snap.limit_price,
                                                     snap.count - snap.filled_count, self.rt.clock.now(),
                                                     snap.order_id))

    # timeouts and the strategy ladder -----------------------------------------------------
    def _on_timeout(self) -> None:
        if self.phase == "recovering-wait":
            self._next_probe()
        elif self.phase == "resting":
            if self._keep_at_floor():
                return
            self._cancel()
        elif self.phase == "waiting":
            self._need_quote()
        elif self.phase == "canceling":
            self._cancel()
        elif self.phase == "lookup":
            if self.request is not None and self.order_id is None:
                self._lookup_client_id()
            elif self.order_id is not None:
                self._lookups += 1
                self._call("get_order", (self.order_id,))

    def _keep_at_floor(self) -> bool:
        """A profit-taking order resting at its floor: a walk cannot lower it, so instead of
        canceling and sending it again at the same price (its place in the queue lost, two calls
        spent) it is looked up; still resting, the walk is counted and the order kept (what
        filled is learned at each timeout, as a cancel would have told)."""
        floor = self.o.min_price
        if floor is None or self.price is None or self.next_kind == "marketable" or self.order_id is None or \
                self.walks >= self.cfg.max_walks or self.request is None or \
                self.request.time_in_force is not TimeInForce.GTC or self.price > floor:
            return False
        self._keeping = True
        self._call("get_order", (self.order_id,))
        return True

    def _kept(self) -> None:
        """The look-up of `_keep_at_floor` found the order still resting: count the walk."""
        assert self.request is not None
        self._keeping = False
        self.walks += 1
        self.next_kind = "walk"
        self.rt.audit.emit(ae.OrderWalked(
            position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id,
            client_order_id=self.request.client_order_id, price=self.price, previous_price=self.price,
            contracts=self.remaining, time_in_force=TimeInForce.GTC, condition=self.o.condition,
            priority=self.o.priority.name, walk=self.walks, kept=True, held=self.o.side))

    def _cancel(self) -> None:
        if self.order_id is None:
            self._lookup_client_id()
            return
        self.phase = "canceling"
        self._call("cancel_order", (self.order_id,))

    def _order_over(self) -> None:
        """The current order is executed or canceled (confirmed). Decide what comes next."""
        if self.remaining <= 0:
            self._finish("filled")
            return
        if self.stop_reason is not None:
            self._finish(self.stop_reason)
            return
        if not self._advance():
            return
        if self.request is not None and self.request.time_in_force is not TimeInForce.GTC:
            # An IOC that found too little: wait the timeout before sending again.
            self.phase = "waiting"
            self._arm_timeout()
        else:
            self._need_quote()

    def _advance(self) -> bool:
        """Move one rung up the ladder. False when the strategy is exhausted (gave up)."""
        strat = self.cfg.retry_strategy
        if strat == "immediate_market" or self.next_kind == "marketable":
            self.marketable_tries += 1
            if self.marketable_tries >= self.cfg.max_marketable_attempts:
                self._finish("gave_up", f"{plural(self.marketable_tries, 'marketable attempt')} left "
                                        f"{self.remaining} unsold")
                return False
            self.next_kind = "marketable"
            return True
        if self.walks < self.cfg.max_walks:
            self.walks += 1
            self.next_kind = "walk"
            return True
        if strat == "walk_then_market":
            self.next_kind = "marketable"
            return True
        self._finish("gave_up", f"{plural(self.walks, 'walk')} left {self.remaining} unsold")
        return False

    def _stop_for(self, reason: str) -> None:
        if self.phase in ("done",):
            return
        self.stop_reason = reason
        if self.phase == "resting":
            self._cancel()
        elif self.phase in ("quote", "waiting", "start"):
            self._finish(reason)
        # placing / canceling / lookup: finish once the venue has answered

    def _finish(self, outcome: str, detail: str = "") -> None:
        if self.phase == "done":
            return
        self.phase = "done"
        if self._timer is not None:
            self._timer.cancel()
        now = self.rt.clock.now()
        if outcome == "gave_up":
            self.rt.audit.emit(ae.ExitGaveUp(
                position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id, condition=self.o.condition,
                priority=self.o.priority.name, filled=self.filled, remaining=self.remaining, walks=self.walks,
                detail=detail, held=self.o.side))
        else:
            self.rt.audit.emit(ae.ExitCompleted(
                position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id, condition=self.o.condition,
                priority=self.o.priority.name, outcome=outcome, filled=self.filled, remaining=self.remaining,
                walks=self.walks, held=self.o.side, ordered=self.o.contracts))
        avg = q6(self.proceeds / self.filled) if self.filled else None
        self.send(self.refs.store, RecordExitEvent(self.o.position_id, self.o.exit_id, self.o.condition,
                                                   self.o.priority.name, self.filled, outcome, now, price=avg,
                                                   fees=self.fees_paid, detail=detail))
        self.send(self.router, ExitEnded(self.o.position_id, self.o.exit_id, self.o.condition, self.o.priority,
                                         outcome, self.filled, self.remaining, self.o.stage))
        self.actor_ref.stop(block=False)
