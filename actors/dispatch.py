"""The inline dispatcher: every actor's handlers run on the one thread that drives virtual time.

An actor is a pykka actor either way (its own state, its own inbox, refs, proxies, futures, the
registry); what differs is who runs its handlers. Live, each actor has its own thread
(pykka.ThreadingActor), because a venue call blocks and the market does not wait. On virtual
time (paper, replay, bench) nothing blocks on the world and virtual time only moves when every
actor is idle, so a thread per actor buys no concurrency: it costs two thread hand-offs per
message (about 50 µs each here, most of a replay's wall time) and makes runs depend on how the
OS schedules threads. The inline dispatcher runs the same handlers, one message at a time, in
the order the messages were sent, on the thread that waits for the actors to go idle (the
VirtualScheduler's settle). Akka calls this a dispatcher; NautilusTrader's backtest kernel runs
the same way.

Guarantees kept from the threaded runtime:
- One message at a time per actor, in the order it was sent (each actor has its own FIFO inbox);
  across actors, messages run in the order they were sent too, save the messages an ask runs
  early (below): their places in the queue are then passed over.
- An actor's on_start runs before its first message; after it stops, a tell is refused, and an
  ask still in its inbox is answered ActorDeadError (as pykka's loop teardown does).
- An ask (a future's `get`) made on the dispatching thread runs the asked actor's inbox up to
  the answer, in order, before returning; only the Store is asked from inside a handler (the
  "no ask cycles" rule), and an actor is never entered twice: asking an actor whose handler is
  on the stack does not run it (the ask times out, as it would with threads).
- Messages put from another thread (an I/O thread) are picked up by the next settle.

Not for: a handler that blocks on purpose (the fault injections Stall, and core-actor restarts
under a stuck handler, need the Watchdog running beside it): engines that inject faults use
threads.
"""
from __future__ import annotations

import sys
import threading
import time as _wall   # only to bound how long a settle waits for another thread's message
from collections import deque
from typing import Any, Callable

import pykka
from pykka import messages as pykka_messages
from pykka._threading import ThreadingFuture   # pykka's future; inline asks only add a pump to it


class Dispatcher:
    """Runs actors' messages in the order they were sent (see the module docstring)."""

    def __init__(self, collector: Any = None) -> None:
        self.collector = collector                   # actors/idle_gc.py: told when a drain leaves nothing
        # one entry per message put, oldest first: (inbox, envelope)
        self._ready: deque[tuple[InlineInbox, Any]] = deque()
        self._wake = threading.Condition(threading.Lock())
        self._put = threading.Lock()                 # a message and its place are queued together
        self._driver = threading.RLock()             # the thread dispatching now
        self._owner: int | None = None
        self._draining = False                       # a drain is under way (drains never nest)
        self._idle: list[Callable[[], object]] = []   # run once when nothing is left to handle
        self.handled = 0

    # what inboxes use --------------------------------------------------------------------------
    def schedule(self, inbox: "InlineInbox", envelope: Any) -> None:
        """Queue `envelope` in `inbox` and take its place in the send order, as one step: two
        threads putting into one inbox at once must leave its messages and their places in the
        same order (a place whose message is not at the head of its inbox is passed over)."""
        with self._put:
            inbox.queue.append(envelope)
            self._ready.append((inbox, envelope))
        if self._owner is None or self._owner != threading.get_ident():
            with self._wake:
                self._wake.notify_all()

    def when_idle(self, callback: Callable[[], object]) -> None:
        """Run `callback` once, on the dispatching thread, the next time a drain finds no message
        left (every actor idle, before virtual time moves on); what it sends is handled in the
        same drain. The Store commits there what it wrote since (actors/store.py)."""
        self._idle.append(callback)

    def runs_here(self) -> bool:
        """True when the calling thread may dispatch: no other thread is. Inside a handler this is
        the dispatching thread: it may run an asked actor's inbox (pump), never a whole drain."""
        return self._owner is None or self._owner == threading.get_ident()

    # what the driver uses --------------------------------------------------------------------
    def drain(self) -> int:
        """Handle every message queued, and those they send, until none is left. Called from inside
        a handler (a wait for idle there), it does nothing: the drain under way goes on after it."""
        n = 0
        with self._driver:
            if self._draining:
                return 0
            self._owner, self._draining = threading.get_ident(), True
            try:
                ready = self._ready
                while True:
                    while ready:
                        inbox, envelope = ready.popleft()
                        # An ask's pump may have run this message already (its actor's inbox up to
                        # the answer): then its entry is passed over, so that every other message
                        # still runs in the order it was sent.
                        queue = inbox.queue
                        if queue and queue[0] is envelope:
                            inbox.run_one()
                            n += 1
                    if not self._idle:
                        break
                    callbacks, self._idle = self._idle, []
                    for callback in callbacks:
                        callback()
                if self.collector is not None:
                    self.collector.idle()        # every actor is idle: the moment for garbage collection
            finally:
                self._owner, self._draining = None, False
        self.handled += n
        return n

    def wait_idle(self, is_idle: Callable[[], bool], timeout_s: float) -> bool:
        """Drain until `is_idle()`; messages from other threads are waited for up to `timeout_s`."""
        deadline = _wall.monotonic() + timeout_s
        while True:
            self.drain()
            if is_idle():
                return True
            left = deadline - _wall.monotonic()
            if left <= 0:
                return False
            with self._wake:
                if not self._ready:
                    self._wake.wait(min(left, 0.01))

    def pump(self, inbox: "InlineInbox", done: Callable[[], bool]) -> bool:
        """Run `inbox`'s messages in order until `done()` (an ask's answer has come) or it is empty.
        Only on the dispatching thread, and never into an actor whose handler is on the stack.
        True when it ran any."""
        if inbox.running or not inbox.queue or not self.runs_here():
            return False
        with self._driver:
            owner, self._owner = self._owner, threading.get_ident()
            try:
                while not done() and inbox.queue:
                    inbox.run_one()
                    self.handled += 1
            finally:
                self._owner = owner
        return True

    def pump_ref(self, ref: Any) -> bool:
        """Run every message queued at `ref`'s actor (an inline one); True when there was any."""
        inbox = getattr(ref, "actor_inbox", None)
        return isinstance(inbox, InlineInbox) and self.pump(inbox, lambda: False)


