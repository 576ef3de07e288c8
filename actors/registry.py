"""Stable references to the core actors: an ActorHandle stands for one core actor across its
restarts, and journals what is sent to it until the actor is done with it.

- Senders hold the handle, never the actor: `tell` wraps the message in an Envelope (a sequence
  number) and journals it; the actor acknowledges an envelope when its handler returns, or
  later when it `retain`s one (the RateLimiter keeps a call until its answer went out, the Store
  a write until it is committed).
- While the actor is being restarted, tells are journaled and held; the new actor is sent the
  whole journal (every message not acknowledged, in order) before anything newer. Messages a
  dead actor had queued are therefore delivered again, never dropped silently; commands are
  safe to repeat (orders carry their client_order_id, writes are upserts or keyed).
- A tell to a dead actor reports it down at once (`on_down`): the Watchdog restarts it. An ask
  waits (bounded by its timeout) for a restart in progress, then goes to the new actor.
- The activity tracker counts messages under the handle's stable urn, so virtual time waits for
  held and re-delivered messages too.

The envelope an actor is handling is `current` (with when it started, on the clock and on a
monotonic timer): the Watchdog and the virtual scheduler read it to find a handler that does
not return.
"""
from __future__ import annotations

import itertools
import threading
import time as _wall   # only to measure how long a handler has been running, never as the domain clock
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import pykka


RESTART_WAIT_S = 30.0     # longest an ask waits for a restart in progress (wall time)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message sent through a handle. seq 0: an ask (not journaled; the asker sees failures)."""
    handle: "ActorHandle"
    seq: int
    message: Any


