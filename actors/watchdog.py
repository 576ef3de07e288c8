"""Watchdog: the root of supervision. It restarts the core actors (Store, Supervisor,
RiskManager, RateLimiter, PriceCache, ExitRouter, EntryManager, GameFeed) and fails the
engine safe when restarting is not enough.

- A core actor is restarted when it raises in a handler, when a message to it finds it dead,
  or when the heartbeat finds it dead or stuck: a handler running longer than its limit, more
  messages waiting than its backlog limit, or a heartbeat unanswered past its limit. The
  heartbeat runs on the scheduler every `heartbeat_secs` (virtual time in tests; on virtual time
  a handler that never returns also stops the clock, so the scheduler reports it: see
  VirtualScheduler.stuck_after_s). Under the inline dispatcher (actors/dispatch.py) there is no
  heartbeat: every message is handled on the driving thread before the clock moves, so no
  handler can hang unseen (it would hang the run itself), no inbox can grow behind a busy
  thread, and a heartbeat would always be answered; a handler that raises reports its actor
  down at once, and a message sent to an actor that died any other way finds it dead and
  reports it (ActorHandle.tell) -- the restart then happens before that message is handled.
- A restart: the handle holds new messages; the old actor is stopped (a stuck one is
  abandoned: it handles nothing more); a new one is built by the actor's CoreSpec and told to
  `Rebuild` from persisted state; the handle sends it every message not yet done with; every
  other core actor is told `PeerRestarted` (so the Supervisor re-subscribes positions to a new
  PriceCache, the RiskManager re-announces a tripped breaker, ...). ACTOR_RESTARTED and an ALERT.
- Restart intensity: more than `max_restarts` core restarts within `window_secs` (or a restart
  that fails) and the engine fails safe: ENGINE_FAILED_SAFE and an ALERT, entries halted, every
  position actor sent a circuit breaker (a CRITICAL exit) directly, not through the Supervisor,
  and `failure` set: the engine's owner stops the engine, flattens every position at the venue
  directly (adapters/engine/fail_safe.py) and exits non-zero.
- The Watchdog itself is not restarted: its handlers only read handles and start actors, and
  every exception in them is caught at the actor boundary (it is the root, like a kernel).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import pykka
from loguru import logger

from actors.base import ArbeesActor
from actors.registry import ActorHandle, EngineFailure
from models import audit_events as ae
from models.commands import HaltEntries, Heartbeat
from models.events import CircuitBreakerTripped, CoreActorDown, HeartbeatAck, PeerRestarted


@dataclass(frozen=True, slots=True)
class Beat:
    """The Watchdog's own timer."""
    generation: int


@dataclass(frozen=True)
class CoreSpec:
    """How to (re)build one core actor behind its handle, and when it counts as stuck."""
    name: str
    start: Callable[[ActorHandle], pykka.ActorRef]   # a fresh actor behind the handle
    rebuild: Callable[[], tuple]                     # its first messages (wiring, Rebuild)
    stall_limit_secs: float = 30.0       # a handler running longer / a heartbeat unanswered longer
    backlog_limit: int = 50_000          # messages waiting (not retained work)


@dataclass(frozen=True, slots=True)
class Watch:
    spec: CoreSpec
    handle: ActorHandle


