"""Store: the one writer to the database.

Every actor sends its writes here; nobody else writes, so actor threads never fight for the
database lock. Writes are grouped: they run inside one transaction that commits when the
Store has caught up (or every `batch` messages), and repeated saves of the same position inside
a batch collapse into the last one. Caught up means: with a thread of its own (live), its inbox
is empty; on virtual time (the inline dispatcher, actors/dispatch.py), where the Store's inbox
empties after nearly every message because every actor's messages run interleaved on one
thread, no actor has a message left (a Flush sent when the dispatcher goes idle, before virtual
time moves on), so a burst of exits commits once instead of once per write. Two messages
commit at once, because they must be on disk before anything else happens: RecordOrderPending
(an order is written down before it is sent; callers `ask` for it) and Flush.

SQLite's write-ahead log is checkpointed by the Store, not inside a commit: SQLite would copy the
log into the database file within whichever commit took the log past its limit, an order's
write-down as likely as any (a checkpoint costs about as much as the rest of the tick -> order
path). Every `checkpoint_every` commits the Store checkpoints itself, at a moment nothing waits
on: with a thread of its own, in a Checkpoint it sends itself, handled after the commit's answer
(the executor sends its order meanwhile); on virtual time, when every actor is idle (the
dispatcher's idle moment, as the Flush). SQLite's own limit stays as a backstop far above it
(adapters/storage/database.py WAL_BACKSTOP_PAGES).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loguru import logger

from actors.base import ArbeesActor
from models import audit_events as ae
from models.storage import Storage
from models.records import BreakerTrip, ExitAttemptRecord, ExitRecord
from models.ledger import totals
from models.commands import Rebuild
from models.store_commands import (
    Flush,
    LedgerTotals,
    RecordBreakerTrip,
    LinkTriggerToExit,
    RecordExitAttempt,
    RecordExitEvent,
    RecordFill,
    RecordOrderNeverSent,
    RecordOrderPending,
    RecordOrderRejected,
    RecordOrderUpdate,
    RecordSignal,
    RecordSignalPending,
    SavePosition,
)
from models.position import PositionState
from models.records import ExitStatus, StoredOrderStatus
_EXIT_STATUS = {"triggered": ExitStatus.TRIGGERED, "filled": ExitStatus.FILLED, "gave_up": ExitStatus.GAVE_UP,
                "preempted": ExitStatus.PREEMPTED, "canceled": ExitStatus.PREEMPTED}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Store, to itself: checkpoint SQLite's write-ahead log now (checkpoint_every commits since the last)."""