class ActorHandle:
    """Looks like a pykka ActorRef to its users (tell, ask, proxy, is_alive, stop, actor_urn)."""

    def __init__(self, name: str, activity: Any, clock: Any = None,
                 on_down: Callable[[str, str, str], None] | None = None,
                 on_wait: Callable[[], bool] | None = None) -> None:
        self.name = name
        # Under the inline dispatcher (actors/dispatch.py) nothing runs beside a waiting ask: this
        # runs the Watchdog's messages (its restart of this actor) instead; True when it ran any.
        self.on_wait = on_wait
        self.clock = clock
        self.actor_urn = f"core:{name}"
        self.activity = activity
        self.on_down = on_down
        self._cond = threading.Condition(threading.RLock())
        self._target: pykka.ActorRef | None = None
        self._journal: OrderedDict[int, Envelope] = OrderedDict()
        self._handled: set[int] = set()          # retained envelopes whose handler has returned
        self._kept: set[int] = set()             # envelopes the actor retains
        self._seq = itertools.count(1)
        self._restarting = False
        self._down_reported = False
        self.closed = False
        self._given_up = False
        self.current: tuple[int, datetime, float] | None = None   # (seq, clock start, monotonic start)
        self._current_env: Envelope | None = None
        self._abandoned: deque[Envelope] = deque(maxlen=64)   # asks a replaced actor was stuck on

    # what senders use --------------------------------------------------------------------------
    @property
    def target(self) -> pykka.ActorRef | None:
        return self._target

    @property
    def actor_class(self) -> type | None:
        return None if self._target is None else self._target.actor_class

    def is_alive(self) -> bool:
        return not self.closed

    def tell(self, message: Any) -> None:
        with self._cond:
            if self.closed or (self._given_up and (self._target is None or not self._target.is_alive())):
                raise pykka.ActorDeadError(f"{self.name} is stopped")
            env = Envelope(self, next(self._seq), message)
            self._journal[env.seq] = env
            if self._restarting or self._target is None:
                return
            try:
                self._target.tell(env)
            except pykka.ActorDeadError:
                self._report_down("its actor is dead (a message could not be delivered)")

    def ask(self, message: Any, block: bool = True, timeout: float | None = None) -> Any:
        """An ask the actor it reached will not answer (it died, or was replaced while the ask
        waited in its inbox) is asked again of the new actor; one the actor was stuck on is not
        (its asker times out)."""
        deadline = _wall.monotonic() + (timeout if timeout is not None else RESTART_WAIT_S)
        asked = _Asked(self, message, self._send_ask(message, deadline), deadline)
        return asked.get(timeout=timeout) if block else asked

    def _send_ask(self, message: Any, deadline: float) -> tuple[pykka.ActorRef, Envelope, Any]:
        for _ in range(3):
            target = self._ready(deadline)
            if not target.is_alive():
                self.report_down("its actor is dead (found by an ask)")
                continue
            env = Envelope(self, 0, message)
            try:
                return target, env, target.ask(env, block=False)
            except pykka.ActorDeadError:
                self._report_down("its actor is dead (an ask could not be delivered)")
                continue
        raise pykka.ActorDeadError(f"{self.name} is dead and was not restarted in time")

    def _unanswered(self, target: pykka.ActorRef, env: Envelope) -> str | None:
        """Why an ask sent to `target` will get no answer: "stuck" (the actor was stuck on it),
        "replaced" (a new actor stands behind the handle), or None (wait on)."""
        with self._cond:
            if any(a is env for a in self._abandoned):
                return "stuck"
            current = self._target
            if not self._restarting and current is not None and current.actor_urn != target.actor_urn:
                return "replaced"
            return None

    def proxy(self) -> Any:
        """The current actor's pykka proxy; an actor found dead is reported down first and the
        proxy is of the one that replaces it (as an ask does)."""
        deadline = _wall.monotonic() + 10
        for _ in range(3):
            target = self._ready(deadline)
            if target.is_alive():
                return target.proxy()
            self.report_down("its actor is dead (found by a read)")
        raise pykka.ActorDeadError(f"{self.name} is dead and was not restarted in time")

    def stop(self, block: bool = True, timeout: float | None = None) -> Any:
        """Stop for good (the engine is stopping): no restart, later tells are refused."""
        with self._cond:
            self.closed = True
            target = self._target
            self._cond.notify_all()
        if target is not None:
            return target.stop(block=block, timeout=timeout)
        return None

    # what the actor behind it uses ----------------------------------------------------------
    def is_current(self, ref: pykka.ActorRef) -> bool:
        """False for an actor this handle no longer points at (replaced while stuck or dying):
        it must neither handle nor acknowledge anything (the new actor was sent it all)."""
        target = self._target
        return not self._restarting and target is not None and target.actor_urn == ref.actor_urn

    def begin(self, env: Envelope) -> None:
        self._current_env = env
        self.current = (env.seq, self.clock.now() if self.clock is not None else None, _wall.monotonic())

    def keep(self, seq: int) -> None:
        """The actor retains the envelope it is handling (see ArbeesActor.retain)."""
        with self._cond:
            if seq in self._journal:
                self._kept.add(seq)

    def finish(self, env: Envelope, ref: pykka.ActorRef, *, failed: bool = False) -> None:
        """The handler of `env` returned: count it done; forget it unless the actor kept it (a
        handler that raised: forget it anyway). Nothing, for an actor already replaced."""
        with self._cond:
            if not self.is_current(ref):
                return
            self.current = None
            self.activity.done(self.actor_urn)
            if env.seq:
                if env.seq in self._kept and not failed:
                    self._handled.add(env.seq)
                else:
                    self._kept.discard(env.seq)
                    self._journal.pop(env.seq, None)

    def release(self, seq: int | None) -> None:
        """A retained envelope is done with (its work is finished or handed on)."""
        if not seq:
            return
        with self._cond:
            self._journal.pop(seq, None)
            self._handled.discard(seq)
            self._kept.discard(seq)

    # what the Watchdog uses ----------------------------------------------------------------
    def _report_down(self, why: str) -> None:
        if self._down_reported or self.closed:
            return
        self._down_reported = True
        if self.on_down is not None:
            self.on_down(self.name, why, self._target.actor_urn if self._target is not None else "")

    def report_down(self, why: str) -> None:
        with self._cond:
            self._report_down(why)

    def begin_restart(self) -> Any:
        """Hold new tells until `complete_restart`. A handler still running (stuck) is abandoned.
        Its message is the suspect: it is dropped and returned (to be alerted), unless the actor
        had kept it as accepted work (a venue call under way), which goes to the new actor. A
        stuck ask is counted done (its asker times out)."""
        with self._cond:
            self._restarting = True
            dropped = None
            if self.current is not None:
                seq = self.current[0]
                if seq == 0:
                    self.activity.done(self.actor_urn)
                    if self._current_env is not None:
                        self._abandoned.append(self._current_env)
                elif seq not in self._kept:
                    env = self._journal.pop(seq, None)
                    if env is not None:
                        self.activity.done(self.actor_urn)
                        dropped = env.message
            self.current = None
            return dropped

    def complete_restart(self, new_ref: pykka.ActorRef, first: tuple = ()) -> int:
        """Point at the new actor, send it `first` (its wiring and Rebuild), then the journal,
        oldest first. Returns how many journaled messages were sent again."""
        with self._cond:
            self._target = new_ref
            self._restarting = False
            for message in first:
                self.activity.send(new_ref, message)
            for seq in self._handled:
                self.activity.add(self.actor_urn)              # done with once; counted busy again
            self._handled.clear()
            resent = 0
            for env in list(self._journal.values()):
                try:
                    new_ref.tell(env)
                    resent += 1
                except pykka.ActorDeadError:
                    break
            self._down_reported = False
            self._cond.notify_all()
            return resent

    def give_up(self) -> None:
        """The engine failed safe: no restart will come; asks stop waiting for one."""
        with self._cond:
            self._given_up = True
            target = self._target
            if self._restarting or target is None or not target.is_alive():
                # Nobody will handle what was held for it: count it done (virtual time moves on).
                for seq in self._journal:
                    if seq not in self._handled:
                        self.activity.done(self.actor_urn)
                self._journal.clear()
                self._handled.clear()
                self._kept.clear()
            self._cond.notify_all()

    def attach(self, ref: pykka.ActorRef) -> None:
        """The first actor behind this handle."""
        with self._cond:
            self._target = ref
            self._cond.notify_all()

    def newest_seq(self) -> int:
        """The sequence number of the newest message in the journal (0: none)."""
        with self._cond:
            return next(reversed(self._journal), 0)

    def backlog(self) -> int:
        """Messages sent and not yet done with (the inbox, and what the actor retains)."""
        with self._cond:
            return len(self._journal) - len(self._handled)

    def _ready(self, deadline: float | None) -> pykka.ActorRef:
        with self._cond:
            while self._restarting or self._target is None or self._down_reported:
                if self.closed or self._given_up:
                    break
                left = _left(deadline)
                if left is not None and left <= 0:
                    raise pykka.Timeout(f"{self.name} is being restarted")
                if self.on_wait is not None and self.on_wait():
                    continue
                self._cond.wait(0.05 if left is None else min(left, 0.05))
            if self.closed or self._target is None:
                raise pykka.ActorDeadError(f"{self.name} is stopped")
            return self._target