class InlineInbox:
    """An actor's inbox under the Dispatcher: pykka puts envelopes in it, the Dispatcher runs
    them. It keeps the actor alive while messages wait (pykka's thread would)."""

    __slots__ = ("dispatcher", "actor", "queue", "running", "started")

    def __init__(self, dispatcher: Dispatcher, actor: pykka.Actor) -> None:
        self.dispatcher = dispatcher
        self.actor = actor
        self.queue: deque[Any] = deque()
        self.running = False
        self.started = False

    # the part of queue.Queue pykka uses
    def put(self, envelope: Any, block: bool = True, timeout: float | None = None) -> None:
        future = getattr(envelope, "reply_to", None)
        if isinstance(future, InlineFuture):
            future.inbox = self
        self.dispatcher.schedule(self, envelope)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return self.queue.popleft()

    def empty(self) -> bool:
        return not self.queue

    def qsize(self) -> int:
        return len(self.queue)

    def run_one(self) -> None:
        """pykka's actor loop, for one message (pykka/_actor.py: setup, running, teardown)."""
        actor = self.actor
        envelope = self.queue.popleft()
        self.running = True
        try:
            if not self.started:
                self.started = True
                actor._actor_loop_setup()                                  # on_start
            if actor.actor_stopped.is_set():
                _answer_dead(actor, envelope)
                return
            try:
                response = actor._handle_receive(envelope.message)
                if envelope.reply_to is not None:
                    envelope.reply_to.set(response)
            except Exception:
                if envelope.reply_to is not None:
                    envelope.reply_to.set_exception()
                else:
                    actor._handle_failure(*sys.exc_info())
                    try:
                        actor.on_failure(*sys.exc_info())
                    except Exception:  # noqa: BLE001 - as pykka's loop
                        actor._handle_failure(*sys.exc_info())
        finally:
            self.running = False


def _answer_dead(actor: pykka.Actor, envelope: Any) -> None:
    if envelope.reply_to is None:
        return
    if isinstance(envelope.message, pykka_messages._ActorStop):
        envelope.reply_to.set(None)
    else:
        envelope.reply_to.set_exception(exc_info=(
            pykka.ActorDeadError, pykka.ActorDeadError(f"{actor.actor_ref} stopped before handling the message"), None))


class InlineFuture(ThreadingFuture):
    """pykka's threading future, plus: `get` on the dispatching thread first runs the asked
    actor's inbox up to the answer (under threads, the actor's own thread would)."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: InlineInbox | None = None

    def get(self, *, timeout: float | None = None) -> Any:
        inbox = self.inbox
        if self._result is None and inbox is not None:
            inbox.dispatcher.pump(inbox, lambda: self._result is not None)
        return super().get(timeout=timeout)
