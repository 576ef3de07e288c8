"""Garbage collection between bursts (actors/idle_gc.py): no cyclic collection starts while an
actor's handler runs, collections still happen (at the idle moments, or at the backstop when
the engine is never idle), and the interpreter's thresholds are put back when engines stop."""
from __future__ import annotations

import gc
import sys
from typing import Any

import pykka
import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.dispatch import Dispatcher, InlineInbox
from actors.idle_gc import IdleCollector
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from tests.conftest import T0


class Cycles(ArbeesActor):
    """Makes `n` reference cycles per message (garbage only the cyclic collector frees), and
    tells itself again `chain` times: one burst of messages with no idle moment inside."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt, "cycles")

    def handle(self, message: Any) -> None:
        n, chain = message
        for _ in range(n):
            a: list = []
            b = [a]
            a.append(b)
        if chain:
            self.send(self.me, (n, chain - 1))


@pytest.fixture
def saved_thresholds():  # type: ignore[no-untyped-def]
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)
    assert gc.get_threshold() == before


class Collections:
    """Records each cyclic collection, and whether an actor's handler was on the stack then."""

    def __init__(self) -> None:
        self.started: list[tuple[int, bool]] = []

    def __call__(self, phase: str, info: dict) -> None:
        if phase != "start":
            return
        frame, in_handler = sys._getframe(1), False
        while frame is not None:
            if frame.f_code is InlineInbox.run_one.__code__:
                in_handler = True
                break
            frame = frame.f_back
        self.started.append((info["generation"], in_handler))

    def __enter__(self) -> "Collections":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _inline(collector: IdleCollector | None) -> Runtime:
    dispatcher = Dispatcher(collector)
    clock = VirtualClock(T0)
    activity = ActivityTracker(dispatcher)
    return Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))


@pytest.mark.parametrize("policy", [True, False])
def test_no_collection_starts_inside_a_burst_and_garbage_is_collected_when_it_ends(saved_thresholds, policy):
    gc.set_threshold(700, 10, 10)
    collector = IdleCollector() if policy else None
    if collector:
        collector.install()
    rt = _inline(collector)
    actor = Cycles.start(rt)
    try:
        with Collections() as seen:
            for _ in range(5):                # five bursts of 40 messages, 200 cycles each
                rt.send(actor, (200, 39))
                assert rt.activity.wait_idle(5)
    finally:
        pykka.ActorRegistry.stop_all(block=True, timeout=5)
        if collector:
            collector.uninstall()
    inside = [g for g, in_handler in seen.started if in_handler]
    if policy:
        assert inside == []                                # not one collection inside a handler
        assert seen.started                                 # but collections ran, between the bursts
        assert collector is not None and collector.runs >= 5
    else:
        assert inside                                       # without it, the bursts are interrupted


def test_the_backstop_still_collects_when_the_engine_is_never_idle(saved_thresholds):
    gc.set_threshold(700, 10, 10)
    collector = IdleCollector(backstop=3)
    collector.install()
    try:
        assert gc.get_threshold() == (2100, 10, 10)
        gc.collect()
        with Collections() as seen:
            keep = [[] for _ in range(1500)]              # over the usual trigger, under the backstop
            assert seen.started == []
            keep += [[] for _ in range(1500)]             # over the backstop
            assert [g for g, _ in seen.started] == [0]
    finally:
        collector.uninstall()
    assert gc.get_threshold() == (700, 10, 10)


def test_idle_runs_the_collection_that_is_due_and_only_then(saved_thresholds):
    gc.set_threshold(700, 10, 10)
    collector = IdleCollector()
    collector.install()
    try:
        gc.collect()
        with Collections() as seen:
            collector.idle()                              # nothing allocated: nothing due
            assert seen.started == [] and collector.runs == 0
            keep = [[] for _ in range(1000)]
            assert seen.started == []                     # the automatic trigger is out of the way
            collector.idle()
            assert [g for g, _ in seen.started] == [0] and collector.runs == 1
            assert gc.get_threshold() == (70_000, 10, 10)  # and moved away again
        del keep
    finally:
        collector.uninstall()


def test_overlapping_engines_put_the_thresholds_back_when_the_last_one_stops(saved_thresholds):
    gc.set_threshold(500, 7, 9)
    first, second = IdleCollector(), IdleCollector()
    first.install()
    second.install()
    assert gc.get_threshold() == (50_000, 7, 9)
    first.uninstall()
    assert gc.get_threshold() == (50_000, 7, 9)         # the second engine still runs
    second.uninstall()
    assert gc.get_threshold() == (500, 7, 9)
    second.uninstall()                                  # twice is harmless
    assert gc.get_threshold() == (500, 7, 9)


def test_collection_turned_off_by_the_user_stays_off(saved_thresholds):
    gc.set_threshold(0)
    collector = IdleCollector()
    collector.install()
    try:
        keep = [[] for _ in range(2000)]
        collector.idle()
        assert gc.get_threshold()[0] == 0 and collector.runs == 0
        del keep
    finally:
        collector.uninstall()
    assert gc.get_threshold()[0] == 0


def test_an_engine_moves_the_trigger_while_it_runs_and_puts_it_back_when_it_stops(saved_thresholds, make_engine):
    gc.set_threshold(700, 10, 10)
    engine = make_engine()
    assert gc.get_threshold() == (70_000, 10, 10)
    engine.stop()
    assert gc.get_threshold() == (700, 10, 10)


class _CountingCollector:
    def __init__(self) -> None:
        self.idles = 0

    def idle(self) -> None:
        self.idles += 1


def test_with_a_thread_per_actor_the_collector_is_told_when_the_last_message_is_handled():
    collector = _CountingCollector()
    activity = ActivityTracker(None, collector)

    class Ref:
        actor_urn = "urn:a"

        def tell(self, message: object) -> None:
            pass

    activity.send(Ref(), "one")
    activity.send(Ref(), "two")
    activity.done("urn:a")
    assert collector.idles == 0                        # one message still pending
    activity.done("urn:a")
    assert collector.idles == 1
    inline = ActivityTracker(Dispatcher(collector), collector)   # the dispatcher tells it itself
    inline.send(Ref(), "one")
    inline.done("urn:a")
    assert collector.idles == 1


def _full_collections_on_a_growing_heap(collector: IdleCollector | None) -> tuple[int, int]:
    """A long-lived heap that grows by 800 containers a burst (positions opened, records kept),
    an idle moment after each burst: (full collections, all collections) the run took."""
    gc.set_threshold(700, 10, 10)
    heap = [[i] for i in range(200_000)]
    gc.collect()
    if collector is not None:
        collector.install()
    keep: list = []
    try:
        before = [g["collections"] for g in gc.get_stats()]
        for _ in range(1500):
            keep.append([[] for _ in range(800)])
            if collector is not None:
                collector.idle()
        after = [g["collections"] for g in gc.get_stats()]
    finally:
        if collector is not None:
            collector.uninstall()
    del heap, keep
    return after[2] - before[2], sum(after) - sum(before)


def test_idle_moments_run_no_more_full_collections_than_cpython_would(saved_thresholds):
    """CPython holds a full collection back until the objects that survived since the last one
    are a quarter of the heap (so a growing heap costs linear time). Collecting at idle moments
    must keep that rule: moving collections, not adding full ones."""
    full_cpython, all_cpython = _full_collections_on_a_growing_heap(None)
    full_idle, all_idle = _full_collections_on_a_growing_heap(IdleCollector())
    assert full_idle <= full_cpython + 1, (full_idle, full_cpython)
    assert all_idle <= all_cpython + 1, (all_idle, all_cpython)
