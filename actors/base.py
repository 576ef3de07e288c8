"""The base of every Arbees actor.

- Dispatch on message type: subclasses implement `handle(message)` with `match`; an unknown
  message is logged as a warning, never silently dropped.
- Every handled message is counted done in the ActivityTracker (virtual time depends on it).
- An exception in a handler is caught here, at the actor boundary: it is logged (without
  variable values), reported to the supervisor as ActorCrashed, and the actor stops; the
  supervisor restarts it from persisted state. Messages that reach a crashed actor before it
  stops are dropped (and counted done): the restarted actor re-derives what it needs.
- Core actors run behind a stable handle (actors/registry.py) and are watched by the Watchdog
  (actors/watchdog.py): a handler that raises drops its message with an ALERT and the actor is
  restarted from persisted state (`Rebuild`); messages come in Envelopes that are acknowledged
  here (or retained by the actor until its work is done, `retain`/`release`). An actor the
  handle no longer points at (replaced while stuck or dying) handles nothing more. A core
  actor without a handle (built alone in a test) skips a failing message with an ALERT.
- Heartbeat is answered here, for every core actor; `Stall` (fault injection) blocks a handler.
"""
from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any

import pykka
from loguru import logger

from actors.dispatch import InlineFuture, InlineInbox
from actors.registry import STALE, ActorHandle, Crash, Envelope, InjectedCrash, Stall
from actors.runtime import Runtime
from models import audit_events as ae
from models.commands import Heartbeat
from models.events import ActorCrashed, HeartbeatAck, PeerRestarted


@dataclass(frozen=True, slots=True)
class _Started:
    """Queued when an actor is built and handled right after its on_start: an actor that is
    still starting counts as busy, so virtual time never moves before its on_start has run
    (pykka runs on_start on the new thread, after start() has returned to the caller)."""


