"""What the ExecutorActor does with its venue calls still waiting for the call budget when its
exit is stopped (preempted by a more urgent exit, or canceled by settlement).

- Its order's create still waiting in the RateLimiter is taken back (WithdrawCall): the venue
  never sees it, so the exit can end at once instead of sending it and then canceling it (two
  calls, each behind the queue). Answered CallWithdrawn: the order is written down as never sent
  (RecordOrderNeverSent) and said so (ORDER_CANCELED "withdrawn before it reached the venue").
  A create already made (or being made) is answered as usual, and the order canceled.
- Every other call still waiting (a cancel, a look-up) moves up to the priority of the exit
  that preempts it (ExpediteCall), as do the calls it makes from then on (`_urgency`): the
  CRITICAL stop waits for the preempted LOW exit's cancel, so that cancel must not wait behind
  LOW work.
- An exit stopped while it waits out a back-off timer (a refused cancel, a failed look-up) with
  no call of its own in flight acts at once: it asks for the cancel (or looks the order up) now,
  at the preempting priority, instead of at the timer; and an exit whose cancels were refused
  starts its back-off again from 1 s (it had perhaps reached a minute between steps).

Never two live exit orders for one position: the exit still ends only once its order is known
never sent (withdrawn), or canceled or executed at the venue.
"""
from __future__ import annotations

from models import audit_events as ae
from models.commands import ExpediteCall, WithdrawCall
from models.events import CallWithdrawn, ExitOutcome
from models.execution import ExitPhase
from models.priorities import Priority
from models.records import AttemptAction
from models.store_commands import RecordExitAttempt, RecordOrderNeverSent


class WaitingCalls:
    """Part of the ExecutorActor (mixed into it; it runs on the executor's state)."""

    def _stop_for(self, reason: ExitOutcome, by: Priority | None = None) -> None:
        """Preempted (`by` the preempting exit's priority) or canceled: end once its order is
        known never sent, canceled or executed."""
        if self.phase is ExitPhase.DONE:
            return
        first = self.stop_reason is None
        self.stop_reason = reason
        if first and self._refusals:
            self._looks = 0     # refused cancels: the back-off starts again from 1 s (the stop waits for it)
        self._take_back_waiting_calls(by)
        if self.phase is ExitPhase.RESTING:
            self._cancel()
        elif self.phase in (ExitPhase.QUOTE, ExitPhase.WAITING, ExitPhase.START):
            self._finish(reason)
        elif first and not self._waiting and self.phase in (ExitPhase.CANCELING, ExitPhase.LOOKUP):
            self._act_now()
        # placing / canceling / lookup with a call in flight: finish once the venue has answered
        # (or the create is withdrawn)

    def _act_now(self) -> None:
        """Stopped while waiting out a back-off timer (a refused cancel, a failed look-up), no call
        of its own in flight: the exit that stops it waits for this order's end, so the next step
        goes now, at `_urgency`, rather than at the timer (a stop once waited 115 s behind a LOW
        exit's refused-cancel back-off with the venue healthy again). A cancel (it answers with
        the order's state; refused again, the back-off goes on where it was) or the look-up."""
        if self._timer is not None:
            self._timer.cancel()
        self._gen += 1                          # an OrderTimedOut already on its way is ignored
        if self.phase is ExitPhase.CANCELING:
            self._cancel()
        else:
            self._on_timeout()

    def _take_back_waiting_calls(self, by: Priority | None) -> None:
        """The exit is stopping: withdraw its create still waiting; expedite its other calls."""
        if by is not None and by < self._urgency:
            self._urgency = by
        for rid, method in self._waiting.items():
            # A re-send (a create whose answer was lost, sent again) is never withdrawn: the first
            # may still reach the venue, and only a sent re-send lets it refuse the duplicate id.
            if method == "place_order" and not self._resent:
                self.send(self.refs.rate_limiter, WithdrawCall(rid))
            elif self._urgency < self.o.priority:
                self.send(self.refs.rate_limiter, ExpediteCall(rid, int(self._urgency)))

    def _withdrawn(self, w: CallWithdrawn) -> None:
        """The RateLimiter took back this exit's create before the venue saw it: the order was
        never sent; the exit ends (it was stopping: only a stopping exit withdraws)."""
        if self.phase is ExitPhase.DONE or self.request is None or w.method != "place_order":
            return
        req = self.request
        self.send(self.refs.store, RecordOrderNeverSent(req.client_order_id))
        self.rt.audit.emit(ae.OrderCanceled(position_id=self.o.position_id, market=self.o.ticker, exit_id=self.o.exit_id,
                                            client_order_id=req.client_order_id, filled=0, count=req.count,
                                            held=self.o.side, withdrawn=True))
        self.send(self.refs.store, RecordExitAttempt(self.o.exit_id, self.o.position_id, self.attempt,
                                                     req.client_order_id, AttemptAction.CANCELED, req.limit_price,
                                                     req.count, self.rt.clock.now()))
        self._finish(self.stop_reason or ExitOutcome.PREEMPTED)
