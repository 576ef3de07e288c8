"""Timers for actors, on virtual or wall-clock time.

Actors never sleep: they ask the scheduler to deliver a message at a time. A timer can be
cancelled; a cancelled timer is never delivered. Timer messages usually carry a generation
number too, so a timer that raced its cancellation is ignored by the actor.

VirtualScheduler: `run_until(t)` fires every timer due by t in time order, waiting for all
actors to go idle before each step, and moves the VirtualClock. A handler that never returns
stops virtual time, so no heartbeat could see it: when the actors have not gone idle after
`stuck_after_s` of wall time, the scheduler runs its `stuck_checks` (the Watchdog's: a core
actor whose handler has run that long is reported stuck and restarted) and waits on. RealScheduler: a thread that
delivers timers when the wall clock reaches them.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time as _wall   # only to bound how long virtual time waits for a busy actor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import pykka
from loguru import logger

from actors.clock import Clock, VirtualClock
from actors.runtime import ActivityTracker


@dataclass(order=True)
class TimerHandle:
    when: datetime
    seq: int
    target: pykka.ActorRef = field(compare=False)
    message: Any = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class _TimerHeap:
    def __init__(self) -> None:
        self._heap: list[TimerHandle] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def push(self, when: datetime, target: pykka.ActorRef, message: Any) -> TimerHandle:
        handle = TimerHandle(when, next(self._seq), target, message)
        with self._lock:
            heapq.heappush(self._heap, handle)
        return handle

    def pop_due(self, until: datetime) -> TimerHandle | None:
        with self._lock:
            while self._heap:
                top = self._heap[0]
                if top.cancelled:
                    heapq.heappop(self._heap)
                    continue
                if top.when <= until:
                    return heapq.heappop(self._heap)
                return None
            return None

    def next_when(self) -> datetime | None:
        with self._lock:
            while self._heap and self._heap[0].cancelled:
                heapq.heappop(self._heap)
            return self._heap[0].when if self._heap else None

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for h in self._heap if not h.cancelled)


class VirtualScheduler:
    def __init__(self, clock: VirtualClock, activity: ActivityTracker, idle_timeout_s: float = 60.0) -> None:
        self.clock = clock
        self.activity = activity
        self.idle_timeout_s = idle_timeout_s
        self._timers = _TimerHeap()
        self.fired = 0
        self.stuck_after_s = 5.0
        self.stuck_checks: list[Callable[[float], bool]] = []

    def call_at(self, when: datetime, target: pykka.ActorRef, message: Any) -> TimerHandle:
        return self._timers.push(max(when, self.clock.now()), target, message)

    def call_later(self, delay: timedelta, target: pykka.ActorRef, message: Any) -> TimerHandle:
        return self.call_at(self.clock.now() + delay, target, message)

    def settle(self) -> None:
        deadline = _wall.monotonic() + self.idle_timeout_s
        while True:
            left = deadline - _wall.monotonic()
            step = min(self.stuck_after_s, left) if self.stuck_checks else left
            if self.activity.wait_idle(max(step, 0.0), quiet=bool(self.stuck_checks)):
                return
            if any([check(self.stuck_after_s) for check in self.stuck_checks]):
                deadline = _wall.monotonic() + self.idle_timeout_s     # a restart is under way
                continue
            if _wall.monotonic() >= deadline:
                self.activity.wait_idle(0.0)        # logs who is busy
                raise RuntimeError("virtual time stalled: an actor did not go idle")

    def run_until(self, until: datetime) -> None:
        """Fire all timers due by `until` in order, then set the clock to `until`."""
        while True:
            self.settle()
            handle = self._timers.pop_due(until)
            if handle is None:
                break
            self.clock.advance_to(handle.when)
            # Every timer due at this same instant goes out in one step, then all settle.
            while handle is not None:
                self.fired += 1
                self.activity.send(handle.target, handle.message)
                handle = self._timers.pop_due(handle.when)
        self.settle()
        self.clock.advance_to(until)

    def run_for(self, delta: timedelta) -> None:
        self.run_until(self.clock.now() + delta)

    def next_timer(self) -> datetime | None:
        return self._timers.next_when()

    def pending(self) -> int:
        return len(self._timers)

    def stop(self) -> None:
        pass


class RealScheduler:
    """Delivers timers on the wall clock from one daemon thread."""

    def __init__(self, clock: Clock, activity: ActivityTracker) -> None:
        self.clock = clock
        self.activity = activity
        self._timers = _TimerHeap()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def call_at(self, when: datetime, target: pykka.ActorRef, message: Any) -> TimerHandle:
        handle = self._timers.push(when, target, message)
        with self._wake:
            self._wake.notify()
        return handle

    def call_later(self, delay: timedelta, target: pykka.ActorRef, message: Any) -> TimerHandle:
        return self.call_at(self.clock.now() + delay, target, message)

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                nxt = self._timers.next_when()
                now = self.clock.now()
                if nxt is None or nxt > now:
                    wait = 1.0 if nxt is None else min(1.0, (nxt - now).total_seconds())
                    self._wake.wait(max(wait, 0.001))
                    continue
            handle = self._timers.pop_due(self.clock.now())
            if handle is not None:
                try:
                    self.activity.send(handle.target, handle.message)
                except Exception:  # noqa: BLE001 - a timer must never kill the scheduler
                    logger.exception("timer delivery failed")

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=2)
