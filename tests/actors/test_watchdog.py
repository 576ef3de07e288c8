"""The Watchdog on the wall clock (live mode): a core actor that is stuck (a handler that does not
return, or an inbox that keeps growing) is found by the heartbeat and replaced; the messages it
had not handled go to the new actor. Real threads and a real scheduler; every wait is bounded
and waits for an event, not for time to pass."""
from __future__ import annotations

import threading
import time

import pykka
import pytest

from actors.base import ArbeesActor
from actors.clock import WallClock
from actors.registry import ActorHandle, EngineFailure, Stall
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import RealScheduler
from actors.watchdog import CoreSpec, Watch, Watchdog
from adapters.audit.log import Audit
from models.events import CoreActorDown


class Counter(ArbeesActor):
    """A core actor that records what it handled (the list outlives it, like a database)."""
    kind = "counter"

    def __init__(self, rt, seen: list, handle=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "counter", handle=handle)
        self.seen = seen

    def handle(self, message) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(message)


@pytest.fixture
def live():
    clock = WallClock()
    activity = ActivityTracker()
    scheduler = RealScheduler(clock, activity)
    events: list[dict] = []
    rt = Runtime(clock, scheduler, activity, Audit(clock, events))
    yield rt, events
    scheduler.stop()
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


def _watch(rt, *, stall_limit_secs: float, backlog_limit: int):  # type: ignore[no-untyped-def]
    seen: list = []
    watchdog = Watchdog.start(rt, EngineFailure(), heartbeat_secs=0.05)
    handle = ActorHandle("counter", rt.activity, rt.clock,
                         on_down=lambda name, why, urn: rt.send(watchdog, CoreActorDown(name, why, urn)))
    start = lambda h: Counter.start(rt, seen, handle=h)  # noqa: E731
    handle.attach(start(handle))
    rt.send(watchdog, Watch(CoreSpec("counter", start, lambda: (), stall_limit_secs, backlog_limit), handle))
    return handle, seen


def _wait_for(predicate, limit_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, "not reached in time"
        threading.Event().wait(0.01)


def test_a_handler_that_does_not_return_is_found_by_the_heartbeat_and_replaced(live):
    rt, events = live
    handle, seen = _watch(rt, stall_limit_secs=0.2, backlog_limit=1000)
    old = handle.target
    release = threading.Event()
    rt.send(handle, Stall(release, max_wait_s=10))
    rt.send(handle, "after the stall")
    _wait_for(lambda: any(e["event"] == "ACTOR_RESTARTED" for e in events))
    release.set()
    (restart,) = [e for e in events if e["event"] == "ACTOR_RESTARTED"]
    assert "a handler has not returned" in restart["reason"] or "no heartbeat answer" in restart["reason"]
    _wait_for(lambda: "after the stall" in seen)
    assert handle.target is not old and seen.count("after the stall") == 1
    assert any(e["event"] == "ALERT" and e.get("message_type") == "Stall" for e in events)


def test_an_inbox_that_keeps_growing_is_treated_like_a_dead_actor(live):
    rt, events = live
    handle, seen = _watch(rt, stall_limit_secs=600, backlog_limit=20)
    release = threading.Event()
    rt.send(handle, Stall(release, max_wait_s=10))
    for n in range(30):
        rt.send(handle, n)
    _wait_for(lambda: any(e["event"] == "ACTOR_RESTARTED" for e in events))
    release.set()
    (restart,) = [e for e in events if e["event"] == "ACTOR_RESTARTED"]
    assert "messages waiting" in restart["reason"]
    _wait_for(lambda: len([m for m in seen if isinstance(m, int)]) == 30)
    assert [m for m in seen if isinstance(m, int)] == list(range(30))      # none lost, none twice, in order


def test_a_restart_that_fails_fails_the_engine_safe(live):
    """State that cannot be rebuilt (here: the new actor cannot even be built) is not looped on:
    the engine fails safe at once, with an ALERT and the failure set for its owner."""
    rt, events = live
    failure = EngineFailure()
    watchdog = Watchdog.start(rt, failure, heartbeat_secs=0.05)
    handle = ActorHandle("counter", rt.activity, rt.clock,
                         on_down=lambda name, why, urn: rt.send(watchdog, CoreActorDown(name, why, urn)))
    handle.attach(Counter.start(rt, [], handle=handle))

    def cannot_rebuild(h):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database is gone")

    rt.send(watchdog, Watch(CoreSpec("counter", cannot_rebuild, lambda: (), 600, 1000), handle))
    handle.target.stop(block=True, timeout=10)
    _wait_for(lambda: failure.reason is not None)
    assert "could not be restarted" in failure.reason and "the database is gone" in failure.reason
    assert [e for e in events if e["event"] == "ENGINE_FAILED_SAFE"]
    with pytest.raises(pykka.ActorDeadError):
        handle.tell("nobody will handle this")
