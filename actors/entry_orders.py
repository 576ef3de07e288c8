"""The EntryManager's entry orders once sent: the venue's answers (filled, nothing, rejected,
unknown and looked up with back-off), the position a fill opens, and the entries an earlier process
left unconfirmed (held reserved and looked up until the venue answers).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from models import audit_events as ae
from models.venue import OrderRejected
from models.ledger import fill_id
from models.commands import CallKind, HoldUnconfirmedEntry, StartPosition, VenueCall
from models.events import VenueResult
from models.store_commands import (
    RecordFill,
    RecordOrderNeverSent,
    RecordOrderRejected,
    RecordOrderUpdate,
    SavePosition,
)
from models.money import ZERO, q6
from models.orders import Action, Fill, OrderRequest, OrderSnapshot
from models.position import PositionState
from models.rebalance import Holding
from models.retry import lookup_delay_secs
from models.signal import TradingSignal


LOOKUPS_BEFORE_ALERT = 5


@dataclass(frozen=True, slots=True)
class LookUpEntryAgain:
    """EntryManager timer: look up an entry whose state is still unknown."""
    signal_id: str


@dataclass
class _Pending:
    signal: TradingSignal
    request: OrderRequest | None = None
    reserved: Decimal = ZERO
    lookups: int = 0
    resumed: bool = False        # held since start-up: reconciliation could not confirm it
    alerted: bool = False
    rebalanced: bool = False      # a second try with capital a rebalance freed: never rebalances again
    bid: Decimal | None = None    # our side's bid when the entry was priced: the stop's basis


class EntryOrders:
    """Part of the EntryManager (mixed into it; it runs on its state): an entry order from the
    venue's answer to its position, and entries held unconfirmed."""

    def _on_result(self, r: VenueResult) -> None:
        p = self._pending.get(r.request_id)
        if p is None or p.request is None:
            if self._rebuilt and r.method in ("place_order", "find_order", "get_order") and r.ok and r.value:
                self.rt.audit.emit(ae.Alert(said=f"ALERT entry answer for {r.request_id} reached a restarted entry "
                                                 "manager that did not send it; its market stays blocked until "
                                                 "reconciliation", signal_id=r.request_id, method=r.method))
            return
        sig, req = p.signal, p.request
        if not r.ok:
            if isinstance(r.error, OrderRejected):
                self.send(self.refs.store, RecordOrderRejected(req.client_order_id))
            if not isinstance(r.error, OrderRejected) and p.lookups >= LOOKUPS_BEFORE_ALERT:
                # The entry's state is unknown: it may have filled. Keep the market+side blocked
                # (and the reservation) and keep looking, with back-off, until the venue answers;
                # never re-enter blind.
                if not p.alerted:
                    p.alerted = True
                    self.rt.audit.emit(ae.Alert(
                        said=f"ALERT entry {req.client_order_id}: state unknown after {p.lookups} look-ups "
                             f"({r.error}); {sig.ticker} {sig.side.value} stays blocked and its cost counted until "
                             "the venue answers",
                        signal_id=sig.signal_id, market=sig.ticker, client_order_id=req.client_order_id,
                        error=str(r.error)))
                p.lookups += 1
                delay = timedelta(seconds=lookup_delay_secs(p.lookups))
                self.rt.scheduler.call_later(delay, self.me, LookUpEntryAgain(sig.signal_id))
                return
            if isinstance(r.error, OrderRejected):
                self.rt.audit.emit(ae.OrderRejected(signal_id=sig.signal_id, market=sig.ticker,
                                                    client_order_id=req.client_order_id, error=str(r.error)))
                self._release(sig)
                self._reject(sig, f"the venue rejected the entry order: {r.error}")
                return
            p.lookups += 1   # ambiguous: look it up by client_order_id before anything else
            self.rt.audit.emit(ae.OrderLookup(client_order_id=req.client_order_id, market=sig.ticker,
                                              about=ae.LOOKUP_ENTRY, error=str(r.error)))
            self._look_up(sig.signal_id)
            return
        snap: OrderSnapshot | None = r.value
        if snap is None and p.resumed:
            # An earlier process's entry that never reached the venue: it is not sent now (its
            # price and moment are gone); the key and the reservation are released.
            self.send(self.refs.store, RecordOrderNeverSent(req.client_order_id))
            self.rt.audit.emit(ae.EntryNotFilled(signal_id=sig.signal_id, market=sig.ticker,
                                                 client_order_id=req.client_order_id))
            self._release(sig)
            self._reject(sig, f"its entry {req.client_order_id} never reached the venue before the last process "
                              "stopped; not sent again (its price and moment are gone)")
            return
        if snap is None:   # the venue never got it: send the same request again
            self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "place_order", (req,),
                                                        self.me))
            return
        if not snap.is_done:
            # An IOC never rests; if a venue says so, look again shortly via the same path.
            self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "get_order",
                                                        (snap.order_id,), self.me))
            return
        self.send(self.refs.store, RecordOrderUpdate(snap))
        if snap.filled_count <= 0:
            self.rt.audit.emit(ae.EntryNotFilled(signal_id=sig.signal_id, market=sig.ticker,
                                                 client_order_id=req.client_order_id, order_id=snap.order_id,
                                                 limit_price=req.limit_price))
            self._release(sig)
            self._reject(sig, f"the entry found nothing to buy at {req.limit_price} (immediate_or_cancel)")
            return
        self._opened(p, snap)

    def _opened(self, p: _Pending, snap: OrderSnapshot) -> None:
        sig = p.signal
        price = q6(snap.avg_fill_price or snap.limit_price)
        pid = f"pos-{sig.signal_id}"
        cost = price * snap.filled_count
        self._book.add(sig.ticker, sig.game_id, cost - p.reserved)
        self._pending.pop(sig.signal_id, None)
        self._keys[(sig.ticker, sig.side.value)] = pid
        self._holdings[pid] = Holding(pid, sig.ticker, sig.game_id, cost)
        state = PositionState(
            position_id=pid, ticker=sig.ticker, side=sig.side, signal_type=sig.signal_type, sport=sig.sport,
            game_id=sig.game_id, entry_price=price, initial_contracts=snap.filled_count,
            contracts=snap.filled_count, entry_fees=snap.fees, opened_at=self.rt.clock.now(),
            model_probability=sig.win_probability, model_probability_ts=sig.ts, stop_basis=p.bid)
        self.rt.audit.emit(ae.TradeExecuted(
            trade_id=snap.order_id, position_id=pid, order_id=snap.order_id, client_order_id=snap.client_order_id,
            status=snap.status, entry_price=price, contracts=snap.filled_count, cost=cost, fees=snap.fees,
            stop_basis=p.bid,
            platform=sig.platform, market=sig.ticker, side=sig.side, signal_id=sig.signal_id, game_id=sig.game_id,
            fill_id=fill_id(snap.order_id, snap.filled_count)))
        self.send(self.refs.store, RecordFill(Fill(
            fill_id(snap.order_id, snap.filled_count), snap.order_id, snap.client_order_id, sig.ticker, sig.side,
            Action.BUY, snap.filled_count, price, snap.fees, self.rt.clock.now())))
        self.send(self.refs.store, SavePosition(state))
        self.send(self.refs.supervisor, StartPosition(state))

    def _look_up(self, signal_id: str) -> None:
        p = self._pending.get(signal_id)
        if p is None or p.request is None:
            return
        self.send(self.refs.rate_limiter, VenueCall(signal_id, CallKind.ENTRY, "find_order",
                                                    (p.request.client_order_id,), self.me))

    def _hold_unconfirmed(self, msg: HoldUnconfirmedEntry) -> None:
        """An earlier process's entry that start-up reconciliation could not confirm: it may have
        filled. Its market+side stays reserved and its most possible cost counted in the caps
        until the venue answers a look-up; then it becomes its position or is released."""
        req, sig = msg.request, msg.signal
        cost = req.limit_price * req.count
        if sig is None:
            # Its signal is not in the database: nothing could become a position from it here.
            # Hold the key and the cost for this process's life; the next start reconciles it.
            self._keys[(req.ticker, req.side.value)] = req.client_order_id
            self._book.add(req.ticker, None, cost)
            return
        self._seen.add(sig.signal_id)
        self._keys[(sig.ticker, sig.side.value)] = sig.signal_id
        self._pending[sig.signal_id] = _Pending(sig, request=req, reserved=cost, resumed=True)
        self._book.add(sig.ticker, sig.game_id, cost)
        self.rt.audit.emit(ae.OrderLookup(signal_id=sig.signal_id, client_order_id=req.client_order_id,
                                          market=sig.ticker, about=ae.LOOKUP_ENTRY_AT_START, held=sig.side))
        self._look_up(sig.signal_id)