class Watchdog(ArbeesActor):
    """The root of supervision (see the module docstring).

    Receives: Watch (a core actor to watch), CoreActorDown, HeartbeatAck, and its own timer Beat.

    Sends: Heartbeat to every core actor; PeerRestarted to the others after a restart; when
    failing safe, HaltEntries to the EntryManager and CircuitBreakerTripped to every position
    actor directly; Beat to itself.

    Asks: nothing (it never waits on an actor it watches).
    """

    kind = "watchdog"
    survives_errors = True

    def __init__(self, rt, failure: EngineFailure, *, heartbeat_secs: float = 5.0, max_restarts: int = 8,
                 window_secs: float = 60.0) -> None:
        super().__init__(rt, "watchdog")
        self.failure = failure
        self.heartbeat = timedelta(seconds=heartbeat_secs)
        self.max_restarts = max_restarts
        self.window = timedelta(seconds=window_secs)
        self.specs: dict[str, CoreSpec] = {}
        self.handles: dict[str, ActorHandle] = {}
        self.history: deque[datetime] = deque()
        self.restarts: dict[str, int] = {}
        self._asked: dict[str, tuple[int, datetime]] = {}     # last heartbeat sent: (seq, when)
        self._acked: dict[str, int] = {}
        self._seq = 0
        self._gen = 0
        self._timer = None

    def on_start(self) -> None:
        if self.rt.dispatcher is None:         # inline: no heartbeat (see the module docstring)
            self._arm()

    def _arm(self) -> None:
        self._gen += 1
        self._timer = self.rt.scheduler.call_later(self.heartbeat, self.actor_ref, Beat(self._gen))

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def handle(self, message: Any) -> None:
        match message:
            case Watch(spec=spec, handle=h):
                self.specs[spec.name], self.handles[spec.name] = spec, h
            case Beat(generation=g):
                if g == self._gen:
                    self._beat()
                    self._arm()
            case HeartbeatAck(name=name, seq=seq):
                self._acked[name] = max(seq, self._acked.get(name, 0))
            case CoreActorDown(name=name, reason=why, urn=urn):
                target = self.handles[name].target if name in self.handles else None
                if urn and target is not None and target.actor_urn != urn:
                    return        # about an actor already replaced (the heartbeat got there first)
                self._restart(name, why)
            case _:
                self.unknown(message)

    # the heartbeat -------------------------------------------------------------------------
    def _beat(self) -> None:
        now = self.rt.clock.now()
        self._seq += 1
        for name, h in tuple(self.handles.items()):
            if h.closed or self.failure.reason:
                continue
            why = self._problem(name, h, now)
            if why is not None:
                self._restart(name, why)
                continue
            if name not in self._asked or self._acked.get(name, 0) >= self._asked[name][0]:
                self._asked[name] = (self._seq, now)
            self.send(h, Heartbeat(self.actor_ref, self._seq))

    def _problem(self, name: str, h: ActorHandle, now: datetime) -> str | None:
        limit = timedelta(seconds=self.specs[name].stall_limit_secs)
        target = h.target
        if target is None or not target.is_alive():
            return "found dead by the heartbeat"
        current = h.current
        if current is not None and current[1] is not None and now - current[1] > limit:
            return f"stuck: a handler has not returned for {(now - current[1]).total_seconds():.0f}s"
        backlog = h.backlog()
        if backlog > self.specs[name].backlog_limit:
            return f"stuck: {backlog} messages waiting (limit {self.specs[name].backlog_limit})"
        asked = self._asked.get(name)
        if asked is not None and self._acked.get(name, 0) < asked[0] and now - asked[1] > limit:
            return f"stuck: no heartbeat answer for {(now - asked[1]).total_seconds():.0f}s"
        return None

    # restarts ------------------------------------------------------------------------------
    def _restart(self, name: str, why: str) -> None:
        h, spec = self.handles.get(name), self.specs.get(name)
        if h is None or spec is None or h.closed or self.failure.reason:
            return
        now = self.rt.clock.now()
        self.history.append(now)
        while self.history and self.history[0] <= now - self.window:
            self.history.popleft()
        if len(self.history) > self.max_restarts:
            self._fail_safe(f"{len(self.history)} core actor restarts within {self.window.total_seconds():.0f}s "
                            f"(the last: {name}, {why})")
            return
        old = h.target
        dropped = h.begin_restart()
        if dropped is not None:
            self.rt.audit.emit(ae.Alert(said=f"ALERT {name} was stuck on a {type(dropped).__name__}: that message is "
                                             "dropped", actor=name, message_type=type(dropped).__name__))
        if old is not None:
            try:
                old.stop(block=False)
            except pykka.ActorDeadError:
                pass
        try:
            new = spec.start(h)
        except Exception as exc:  # noqa: BLE001 - a restart that fails fails the engine safe
            logger.opt(exception=exc).error("watchdog: restarting {} failed", name)
            self._fail_safe(f"{name} could not be restarted: {type(exc).__name__}: {exc}")
            return
        resent = h.complete_restart(new, spec.rebuild())
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self._asked.pop(name, None)
        self.rt.audit.emit(ae.ActorRestarted(actor=name, reason=why, resent=resent,
                                             restarts_in_window=len(self.history)))
        self.rt.audit.emit(ae.Alert(said=f"ALERT core actor {name} was restarted ({why})", actor=name, reason=why))
        for other, oh in self.handles.items():
            if other != name and not oh.closed:
                self.send(oh, PeerRestarted(name))

    def _fail_safe(self, reason: str) -> None:
        """Entries halt, every position gets a CRITICAL exit without going through the Supervisor,
        an ALERT goes out, and the owner is told to flatten at the venue and exit non-zero."""
        if self.failure.reason:
            return
        self.rt.audit.emit(ae.EngineFailedSafe(reason=reason))
        self.rt.audit.emit(ae.Alert(said=f"ALERT engine failing safe: {reason}", reason=reason))
        entries = self.handles.get("entry_manager")
        if entries is not None and not entries.closed:
            self.send(entries, HaltEntries(f"engine failing safe: {reason}"))
        from actors.position import PositionActor

        breaker = CircuitBreakerTripped()
        for ref in pykka.ActorRegistry.get_by_class(PositionActor):
            self.send(ref, breaker)
        for h in self.handles.values():
            h.give_up()
        self.failure.fail(reason)