@dataclass(frozen=True)
class Stall:
    """Fault injection (the simulator's core_stall): the handler that gets this does not return
    until `release` is set (or `max_wait_s` of wall time, so no thread is left behind)."""
    release: threading.Event
    max_wait_s: float = 30.0

    def block(self) -> None:
        self.release.wait(self.max_wait_s)


@dataclass(frozen=True, slots=True)
class Crash:
    """Fault injection (the simulator's core_crash): the handler that gets this raises."""
    reason: str


class InjectedCrash(RuntimeError):
    """What a Crash makes a handler raise."""


STALE = object()    # what a replaced (or crashed) actor answers an ask it does not handle


class _Asked:
    """The future of an ask through a handle: `get` waits for the answer, and asks the new
    actor again when the one asked will not answer (see ActorHandle.ask)."""

    def __init__(self, handle: ActorHandle, message: Any, attempt: tuple, deadline: float) -> None:
        self.handle, self.message, self.attempt, self.deadline = handle, message, attempt, deadline

    def get(self, timeout: float | None = None) -> Any:
        deadline = self.deadline if timeout is None else _wall.monotonic() + timeout
        while True:
            target, env, future = self.attempt
            left = deadline - _wall.monotonic()
            try:
                value = future.get(timeout=max(min(left, 0.05), 0.0))
            except pykka.Timeout:
                if _wall.monotonic() >= deadline:
                    raise
                why = self.handle._unanswered(target, env)
                if why == "stuck":
                    raise pykka.Timeout(f"{self.handle.name} was stuck on this ask and was replaced") from None
                if why == "replaced":
                    self.attempt = self.handle._send_ask(self.message, deadline)
                continue
            except pykka.ActorDeadError:
                self.handle.report_down("its actor died with an ask waiting")
                self.attempt = self.handle._send_ask(self.message, deadline)
                continue
            if value is STALE:
                self.attempt = self.handle._send_ask(self.message, deadline)
                continue
            return value


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - _wall.monotonic(), 0.0)


def unwrap(message: Any) -> tuple[Envelope | None, Any]:
    return (message, message.message) if isinstance(message, Envelope) else (None, message)


class EngineFailure:
    """Set once by the Watchdog when the engine fails safe; read by whoever runs the engine
    (it stops the engine, flattens at the venue and exits non-zero)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reason: str | None = None
        self.listeners: list[Callable[[], None]] = []     # e.g. the live loop's "stop waiting"

    def fail(self, reason: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        for listener in tuple(self.listeners):
            listener()
