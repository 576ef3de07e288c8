"""When the Store commits on virtual time (the inline dispatcher): a burst of writes is one
transaction, committed when no actor has a message left (before virtual time moves on), and
on disk then (a second connection sees it); an order is still on disk, with every write sent
before it, the moment RecordOrderPending is answered, before the caller can send the order."""
from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal

import pykka
import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.dispatch import Dispatcher
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from actors.store import Store
from adapters.audit.log import Audit
from adapters.storage.database import Repository, connect, migrate
from models.market import Side
from models.orders import Action, OrderRequest, TimeInForce
from models.signal import TradingSignal
from models.store_commands import RecordOrderPending, RecordSignalPending
from tests.conftest import T0


def runtime_and_database(tmp_path, *, threads: bool = False):  # type: ignore[no-untyped-def]
    """A runtime on virtual time (the inline dispatcher, or a thread per actor) and a fresh SQLite
    database: (rt, db, path, clock)."""
    clock = VirtualClock(T0)
    activity = ActivityTracker(None if threads else Dispatcher())
    rt = Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))
    path = tmp_path / "arbees.db"
    db = connect(str(path), environ={})
    migrate(db, clock)
    return rt, db, path, clock


@pytest.fixture
def inline_store(tmp_path):  # type: ignore[no-untyped-def]
    rt, db, path, clock = runtime_and_database(tmp_path)
    store = Store.start(rt, Repository(db, clock))
    yield rt, store, path
    pykka.ActorRegistry.stop_all(block=True, timeout=5)
    db.close()


def a_signal(n: int) -> TradingSignal:
    return TradingSignal(signal_id=f"sig-{n}", ts=T0 + timedelta(seconds=n), game_id="g", sport="nba",
                         ticker="KXNBA-T", platform="kalshi", side=Side.YES, signal_type="model_edge",
                         win_probability=Decimal("0.6"), market_price=Decimal("0.5"), source="test")


class Writer(ArbeesActor):
    """Sends the Store one write per message, then itself the next (as positions do in a burst
    of exits: each write comes between other actors' messages, never queued all at once)."""

    def __init__(self, rt: Runtime, store, upto: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "writer")
        self.store, self.upto = store, upto

    def handle(self, message: int) -> None:
        self.send(self.store, RecordSignalPending(a_signal(message), T0))
        if message + 1 < self.upto:
            self.send(self.actor_ref, message + 1)


def on_disk(path, table: str) -> int:
    """Rows another process would see (a second connection: committed rows only)."""
    with sqlite3.connect(path) as other:
        return other.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_a_burst_of_writes_commits_once_when_every_actor_is_idle(inline_store):
    rt, store, path = inline_store
    rt.send(Writer.start(rt, store, 50), 0)
    assert rt.activity.wait_idle(5)
    assert on_disk(path, "pending_signals") == 50
    assert store.proxy().commits.get(timeout=5) == 1
    for n in range(50, 60):                       # the next burst: its own commit
        rt.send(store, RecordSignalPending(a_signal(n), T0))
    assert rt.activity.wait_idle(5)
    assert on_disk(path, "pending_signals") == 60
    assert store.proxy().commits.get(timeout=5) == 2


def test_an_order_is_on_disk_with_every_earlier_write_when_its_pending_record_is_answered(inline_store):
    rt, store, path = inline_store
    for n in range(5):
        rt.send(store, RecordSignalPending(a_signal(n), T0))
    request = OrderRequest("cid-1", "KXNBA-T", Side.YES, Action.BUY, 10, Decimal("0.5"), TimeInForce.IOC)
    assert rt.ask(store, RecordOrderPending(request, None, None)) is True
    assert on_disk(path, "orders") == 1           # before the caller could send it
    assert on_disk(path, "pending_signals") == 5


def test_an_exit_order_reaches_the_venue_with_its_pending_row_on_disk_and_its_attempt_row_right_after(make_engine):
    """On the path from a trigger to the venue the only write is the order's durable write-down:
    when the sell reaches the venue its pending row is committed (a second connection sees it)
    and the executor's attempt row is not even written yet (not on the Store's own connection);
    it is written once the call is on its way, before the order's result."""
    h = make_engine(streamed=True)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    seen: list[tuple[str, int, int]] = []
    placing = h.venue.place_order

    def place_order(request):  # type: ignore[no-untyped-def]
        if request.action is Action.SELL:
            other = sqlite3.connect(str(h.db_path))
            try:
                pending = other.execute("SELECT COUNT(*) FROM orders WHERE client_order_id = ?",
                                        (request.client_order_id,)).fetchone()[0]
            finally:
                other.close()
            exit_id = request.client_order_id.rsplit("-", 1)[0]      # {exit_id}-{attempt}
            attempts = len(h.repo.attempts_for(exit_id))   # the Store's own connection: written, committed or not
            seen.append((request.client_order_id, pending, attempts))
        return placing(request)

    h.venue.place_order = place_order  # type: ignore[method-assign]
    h.market("M1", "0.40", "0.41", push=True)            # past the 12% stop
    h.run(1)
    assert seen and seen[0][1:] == (1, 0)
    steps = [a.action for a in h.repo.attempts_for(h.exits(pid)[-1].exit_id) if a.client_order_id == seen[0][0]]
    assert steps[0] == "placed" and "filled" in steps[1:]
    assert h.position(pid).exit_reason == "stop_loss"
