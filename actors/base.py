"""The base of every Arbees actor.

- Dispatch on message type: subclasses implement `handle(message)` with `match`; an unknown
  message is logged as a warning, never silently dropped.
- Every handled message is counted done in the ActivityTracker (virtual time depends on it).
- An exception in a handler is caught here, at the actor boundary: it is logged (without
  variable values), reported to the supervisor as ActorCrashed, and the actor stops; the
  supervisor restarts it from persisted state. Core actors (`survives_errors`) instead skip
  the message with an ALERT and carry on: their state is not persisted and all hold their ref. Messages that reach a crashed actor before it
  stops are dropped (and counted done): the restarted actor re-derives what it needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka
from loguru import logger

from actors.runtime import Runtime
from models.messages import ActorCrashed


@dataclass(frozen=True, slots=True)
class _Started:
    """Queued when an actor is built and handled right after its on_start: an actor that is
    still starting counts as busy, so virtual time never moves before its on_start has run
    (pykka runs on_start on the new thread, after start() has returned to the caller)."""


class ArbeesActor(pykka.ThreadingActor):
    kind = "actor"
    # Core actors (one each, long-lived state that is not persisted, everyone holds their ref)
    # survive a failing message: it is logged, alerted and skipped. Position and executor actors
    # crash instead and are restarted from persisted state.
    survives_errors = False

    def __init__(self, rt: Runtime, key: str = "", supervisor: pykka.ActorRef | None = None) -> None:
        super().__init__()
        self.rt = rt
        self.key = key
        self.supervisor = supervisor
        self._crashed = False
        rt.activity.send(self.actor_ref, _Started())

    # pykka entry point
    def on_receive(self, message: Any) -> Any:
        try:
            if self._crashed or isinstance(message, _Started):
                return None
            try:
                return self.handle(message)
            except Exception as exc:  # noqa: BLE001 - the actor boundary
                if self.survives_errors:
                    self._skip(message, exc)
                else:
                    self._crash(exc)
                return None
        finally:
            self.rt.activity.done(self.actor_urn)

    def handle(self, message: Any) -> Any:  # pragma: no cover - overridden
        self.unknown(message)

    def unknown(self, message: Any) -> None:
        logger.warning("{} {} ignored an unknown message {}", self.kind, self.key, type(message).__name__)

    def send(self, ref: pykka.ActorRef | None, message: Any) -> bool:
        return self.rt.send(ref, message)

    def _skip(self, message: Any, exc: Exception) -> None:
        logger.opt(exception=exc).error("{} {} skipped a {} it could not handle: {}", self.kind, self.key,
                                        type(message).__name__, type(exc).__name__)
        self.rt.audit.emit("ALERT", f"ALERT {self.kind} could not handle a {type(message).__name__} "
                                    f"({type(exc).__name__}: {exc}); skipped it and carries on",
                           actor=self.kind, key=self.key, message_type=type(message).__name__,
                           error=f"{type(exc).__name__}: {exc}")

    def _crash(self, exc: Exception) -> None:
        self._crashed = True
        logger.opt(exception=exc).error("{} {} crashed: {}", self.kind, self.key, type(exc).__name__)
        self.rt.audit.emit("ACTOR_CRASHED", f"{self.kind} {self.key} crashed: {type(exc).__name__}: {exc}",
                           actor=self.kind, key=self.key, error=f"{type(exc).__name__}: {exc}")
        if self.supervisor is not None:
            self.send(self.supervisor, ActorCrashed(self.kind, self.key, f"{type(exc).__name__}: {exc}"))
        self.actor_ref.stop(block=False)
