"""SQLite's WAL checkpoints happen off the order's path (actors/store.py, Checkpoint): SQLite's
own checkpoint runs inside a commit (the one that takes the WAL past its limit), and the commit
an order's write-down waits on is as likely as any. The Store sends itself a Checkpoint after a
commit that leaves the WAL past `checkpoint_pages`, so it runs after the write-down is answered;
SQLite's own limit is only a backstop far above it. The WAL stays bounded."""
from __future__ import annotations

import os
import sqlite3
from decimal import Decimal

import pykka
import pytest

from actors.base import ArbeesActor
from actors.runtime import Runtime
from actors.store import Store
from adapters.storage.database import WAL_BACKSTOP_PAGES, Repository
from models.market import Side
from models.orders import Action, OrderRequest, TimeInForce
from models.position import PositionState
from models.store_commands import RecordOrderPending, RecordSignalPending, SavePosition
from tests.actors.test_store_commits import a_signal, runtime_and_database
from tests.conftest import T0


class Logged(Repository):
    """A Repository that logs its checkpoints in a shared list."""

    def __init__(self, db, clock, log: list) -> None:  # type: ignore[no-untyped-def]
        super().__init__(db, clock)
        self.log = log

    def checkpoint(self) -> None:
        self.log.append("checkpoint")
        super().checkpoint()


class Venue(ArbeesActor):
    """Stands for the RateLimiter: logs the orders it is told to send."""

    def __init__(self, rt: Runtime, log: list) -> None:
        super().__init__(rt, "venue")
        self.log = log

    def handle(self, message: str) -> None:
        self.log.append(f"sent {message}")


class Sender(ArbeesActor):
    """As an executor: asks the Store to write the order down, then tells the venue to send it."""

    def __init__(self, rt: Runtime, store, venue, log: list) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "sender")
        self.store, self.venue, self.log = store, venue, log

    def handle(self, message: str) -> None:
        request = OrderRequest(message, "KXNBA-T", Side.YES, Action.BUY, 10, Decimal("0.5"), TimeInForce.IOC)
        assert self.rt.ask(self.store, RecordOrderPending(request, None, None)) is True
        self.send(self.venue, message)


@pytest.fixture
def store_with_log(tmp_path):  # type: ignore[no-untyped-def]
    rt, db, path, clock = runtime_and_database(tmp_path)
    log: list = []
    repo = Logged(db, clock, log)
    store = Store.start(rt, repo, checkpoint_every=3)
    yield rt, store, path, log, db
    pykka.ActorRegistry.stop_all(block=True, timeout=5)
    db.close()


def test_sqlite_checkpoints_by_itself_only_far_past_the_stores_own_limit(store_with_log):
    *_, db = store_with_log
    assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_BACKSTOP_PAGES
    assert WAL_BACKSTOP_PAGES >= 10 * 1000


def test_the_checkpoint_an_order_makes_due_runs_after_the_order_is_sent(store_with_log):
    rt, store, path, log, _ = store_with_log
    venue = Venue.start(rt, log)
    for n in range(3):                                 # three orders: three commits, a checkpoint due
        rt.send(Sender.start(rt, store, venue, log), f"cid-{n}")
    assert rt.activity.wait_idle(5)
    assert log == ["sent cid-0", "sent cid-1", "sent cid-2", "checkpoint"]


def test_checkpoints_come_once_per_so_many_commits_not_after_each(store_with_log):
    rt, store, path, log, _ = store_with_log
    for n in range(30):                                # 30 bursts, one commit each
        rt.send(store, RecordSignalPending(a_signal(n), T0))
        assert rt.activity.wait_idle(5)
    assert log.count("checkpoint") == 10


def test_the_wal_stays_bounded_however_much_is_written(store_with_log):
    rt, store, path, log, _ = store_with_log
    wal = f"{path}-wal"
    sizes = []
    for burst in range(20):
        for n in range(200):
            rt.send(store, RecordSignalPending(a_signal(burst * 1000 + n), T0))
        assert rt.activity.wait_idle(5)                # commits when idle, then checkpoints
        sizes.append(os.path.getsize(wal))
    assert log.count("checkpoint") == 20 // 3                 # one a burst's commit, every third
    assert max(sizes) <= 2 * max(sizes[:3])            # written over from the start, not grown


class SavesDuringCommit(Repository):
    """Puts a SavePosition in the Store's inbox as the commit that makes a Checkpoint due ends
    (after the Store decided to commit, before it sends itself the Checkpoint): the inbox then
    holds [SavePosition, Checkpoint], deterministically."""

    def __init__(self, db, clock, rt, position) -> None:  # type: ignore[no-untyped-def]
        super().__init__(db, clock)
        self.rt, self.position, self.store, self.armed = rt, position, None, False

    def atomic(self):  # type: ignore[no-untyped-def]
        txn, repo = super().atomic(), self

        class Committing:
            def __enter__(self):  # type: ignore[no-untyped-def]
                return txn.__enter__()

            def __exit__(self, *exc):  # type: ignore[no-untyped-def]
                done = txn.__exit__(*exc)
                if repo.armed:          # the commit is done; the Checkpoint is sent next
                    repo.armed = False
                    repo.rt.send(repo.store, SavePosition(repo.position))
                return done

        return Committing()


def test_with_a_thread_of_its_own_a_save_queued_before_a_checkpoint_is_still_committed(tmp_path):
    rt, db, path, clock = runtime_and_database(tmp_path, threads=True)      # a thread per actor, as live
    position = PositionState("p1", "M1", Side.YES, "default", "nba", "G", Decimal("0.50"), 20, 20,
                             Decimal("0.10"), T0)
    repo = SavesDuringCommit(db, clock, rt, position)
    store = Store.start(rt, repo, checkpoint_every=1)
    repo.store = store
    try:
        repo.armed = True
        rt.send(store, RecordSignalPending(a_signal(1), T0))
        assert rt.activity.wait_idle(5)
        with sqlite3.connect(str(path)) as other:        # what another process (status) sees
            rows = other.execute("SELECT position_id FROM positions").fetchall()
        assert rows == [("p1",)]
    finally:
        pykka.ActorRegistry.stop_all(block=True, timeout=5)
        db.close()
