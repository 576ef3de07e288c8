"""What the ExecutorActor tells about its orders besides fills: cancels, an order kept at its floor,
an exit waiting for a bid, and the exit's end (EXIT_COMPLETED / EXIT_GAVE_UP, ExitEnded).
"""
from __future__ import annotations

from loguru import logger

from models import audit_events as ae
from models.execution import ExitPhase, Rung
from models.events import ExitEnded, ExitOutcome
from models.store_commands import RecordExitAttempt, RecordExitEvent
from models.money import q6
from models.records import AttemptAction
from models.orders import OrderSnapshot, TimeInForce


class ExitReports:
    """Part of the ExecutorActor (mixed into it; it runs on the executor's state): what it reports
    of cancels and an order kept at its floor, and how the exit ends."""

    def _audit_canceled(self, snap: OrderSnapshot) -> None:
        self.rt.audit.emit(ae.OrderCanceled(position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id,
                                            order_id=snap.order_id, client_order_id=snap.client_order_id,
                                            filled=snap.filled_count, count=snap.count, held=self.o.side))
        self.send(self.refs.store, RecordExitAttempt(self.o.exit_id, self.o.position_id, self.attempt,
                                                     snap.client_order_id, AttemptAction.CANCELED, snap.limit_price,
                                                     snap.count - snap.filled_count, self.rt.clock.now(),
                                                     snap.order_id))

    def _no_market(self, why: str) -> None:
        """Nothing to sell into: counted like an unfilled attempt, tried again after the timeout.
        The first time in an exit is an ALERT; later tries of the same exit are log lines (a
        market without a bid for 10 minutes once made 39 ALERTs a position, and the alert
        channels, whose queues hold 100, dropped what came after: a breaker's trip). When the
        bid returns, the order that goes out names it (bid= on its line)."""
        if not self._alerted_no_bid and not self.o.gave_up_before:   # once an episode, not once an exit
            self._alerted_no_bid = True
            self.rt.audit.emit(ae.Alert(
                said=f"exit {self.o.exit_id} ({self.o.condition}): {why}; trying again every "
                     f"{self.cfg.timeout_secs} s (no further alert for this exit)",
                exit_id=self.o.exit_id, position_id=self.o.position_id, market=self.o.ticker, detail=why))
        else:
            logger.info("exit {} ({}): {}; still waiting", self.o.exit_id, self.o.condition, why)
        if self._advance():
            self.phase = ExitPhase.WAITING
            self._arm_timeout()

    def _keep_at_floor(self) -> bool:
        """A profit-taking order resting at its floor: a walk cannot lower it, so instead of
        canceling and sending it again at the same price (its place in the queue lost, two calls
        spent) it is looked up; still resting, the walk is counted and the order kept (what
        filled is learned at each timeout, as a cancel would have told)."""
        floor = self.o.min_price
        if floor is None or self.price is None or self.next_kind is Rung.MARKETABLE or self.order_id is None or \
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
        self.next_kind = Rung.WALK
        self.rt.audit.emit(ae.OrderWalked(
            position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id,
            client_order_id=self.request.client_order_id, price=self.price, previous_price=self.price,
            contracts=self.remaining, time_in_force=TimeInForce.GTC, condition=self.o.condition,
            priority=self.o.priority.name, walk=self.walks, kept=True, held=self.o.side))

    def _finish(self, outcome: ExitOutcome, detail: str = "") -> None:
        if self.phase is ExitPhase.DONE:
            return
        self.phase = ExitPhase.DONE
        if self._timer is not None:
            self._timer.cancel()
        now = self.rt.clock.now()
        if outcome is ExitOutcome.GAVE_UP:
            self.rt.audit.emit(ae.ExitGaveUp(
                position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id, condition=self.o.condition,
                priority=self.o.priority.name, filled=self.filled, remaining=self.remaining, walks=self.walks,
                detail=detail, in_a_row=self.o.gave_up_before + 1, held=self.o.side))
        else:
            self.rt.audit.emit(ae.ExitCompleted(
                position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id, condition=self.o.condition,
                priority=self.o.priority.name, outcome=outcome, filled=self.filled, remaining=self.remaining,
                walks=self.walks, held=self.o.side, ordered=self.o.contracts))
        avg = q6(self.proceeds / self.filled) if self.filled else None
        self.send(self.refs.store, RecordExitEvent(self.o.position_id, self.o.exit_id, self.o.condition,
                                                   self.o.priority.name, self.filled, outcome, now, price=avg,
                                                   fees=self.fees_paid, detail=detail))
        self.send(self.router, ExitEnded(self.o.position_id, self.o.exit_id, self.o.condition, outcome,
                                         self.filled, self.o.stage))
        self.actor_ref.stop(block=False)

