"""How the ExecutorActor finds its orders when their state is not known: a fill the venue's stream
reported, confirmed by one look-up at once (issue 13); the look-up (by
client_order_id after an ambiguous create, back-off 1 s to 60 s, an ALERT after MAX_LOOKUPS); an
order whose cancel the venue refuses (looked up with the same back-off, an ALERT after
MAX_REFUSALS); and recovery after a crash (the exit's earlier orders probed before anything is
sent; see ExitRouter._restart_executor).
"""
from __future__ import annotations

from decimal import Decimal

from models import audit_events as ae
from models.exit_ids import exit_order_id
from models.execution import ExitPhase, Rung
from models.ledger import FillTotals
from models.events import VenueResult
from models.store_commands import LedgerTotals
from models.orders import Fill, OrderRequest, OrderSnapshot, OrderStatus
from models.retry import lookup_delay_secs

MAX_LOOKUPS = 5      # look-ups of an order whose state is unknown before an ALERT (it keeps looking)
MAX_REFUSALS = 3     # refused cancels of one order before an ALERT (it keeps looking and asking)


class ExitRecovery:
    """Part of the ExecutorActor (mixed into it; it runs on the executor's state): looking orders up,
    and the probe of {exit_id}-1, -2, ... after a crash, carrying on from the last order found."""

    # recovery after a crash: find this exit's earlier orders before sending anything -------
    def _next_probe(self) -> None:
        self.phase = ExitPhase.RECOVERING
        self._probe += 1
        self._call("find_order", (exit_order_id(self.o.exit_id, self._probe),))

    def _on_probe(self, r: VenueResult) -> None:
        snap: OrderSnapshot | None = r.value if r.ok else None
        if not r.ok:
            self._lookups += 1
            self._probe -= 1
            self.phase = ExitPhase.RECOVERING_WAIT
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
            self.phase = ExitPhase.RESTING
            self._arm_timeout()
        else:
            self.next_kind = Rung.WALK if self.cfg.max_walks else Rung.MARKETABLE
            self._order_over()

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

    # a cancel the venue refuses (a 400 "cannot be canceled", a 5xx: anything but "not found") -----
    def _cancel_refused(self, err: Exception) -> None:
        """The order may still rest, or have been executed or canceled meanwhile. It is looked up
        with the look-up back-off (1 s, 2 s, 4 s ... 60 s) and the cancel asked again after every
        second look-up that finds it resting: a venue that keeps refusing costs at most 1.5 calls
        a minute (it once cost 60, every second, and tripped the API-failure breaker), about a
        third of them refused. Nothing else is sent for the exit until the order is confirmed
        canceled or done; a preempting exit waits for that too."""
        self._refusals += 1
        self.phase = ExitPhase.CANCELING
        if self._refusals == MAX_REFUSALS:
            cid = self.request.client_order_id if self.request else None
            self.rt.audit.emit(ae.Alert(
                said=f"ALERT {self.o.ticker} {self.o.side.value}: the venue refused {self._refusals} times to cancel "
                     f"exit order {self.order_id} ({cid}, {self.o.condition}): {err}; it may still fill; looking it "
                     "up every minute at most and asking again; nothing else is sent for this position until it "
                     "is canceled or done",
                exit_id=self.o.exit_id, position_id=self.o.position_id, market=self.o.ticker, client_order_id=cid,
                method="cancel_order", failed_tries=self._refusals, detail=f"venue order {self.order_id}",
                error=f"{type(err).__name__}: {err}"))
        self._arm_timeout(Decimal(lookup_delay_secs(self._looks)))

    def _look_after_refusal(self) -> None:
        self._looks += 1
        self._call("get_order", (self.order_id,))

    def _still_resting(self) -> None:
        """A look-up after a refused cancel found the order resting: ask for the cancel again
        every second look-up, else look again after the back-off."""
        if self._looks % 2 == 0:
            self._cancel()
        else:
            self._arm_timeout(Decimal(lookup_delay_secs(self._looks)))

    def _lookup_client_id(self) -> None:
        assert self.request is not None
        self._lookups += 1
        self.phase = ExitPhase.LOOKUP
        self.rt.audit.emit(ae.OrderLookup(exit_id=self.o.exit_id, position_id=self.o.position_id,
                                          client_order_id=self.request.client_order_id, about=ae.LOOKUP_EXIT))
        self._call("find_order", (self.request.client_order_id,))

    # a fill the venue's stream reported: confirmed by a look-up at once -------------------------
    def _on_streamed_fill(self, fill: Fill) -> None:
        """The venue's stream says our order filled (issue 13). Counted only from the venue's own
        view of the order (a REST look-up, at once, rather than at the order's timeout), so a fill
        is never counted twice; one arriving before the create's answer waits for that answer."""
        if self.request is None or fill.client_order_id != self.request.client_order_id \
                or self.phase == ExitPhase.DONE or fill.fill_id in self._stream_ids:
            return
        self._stream_ids.add(fill.fill_id)
        self._on_stream += fill.count
        waiting = self.phase == ExitPhase.RESTING or (self.phase == ExitPhase.CANCELING and self._refusals)
        if waiting and self.order_id is not None and not self._confirming:
            self._confirm()             # (while a cancel is refused too: the next look-up may be a minute away)

    def _confirm(self) -> None:
        self._confirming = True
        self._call("get_order", (self.order_id,))