class Store(ArbeesActor):
    """The one writer to the database (see the module docstring).

    Receives: SavePosition, RecordSignal, RecordSignalPending, RecordOrderPending,
    RecordOrderUpdate, RecordOrderRejected, RecordOrderNeverSent, RecordFill, RecordExitEvent,
    LinkTriggerToExit, RecordExitAttempt, RecordBreakerTrip, Flush, LedgerTotals, Rebuild, and its
    own Checkpoint.

    Sends: Flush to itself, on virtual time, when every actor is idle; Checkpoint to itself every
    checkpoint_every commits (on virtual time, when every actor is idle) (ALERTs go to the audit log).

    Asks: nothing. It answers three asks: RecordOrderPending (True once the order is on disk),
    Flush (True once every earlier write is) and LedgerTotals (a FillTotals).
    """

    kind = "store"
    survives_errors = True

    def __init__(self, rt, repository: Storage, *, batch: int = 500, checkpoint_every: int = 100,
                 handle=None) -> None:
        super().__init__(rt, "store", handle=handle)
        self.repo = repository
        self.batch = batch
        self.checkpoint_every = checkpoint_every   # commits (each a few pages of the log, a burst more)
        self._since_checkpoint = 0
        self._checkpoint_due = False               # a Checkpoint is on its way to us
        self.checkpoints = 0
        self._txn: Any = None
        self._in_batch = 0
        self._positions: dict[str, PositionState] = {}
        self._uncommitted: list[int] = []   # writes kept in the handle's journal until committed
        self._flush_when_idle = False        # inline: a Flush is due when the dispatcher goes idle
        self.commits = 0
        self.writes = 0
        self.failures = 0

    def handle(self, message: Any) -> Any:
        if not isinstance(message, (Flush, LedgerTotals, Rebuild, Checkpoint)):
            token = self.retain()      # sent again to a restarted Store unless committed
            if token:
                self._uncommitted.append(token)
        match message:
            case Rebuild():
                pass          # the database is the state; the handle re-sends what was not committed
            case SavePosition(state=s):
                self._positions[s.position_id] = s
                self._after()
            case RecordOrderPending(request=req, position_id=pid, exit_id=xid):
                ok = self._write(lambda: self.repo.record_order_pending(req, pid, xid))
                self._commit()
                return ok   # durable before the caller sends the order; False: do not send
            case RecordOrderRejected(client_order_id=cid):
                self._write(lambda: self.repo.set_order_status(cid, StoredOrderStatus.REJECTED))
            case RecordOrderNeverSent(client_order_id=cid):
                self._write(lambda: self.repo.set_order_status(cid, StoredOrderStatus.CANCELED))
            case RecordOrderUpdate(snapshot=snap):
                self._write(lambda: self.repo.update_order(snap))
            case RecordFill(fill=f):
                self._write(lambda: self.repo.record_fill(f))
            case RecordSignal(signal=sig, decision=d, reason=r):
                self._write(lambda: self.repo.record_signal(sig, d, r))
            case RecordExitEvent():
                m = message
                rec = ExitRecord(position_id=m.position_id, reason=m.reason, priority=m.priority,
                                 status=_EXIT_STATUS[m.status], triggered_at=m.ts, exit_id=m.exit_id or None,
                                 contracts=m.contracts, price=m.price, fees=m.fees,
                                 filled_at=m.ts if m.status == "filled" else None, trigger_value=m.trigger_value,
                                 threshold=m.threshold, detail=m.detail)
                self._write(lambda: self.repo.record_exit_event(rec))
            case LinkTriggerToExit(position_id=pid, condition=cond, exit_id=xid):
                self._write(lambda: self.repo.link_trigger(pid, cond, xid))
            case RecordExitAttempt():
                m = message
                rec2 = ExitAttemptRecord(exit_id=m.exit_id, position_id=m.position_id, attempt=m.attempt,
                                         client_order_id=m.client_order_id, price=m.price, contracts=m.contracts,
                                         action=m.action, ts=m.ts, order_id=m.order_id, detail=m.detail)
                self._write(lambda: self.repo.record_exit_attempt(rec2))
            case RecordSignalPending(signal=sig, ts=ts):
                self._write(lambda: self.repo.record_signal_pending(sig, ts))
            case RecordBreakerTrip(day=day, kind=kind, reason=reason, ts=ts):
                self._write(lambda: self.repo.record_breaker_trip(BreakerTrip(day, kind, reason, ts)))
                self._commit()   # a trip must hold across a restart
            case Flush():
                self._flush_when_idle = False
                self._commit()
                return True
            case LedgerTotals(order_id=oid):
                self._commit()
                return totals(self.repo.fills_for_order(oid))
            case Checkpoint():
                self._commit()     # what was written while this waited (no second Checkpoint: one is due)
                self._guarded(self.repo.checkpoint)
                self.checkpoints += 1
                self._since_checkpoint = 0
                self._checkpoint_due = False
            case _:
                self.unknown(message)
        return None

    def _begin(self) -> None:
        if self._txn is None:
            self._txn = self.repo.atomic()
            self._txn.__enter__()

    def _write(self, fn) -> bool:  # type: ignore[no-untyped-def]
        self._begin()
        self._save_positions()   # rows others refer to go first
        ok = self._guarded(fn)
        self._after()
        return ok

    def _guarded(self, fn) -> bool:  # type: ignore[no-untyped-def]
        """One write in its own savepoint: a write that fails is rolled back alone and alerted,
        and the Store lives on (the data it carried is in the audit log)."""
        try:
            fn()
            self.writes += 1
            return True
        except Exception as exc:  # noqa: BLE001 - the one writer must not die
            self.failures += 1
            logger.error("store: write failed: {}: {}", type(exc).__name__, exc)
            self.rt.audit.emit(ae.Alert(said=f"ALERT database write failed: {type(exc).__name__}: {exc}",
                                        error=f"{type(exc).__name__}: {exc}"))
            return False

    def _after(self) -> None:
        self._in_batch += 1
        if self._in_batch >= self.batch:
            self._commit()
        elif self._dispatcher is None:
            if self.actor_inbox.empty():
                self._commit()
        elif not self._flush_when_idle:
            self._flush_when_idle = True
            self._to_self_when_idle(Flush())

    def _save_positions(self) -> None:
        states, self._positions = list(self._positions.values()), {}
        for state in states:
            self._guarded(lambda s=state: self.repo.upsert_position(s))

    def _commit(self) -> None:
        if self._positions:
            self._begin()
            self._save_positions()
        if self._txn is not None:
            txn, self._txn = self._txn, None
            txn.__exit__(None, None, None)
            self.commits += 1
            self._since_checkpoint += 1
        tokens, self._uncommitted = self._uncommitted, []
        for token in tokens:
            self.release(token)
        self._in_batch = 0
        if not self._checkpoint_due and self._since_checkpoint >= self.checkpoint_every:
            self._checkpoint_due = True
            if self._dispatcher is None:
                self.rt.send(self.me, Checkpoint())      # handled after this commit's answer
            else:
                self._to_self_when_idle(Checkpoint())

    def _to_self_when_idle(self, message: Any) -> None:
        """On virtual time: send ourselves `message` when every actor is idle (actors/dispatch.py)."""
        rt, me = self.rt, self.me
        self._dispatcher.when_idle(lambda: rt.send(me, message))

    def _rollback(self) -> None:
        if self._txn is not None:
            txn, self._txn = self._txn, None
            try:
                txn.__exit__(RuntimeError, RuntimeError("store replaced"), None)
            except Exception as exc:  # noqa: BLE001
                logger.error("store: rollback of the replaced store failed: {}", type(exc).__name__)

    def on_stop(self) -> None:
        if self._crashed or self._replaced():
            self._rollback()      # a restarted Store was sent every write of this batch again
            return
        try:
            self._commit()
        except Exception as exc:  # noqa: BLE001
            logger.error("store: final commit failed: {}", type(exc).__name__)
