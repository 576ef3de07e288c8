"""What every actor is handed: the clock, the scheduler, the activity tracker, the audit log.

The ActivityTracker counts messages sent but not yet handled, per actor. Virtual time moves
only when the count is zero (every actor idle), which makes a simulated three-hour game run
in seconds and still see every timer in order. Messages queued at an actor that died are
forgotten by a periodic scan, so a crash can never hang the clock.
"""
from __future__ import annotations

import threading
import time as _wall  # used only to bound waits on other threads, never as the domain clock
from dataclasses import dataclass
from typing import Any, Callable

import pykka
from loguru import logger

from actors.clock import Clock


class ActivityTracker:
    def __init__(self, dispatcher: Any = None, collector: Any = None) -> None:
        self.dispatcher = dispatcher        # actors/dispatch.py: handlers run by whoever waits here
        # actors/idle_gc.py: with a thread per actor, told when the count falls to zero (the
        # inline dispatcher tells it itself, when a drain leaves nothing)
        self._collector = collector if dispatcher is None else None
        self._cond = threading.Condition()
        self._pending: dict[str, int] = {}
        self._refs: dict[str, pykka.ActorRef] = {}
        self._total = 0

    def send(self, ref: pykka.ActorRef, message: Any) -> bool:
        """tell() that is counted; False when the actor is already dead."""
        urn = ref.actor_urn
        with self._cond:
            self._pending[urn] = self._pending.get(urn, 0) + 1
            self._refs[urn] = ref
            self._total += 1
        try:
            ref.tell(message)
            return True
        except pykka.ActorDeadError:
            self.done(urn)
            return False

    def ask(self, ref: pykka.ActorRef, message: Any, timeout_s: float) -> Any:
        """ask() that is counted like send(); raises pykka.Timeout / ActorDeadError."""
        urn = ref.actor_urn
        with self._cond:
            self._pending[urn] = self._pending.get(urn, 0) + 1
            self._refs[urn] = ref
            self._total += 1
        try:
            future = ref.ask(message, block=False)
        except pykka.ActorDeadError:
            self.done(urn)
            raise
        return future.get(timeout=timeout_s)

    def add(self, urn: str) -> None:
        """Count one more message for `urn` (one a handle sends again to a restarted actor)."""
        with self._cond:
            self._pending[urn] = self._pending.get(urn, 0) + 1
            self._total += 1

    def busy_urns(self) -> dict[str, int]:
        with self._cond:
            return dict(self._pending)

    def done(self, urn: str) -> None:
        with self._cond:
            n = self._pending.get(urn, 0)
            if n > 0:
                self._pending[urn] = n - 1
                self._total -= 1
                if n == 1:
                    del self._pending[urn]
                    self._refs.pop(urn, None)
            idle = self._total == 0
            if idle:
                self._cond.notify_all()
        if idle and self._collector is not None:
            self._collector.idle()

    @property
    def busy(self) -> int:
        with self._cond:
            return self._total

    def _forget_dead(self) -> None:
        for urn, ref in list(self._refs.items()):
            if not ref.is_alive():
                n = self._pending.pop(urn, 0)
                self._refs.pop(urn, None)
                self._total -= n

    def _idle_now(self) -> bool:
        with self._cond:
            if self._total:
                self._forget_dead()
            return self._total == 0

    def wait_idle(self, timeout_s: float = 60.0, quiet: bool = False) -> bool:
        """Block until no message is in flight. Returns False on timeout (a hung actor)."""
        d = self.dispatcher
        if d is not None and d.runs_here():
            if d.wait_idle(self._idle_now, timeout_s):
                return True
            if not quiet:
                logger.error("actors still busy after {}s: {}", timeout_s, self.busy_urns())
            return False
        deadline = _wall.monotonic() + timeout_s
        with self._cond:
            while self._total > 0:
                remaining = deadline - _wall.monotonic()
                if remaining <= 0:
                    if not quiet:
                        stuck = {urn: n for urn, n in self._pending.items()}
                        logger.error("actors still busy after {}s: {}", timeout_s, stuck)
                    return False
                if not self._cond.wait(min(remaining, 0.05)):
                    self._forget_dead()
            return True


@dataclass(frozen=True)
class Runtime:
    """Infrastructure shared (read-only) by every actor."""

    clock: Clock
    scheduler: Any            # actors.scheduler.Scheduler
    activity: ActivityTracker
    audit: Any                # adapters.audit.log.Audit
    ask_timeout_s: float = 10.0
    streamed_quotes: bool = False   # every market change is pushed (replays): nothing is polled
    quiet_bands: bool = True        # streamed: positions are sent only the quotes that leave their band (issue 14)
    # Banded positions also sleep through cadence ticks (models/time_band.py). Virtual time only:
    # live, a quiet position still wakes every tick, so the mark `status` and the dashboard read
    # stays at most one tick old (a wake-up costs nothing at live sizes).
    time_bands: bool = True

    @property
    def dispatcher(self) -> Any:
        """The inline dispatcher the activity tracker runs (actors/dispatch.py); None: a thread per actor."""
        return self.activity.dispatcher

    def send(self, ref: pykka.ActorRef | None, message: Any) -> bool:
        if ref is None:
            return False
        return self.activity.send(ref, message)

    def ask(self, ref: pykka.ActorRef, message: Any) -> Any:
        """A bounded ask. Only ever ask an actor that never asks back (the Store)."""
        return self.activity.ask(ref, message, self.ask_timeout_s)


Handler = Callable[[Any], None]
