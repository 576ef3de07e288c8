"""The inline dispatcher (actors/dispatch.py): pykka actors whose handlers run on the thread that
drives virtual time. First the guarantees it must keep from the threaded runtime, one by one;
then whole runs: the same paper session and the same streamed replay give the same audit log
and the same exits under the inline dispatcher as with a thread per actor."""
from __future__ import annotations

import dataclasses
import json
import re
import threading
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.dispatch import Dispatcher, InlineInbox
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from tests.conftest import T0


class Recorder(ArbeesActor):
    """Appends what it is sent to a shared list (the test's log); asks `peer` when told to."""

    def __init__(self, rt: Runtime, name: str, log: list, peer: Any = None) -> None:
        super().__init__(rt, name)
        self.name, self.log, self.peer = name, log, peer
        self.count = 0

    def on_start(self) -> None:
        self.log.append((self.name, "started"))

    def handle(self, message: Any) -> Any:
        self.count += 1
        if isinstance(message, tuple) and message[0] == "ask":
            answer = self.rt.ask(self.peer, ("question", message[1]))
            self.log.append((self.name, "answered", answer))
            return None
        if isinstance(message, tuple) and message[0] == "question":
            self.log.append((self.name, "question", message[1]))
            return f"answer to {message[1]}"
        if isinstance(message, tuple) and message[0] == "forward":
            self.send(self.peer, message[1])
        self.log.append((self.name, message))
        return None


@pytest.fixture
def inline_rt():  # type: ignore[no-untyped-def]
    dispatcher = Dispatcher()
    clock = VirtualClock(T0)
    activity = ActivityTracker(dispatcher)
    rt = Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))
    yield rt
    pykka.ActorRegistry.stop_all(block=True, timeout=5)


def test_nothing_runs_until_the_driver_waits_then_each_actor_gets_its_messages_in_order(inline_rt):
    log: list = []
    a = Recorder.start(inline_rt, "a", log)
    b = Recorder.start(inline_rt, "b", log, peer=a)
    for n in range(5):
        inline_rt.send(a, n)
        inline_rt.send(b, ("forward", f"via b {n}"))
    assert log == []                                   # no thread ran anything
    assert inline_rt.activity.wait_idle(5)
    assert log[:2] == [("a", "started"), ("b", "started")]       # on_start before the first message
    assert [m for who, *m in log if who == "a"] == [["started"], [0], [1], [2], [3], [4]] + \
        [[f"via b {n}"] for n in range(5)]
    assert inline_rt.activity.busy == 0
    assert isinstance(a.actor_inbox, InlineInbox)
    assert threading.active_count() == 1                # no actor thread was started


def test_an_ask_from_a_handler_runs_the_asked_actor_up_to_its_answer_in_order(inline_rt):
    log: list = []
    store = Recorder.start(inline_rt, "store", log)
    asker = Recorder.start(inline_rt, "asker", log, peer=store)
    inline_rt.send(store, "written before the ask")
    inline_rt.send(asker, ("ask", "q1"))
    inline_rt.send(store, "written after the ask")
    assert inline_rt.activity.wait_idle(5)
    order = [entry for entry in log if entry[1] != "started"]
    # Each inbox in the order it was sent to: both writes reached the store before the asker ran
    # (and sent its question); the asker gets its answer inside its own handler.
    assert order == [("store", "written before the ask"), ("store", "written after the ask"),
                     ("store", "question", "q1"), ("asker", "answered", "answer to q1")]