class ArbeesActor(pykka.ThreadingActor):
    """The base of every actor (see the module docstring).

    Receives: Heartbeat (answered for every core actor), PeerRestarted (-> on_peer_restarted),
    and the fault injections Stall and Crash; everything else goes to the subclass's `handle`.

    Sends: HeartbeatAck to the Watchdog; ActorCrashed to the Supervisor when a position or
    executor actor crashes; _Started to itself (virtual time waits for on_start).

    Asks: nothing.
    """

    kind = "actor"
    # Core actors built without a handle (alone, in a test) survive a failing message: it is
    # logged, alerted and skipped. Behind a handle they are restarted by the Watchdog; position
    # and executor actors crash and are restarted by the Supervisor / ExitRouter.
    survives_errors = False

    def __init__(self, rt: Runtime, key: str = "", supervisor: pykka.ActorRef | None = None, *,
                 handle: ActorHandle | None = None) -> None:
        self._dispatcher = rt.dispatcher     # None: a thread of its own (see actors/dispatch.py)
        super().__init__()
        self.rt = rt
        self.key = key
        self.supervisor = supervisor
        self.handle_ref = handle          # the stable reference of a supervised core actor
        self._crashed = False
        self._crash_reason = ""
        self._env: Envelope | None = None
        rt.activity.send(self.actor_ref, _Started())

    # pykka's hooks for an actor runtime: a thread (pykka.ThreadingActor) or the inline dispatcher
    def _create_actor_inbox(self) -> Any:      # type: ignore[override]  (pykka calls it from __init__)
        d = self._dispatcher
        return queue.Queue() if d is None else InlineInbox(d, self)

    @staticmethod
    def _create_future() -> Any:
        return InlineFuture()

    def _start_actor_loop(self) -> None:
        if self._dispatcher is None:
            super()._start_actor_loop()
        # inline: the inbox runs on_start before the first message (_Started, queued by __init__)

    @property
    def me(self) -> Any:
        """Where others should reply: the stable handle of a core actor, else this actor."""
        return self.handle_ref if self.handle_ref is not None else self.actor_ref

    # pykka entry point
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Envelope):
            return self._receive_enveloped(message)
        try:
            if self._crashed or isinstance(message, _Started) or self._replaced():
                return None
            return self._dispatch(message)
        finally:
            self.rt.activity.done(self.actor_urn)

    def _replaced(self) -> bool:
        return self.handle_ref is not None and not self.handle_ref.is_current(self.actor_ref)

    def _receive_enveloped(self, env: Envelope) -> Any:
        h = env.handle
        if self._crashed or not h.is_current(self.actor_ref):
            # The new actor behind the handle was (or will be) sent a tell; an ask is asked again.
            return STALE if env.seq == 0 else None
        h.begin(env)
        self._env = env
        failed = False
        try:
            result = self._dispatch(env.message)
            failed = self._crashed
            return result
        finally:
            h.finish(env, self.actor_ref, failed=failed)
            self._env = None
            if failed:
                h.report_down(self._crash_reason)

    def _dispatch(self, message: Any) -> Any:
        try:
            match message:
                case Heartbeat(reply_to=to, seq=seq):
                    self.send(to, HeartbeatAck(self.handle_ref.name if self.handle_ref else self.kind, seq))
                    return None
                case PeerRestarted(name=name):
                    self.on_peer_restarted(name)
                    return None
                case Stall():
                    message.block()
                    return None
                case Crash(reason=why):
                    raise InjectedCrash(why)
            return self.handle(message)
        except Exception as exc:  # noqa: BLE001 - the actor boundary
            if self.handle_ref is not None:
                self._fail(message, exc)
            elif self.survives_errors:
                self._skip(message, exc)
            else:
                self._crash(exc)
            return None

    def on_peer_restarted(self, name: str) -> None:
        """A core actor `name` was restarted: re-send it what it needs from this one."""

    def retain(self) -> int:
        """Keep the message being handled in the handle's journal after the handler returns (it
        is sent again to a restarted actor) until `release(token)`. 0 outside a handle."""
        if self._env is None or not self._env.seq:
            return 0
        self._env.handle.keep(self._env.seq)
        return self._env.seq

    def release(self, token: int) -> None:
        if token and self.handle_ref is not None:
            self.handle_ref.release(token)

    def handle(self, message: Any) -> Any:  # pragma: no cover - overridden
        self.unknown(message)

    def unknown(self, message: Any) -> None:
        logger.warning("{} {} ignored an unknown message {}", self.kind, self.key, type(message).__name__)

    def send(self, ref: pykka.ActorRef | None, message: Any) -> bool:
        return self.rt.send(ref, message)

    def _skip(self, message: Any, exc: Exception) -> None:
        logger.opt(exception=exc).error("{} {} skipped a {} it could not handle: {}", self.kind, self.key,
                                        type(message).__name__, type(exc).__name__)
        self.rt.audit.emit(ae.Alert(said=f"ALERT {self.kind} could not handle a {type(message).__name__} "
                                         f"({type(exc).__name__}: {exc}); skipped it and carries on",
                                    actor=self.kind, key=self.key, message_type=type(message).__name__,
                                    error=f"{type(exc).__name__}: {exc}"))

    def _fail(self, message: Any, exc: Exception) -> None:
        """A supervised core actor: drop the message that raised (with an ALERT) and stop taking
        messages; the Watchdog restarts it from persisted state and re-sends the rest."""
        self._crashed = True
        self._crash_reason = f"{type(exc).__name__} in a {type(message).__name__}: {exc}"
        logger.opt(exception=exc).error("{} crashed on a {}: {}", self.kind, type(message).__name__, type(exc).__name__)
        self.rt.audit.emit(ae.ActorCrashed(actor=self.kind, key=self.key, message_type=type(message).__name__,
                                           error=f"{type(exc).__name__}: {exc}"))
        if self._env is None and self.handle_ref is not None:
            self.handle_ref.report_down(self._crash_reason)   # not an enveloped message (a timer)

    def _crash(self, exc: Exception) -> None:
        self._crashed = True
        logger.opt(exception=exc).error("{} {} crashed: {}", self.kind, self.key, type(exc).__name__)
        self.rt.audit.emit(ae.ActorCrashed(actor=self.kind, key=self.key, error=f"{type(exc).__name__}: {exc}"))
        if self.supervisor is not None:
            self.send(self.supervisor, ActorCrashed(self.kind, self.key, f"{type(exc).__name__}: {exc}",
                                                        self.actor_urn))
        self.actor_ref.stop(block=False)