class AskThenTell(ArbeesActor):
    """On ("go", store, other): asks `store`, then tells `other` and `store`, in that order."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt, "asker")

    def handle(self, message: Any) -> None:
        _, store, other = message
        self.rt.ask(store, ("question", "q"))
        self.send(other, "told first")
        self.send(store, "told second")


def test_after_an_ask_ran_its_actor_early_the_messages_sent_next_still_run_in_send_order(inline_rt):
    log: list = []
    store = Recorder.start(inline_rt, "store", log)
    other = Recorder.start(inline_rt, "other", log)
    asker = AskThenTell.start(inline_rt)
    assert inline_rt.activity.wait_idle(5)
    inline_rt.send(asker, ("go", store, other))
    assert inline_rt.activity.wait_idle(5)
    order = [entry for entry in log if entry[1] != "started"]
    # The ask ran the store's question inside the asker's handler; the question's own place in
    # the queue must not let the store's next message jump ahead of one sent before it.
    assert order == [("store", "question", "q"), ("other", "told first"), ("store", "told second")]


def test_two_threads_telling_one_actor_at_once_lose_no_message(inline_rt):
    """Two I/O threads put into one inbox; the first is held inside its put while the second
    puts (forced here). Both messages must run: each inbox's messages and their places in the
    send order must be in the same order (before the fix, the first thread had queued its message
    but not yet its place when the second put both, and the second message was never run)."""
    log: list = []
    a = Recorder.start(inline_rt, "a", log)
    assert inline_rt.activity.wait_idle(5)
    dispatcher = inline_rt.activity.dispatcher
    first_inside, second_done, schedule = threading.Event(), threading.Event(), dispatcher.schedule

    def held(inbox, envelope):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "first":
            first_inside.set()
            second_done.wait(0.5)      # the second put goes through now, unless it must wait for us
        schedule(inbox, envelope)

    dispatcher.schedule = held
    first = threading.Thread(target=lambda: inline_rt.send(a, "from the first"), name="first")
    first.start()
    assert first_inside.wait(5)        # the first thread is inside its put
    second = threading.Thread(target=lambda: (inline_rt.send(a, "from the second"), second_done.set()),
                              name="second")
    second.start()
    first.join(5)
    second.join(5)
    dispatcher.schedule = schedule
    assert inline_rt.activity.wait_idle(5)
    handled = sorted(m[0] for who, *m in log if who == "a" and m != ["started"])   # two threads: either order
    assert handled == ["from the first", "from the second"]


def test_a_stopped_actor_refuses_tells_and_its_queued_asks_fail(inline_rt):
    log: list = []
    a = Recorder.start(inline_rt, "a", log)
    assert inline_rt.activity.wait_idle(5)
    a.stop(block=False)                                  # queued: not stopped yet
    future = a.ask("after the stop", block=False)        # queued behind the stop
    with pytest.raises(pykka.ActorDeadError):
        future.get(timeout=1)
    assert ("a", "after the stop") not in log
    with pytest.raises(pykka.ActorDeadError):
        a.tell("late")
    assert not inline_rt.send(a, "late")                 # counted send: refused, not left pending
    assert inline_rt.activity.wait_idle(1)


def test_a_proxy_read_from_the_driver_runs_the_actor_first(inline_rt):
    log: list = []
    a = Recorder.start(inline_rt, "a", log)
    for n in range(3):
        inline_rt.send(a, n)
    assert a.proxy().count.get(timeout=5) == 3            # the three messages ran before the read


def test_a_message_from_another_thread_is_handled_by_the_next_wait(inline_rt):
    log: list = []
    a = Recorder.start(inline_rt, "a", log)
    assert inline_rt.activity.wait_idle(5)
    t = threading.Thread(target=lambda: inline_rt.send(a, "from an I/O thread"))
    t.start()
    t.join()
    assert inline_rt.activity.wait_idle(5)
    assert log[-1] == ("a", "from an I/O thread")


# --- whole runs: inline and threads agree ------------------------------------------------------------

def _normalized_audit(path: Path) -> list[dict]:
    """The audit records, without what differs between any two processes (the pid, and the
    process epoch inside exit ids), in time order; records of one instant sorted (two actors
    acting at the same virtual instant may log in either order with threads).

    The venue numbers its orders in the order they arrive, and two positions that sell at the
    same virtual instant reach it in either order with threads, so each venue order id is
    named by the client order id the engine gave it (the engine's choice, which must agree)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    venue_ids = {}
    for line in lines:
        record = json.loads(line)
        if record.get("order_id") and record.get("client_order_id"):
            venue_ids.setdefault(record["order_id"], record["client_order_id"])
    out = []
    for line in lines:
        record = json.loads(line)
        record.pop("pid", None)
        text = re.sub(r"PAPER-\d{6}", lambda m: f"ORDER[{venue_ids.get(m.group(0), m.group(0))}]",
                      json.dumps(record))
        out.append(json.loads(re.sub(r"-[0-9a-f]+x(\d+)", r"-EPOCHx\1", text)))
    return sorted(out, key=lambda r: (r["ts"], json.dumps(r, sort_keys=True)))


def test_the_comparison_forgives_the_venue_numbering_orders_by_arrival_but_not_a_changed_decision(tmp_path):
    def log(name, records):
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        return _normalized_audit(path)

    def sells(first, second, price="0.77"):
        return [{"ts": "t", "event": "ORDER_FILLED", "client_order_id": "pos-a-1", "order_id": first,
                 "fill_id": f"{first}-76", "price": price, "message": f"order {first} filled"},
                {"ts": "t", "event": "ORDER_FILLED", "client_order_id": "pos-b-1", "order_id": second,
                 "fill_id": f"{second}-99", "price": "0.23", "message": f"order {second} filled"}]

    arrived_one_way = log("a", sells("PAPER-000087", "PAPER-000088"))
    assert arrived_one_way == log("b", sells("PAPER-000088", "PAPER-000087"))
    assert arrived_one_way != log("c", sells("PAPER-000087", "PAPER-000088", price="0.76"))


@pytest.mark.parametrize("seed", [1, 7])
def test_a_paper_session_writes_the_same_audit_log_inline_as_with_a_thread_per_actor(tmp_path, monkeypatch, seed):
    from adapters.cli import app
    from adapters.engine import build

    logs = {}
    for inline in (True, False):
        monkeypatch.setitem(build.MODES, "paper", dataclasses.replace(build.MODES["paper"], inline=inline))
        audit = tmp_path / f"{inline}.jsonl"
        assert app.main(["paper", "--seed", str(seed), "--db", str(tmp_path / f"{inline}.db"),
                         "--audit", str(audit)]) == 0
        logs[inline] = _normalized_audit(audit)
    assert len(logs[True]) > 100
    assert any(r["event"] == "EXIT_COMPLETED" for r in logs[True])
    assert logs[True] == logs[False]


@pytest.mark.parametrize("seed,limit", [(2, "1000000"), (3, "15")])
def test_a_streamed_replay_exits_the_same_inline_as_with_a_thread_per_actor(tmp_path, seed, limit):
    from tests.actors.test_quiet_bands_engine import run_walk

    inline, _ = run_walk(tmp_path / "inline", seed, True, limit)
    threads, _ = run_walk(tmp_path / "threads", seed, True, limit, inline=False)
    assert inline == threads
    assert len(inline[0]) > 0
