"""RateLimiter: the one gateway to the venue, and the owner of the call budget.

Every venue call is a VenueCall message. Calls wait in a priority queue (exit orders and
their cancels first, most urgent exit priority first, then entries, then reads) and are made
one at a time while the sliding one-minute budget has room (reads leave the last
`reserved_for_orders` calls of each minute to orders, and entries and LOW or MEDIUM exits leave
half of those, at least one, to CRITICAL and HIGH exits: a stop, or the cancel of the exit it
preempts, finds a call at once after a burst of LOW work). Reads are never starved: a read that
has waited `read_patience` (the quote TTL: the positions that asked are blind by then) ranks
ahead of entries and LOW/MEDIUM exits and goes under their limit; one batched read serves every
market, so a few calls a minute keep every stop watched. Otherwise a BudgetFreed timer
wakes the limiter when the oldest call leaves the window. The result goes back to `reply_to`
as a VenueResult.

A caller may take back a call still waiting (WithdrawCall: answered CallWithdrawn, never made;
a call already made once, or re-sent to a restarted limiter, is never taken back, since the venue
may have it) or move it up to a more urgent exit priority (ExpediteCall): a preempted exit's order
that waits for the budget is withdrawn, and its cancel goes at the priority of the preempting exit.

Failures: RateLimited (429) is retried after a jittered exponential back-off, re-queued at the
same priority; reads are also retried on VenueUnavailable (5xx, timeout). A create or cancel
that fails is answered with the error: only the caller knows whether to look the order up.
Each failure is reported to the RiskManager (API failure breaker).

The budget counts requests, not calls: a venue that offers `set_request_gate` (Kalshi) is handed
this limiter's gate, and every HTTP request one call makes (each page of a list, each retry of a
429 or 5xx, the look-up after a lost create) spends a slot or is not sent. A call the gate stops
half-way (BudgetExhausted) waits in the queue for the budget to free and runs again; one that
needs more requests than a whole minute's budget is answered with the error. Venues without a
gate (paper) make one request per call and are counted per call. `call_log` lists requests.
Restart (actors/watchdog.py): every call is kept in the handle's journal until its answer went
out, so a restarted RateLimiter is sent again every call it had queued, parked for a retry or
was making (a repeated create carries the same client_order_id: the venue answers "already
used" and the caller looks it up). The call log outlives the actor (`call_log`), so the new one
counts the last minute's calls against its budget.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
import heapq
import itertools
import random
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from loguru import logger

from actors.base import ArbeesActor
from models.venue import BudgetExhausted, RateLimited, Venue, VenueError, VenueUnavailable
from models import audit_events as ae
from models.budget import WINDOW, CallBudget
from models.priorities import Priority
from models.retry import jittered_delay_secs
from models.commands import CallKind, ExpediteCall, PriorCalls, Rebuild, VenueCall, WithdrawCall
from models.events import ApiCallFailed, ApiCallSucceeded, CallWithdrawn, VenueResult


@dataclass(frozen=True, slots=True)
class BudgetFreed:
    """The rate limiter's window has room again."""


@dataclass(frozen=True, slots=True)
class RetryCall:
    request_id: str


READ_METHODS = frozenset({"get_quotes", "get_orderbook", "get_order", "find_order", "list_orders",
                          "get_positions", "get_fills", "get_balance"})


class RateLimiter(ArbeesActor):
    """The one gateway to the venue (see the module docstring).

    Receives: VenueCall, WithdrawCall, ExpediteCall, PriorCalls, Rebuild, and its own timers
    BudgetFreed and RetryCall.

    Sends: VenueResult (or CallWithdrawn) to each call's reply_to; ApiCallSucceeded and ApiCallFailed to the
    RiskManager; BudgetFreed and RetryCall to itself through the scheduler.

    Asks: nothing (it is asked for `call_log` by the Heartbeat).
    """

    kind = "rate_limiter"
    survives_errors = True

    def __init__(self, rt, venue: Venue, calls_per_minute: int, risk_manager=None, *, max_retries: int = 5,
                 backoff_base_s: float = 1.0, seed: int = 0, reserved_for_orders: int = 0,
                 read_patience_secs: float = 10, call_log: deque | None = None, handle=None) -> None:
        super().__init__(rt, "venue", handle=handle)
        self.venue = venue
        self.budget = CallBudget(calls_per_minute)
        # Reads stop `reserved_for_orders` calls short of the limit, so an exit (or entry) that
        # arrives after a burst of polling still finds room at once.
        self.read_limit = calls_per_minute - reserved_for_orders
        # Entries and LOW/MEDIUM exits stop half of that short (at least one call when there is a
        # reserve): a stop after a burst of early exits goes out at once, not a minute later.
        self.order_limit = calls_per_minute - (reserved_for_orders + 1) // 2
        # A read waiting this long goes ahead of entries and LOW/MEDIUM exits, under their limit.
        self.read_patience = timedelta(seconds=float(read_patience_secs))
        self._read_since: dict[str, datetime] = {}     # request_id -> when a waiting read arrived (in that order)
        self.risk_manager = risk_manager
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self._rng = random.Random(seed)
        # (kind, priority, arrival, call, journal token, made before: never withdrawn)
        self._queue: list[tuple[int, int, int, VenueCall, int, bool]] = []
        self._replayed_upto = 0        # after a restart: calls journaled up to here may have been made
        self._seq = itertools.count()
        self._retries: dict[str, int] = {}
        self._parked: dict[str, tuple[VenueCall, int]] = {}
        self._wake_armed_for: datetime | None = None
        # (time, method) of recent requests, for invariant checks and benchmarks; bounded for long runs.
        # It outlives a restarted RateLimiter (the handle's builder hands it in): the last minute's
        # requests still count against the new one's budget.
        self.call_log: deque[tuple[datetime, str]] = deque(maxlen=100_000) if call_log is None else call_log
        now = rt.clock.now()
        for t, _ in tuple(self.call_log):
            if t > now - WINDOW:
                self.budget.record(t)
        # The call in progress, as the request gate sees it (the gate runs while this actor waits).
        self._call_limit = calls_per_minute
        self._call_method = ""
        self._call_requests = 0
        set_gate = getattr(venue, "set_request_gate", None)
        self._gated = callable(set_gate)
        if self._gated:
            set_gate(self._admit)

    def on_stop(self) -> None:
        if self._gated and self.handle_ref is not None and not self.handle_ref.is_current(self.actor_ref):
            return       # replaced (or being replaced): the new limiter installs its own gate; never clear it
        if self._gated:
            previous = self.venue.set_request_gate(None)
            if previous != self._admit:          # a newer limiter's gate: leave it in place
                self.venue.set_request_gate(previous)

    def _admit(self, now: datetime, what: str) -> bool:
        """The request gate: one slot of the budget per request, under the current call's limit."""
        if not self.budget.try_spend_for(now, self._call_limit):
            return False
        self._call_requests += 1
        self.call_log.append((now, self._call_method))
        return True

    def handle(self, message: Any) -> None:
        match message:
            case VenueCall():
                if message.kind == CallKind.READ:
                    self._read_since.setdefault(message.request_id, self.rt.clock.now())
                heapq.heappush(self._queue, (message.kind, message.priority, next(self._seq), message, self.retain(),
                                             False))
                self._drain()
            case WithdrawCall(request_id=rid):
                self._withdraw(rid)
            case ExpediteCall(request_id=rid, priority=priority):
                self._expedite(rid, priority)
                self._drain()           # a more urgent call may use the slots kept for urgent exits
            case PriorCalls(times=times):
                self.retain()      # kept: a restarted RateLimiter counts them too
                now = self.rt.clock.now()
                for t in times:
                    if t > now - WINDOW:
                        self.budget.record(t)
                self._drain()
            case BudgetFreed():
                self._wake_armed_for = None
                self._drain()
            case RetryCall(request_id=rid):
                parked = self._parked.pop(rid, None)
                if parked is not None:
                    call, token = parked
                    heapq.heappush(self._queue, (call.kind, call.priority, next(self._seq), call, token, True))
                self._drain()
            case Rebuild():
                # The handle re-sends every call not answered (the call log carried over); the old
                # limiter may have been making any of them: none of those is ever withdrawn.
                if self.handle_ref is not None:
                    self._replayed_upto = self.handle_ref.newest_seq()
            case _:
                self.unknown(message)

    def _drain(self) -> None:
        while self._queue:
            now = self.rt.clock.now()
            i = self._next_index(now)
            limit = self._limit_for(self._queue[i][3])
            if not self.budget.available_for(now, limit):
                # The next call is the most urgent waiting, and a less urgent one's limit is never
                # higher; a read that comes of age before a slot frees may go under a higher one.
                # (reads are kept in order of arrival: the first not yet of age is the next to come of age)
                coming = next((t + self.read_patience for t in self._read_since.values()
                               if t + self.read_patience > now), None)
                wake_at = self.budget.next_free_for(now, limit) if coming is None else \
                    min(self.budget.next_free_for(now, limit), coming)
                if self._wake_armed_for is None or wake_at < self._wake_armed_for:
                    self._wake_armed_for = wake_at
                    self.rt.scheduler.call_at(wake_at, self.actor_ref, BudgetFreed())
                return
            _, _, _, call, token, _ = self._take(i)
            if self._gated:     # the venue spends per request through _admit
                self._call_limit = limit
                self._call_method, self._call_requests = call.method, 0
            else:
                self.budget.spend(now)
                self.call_log.append((now, call.method))
            self._execute(call, now, token)

    def _next_index(self, now: datetime) -> int:
        """Where in the queue the call to make next is: the head, unless the head is no CRITICAL or
        HIGH exit and a read has waited `read_patience` (then the read that arrived first)."""
        head = self._queue[0]
        if head[0] == CallKind.EXIT and head[1] <= Priority.HIGH:
            return 0
        oldest = next(iter(self._read_since.values()), None)
        if oldest is None or now - oldest < self.read_patience:
            return 0          # no read has waited its patience: O(1) on every call, no scan of the queue
        aged = [(e[2], i) for i, e in enumerate(self._queue) if e[0] == CallKind.READ and self._aged(e[3], now)]
        return min(aged)[1] if aged else 0

    def _aged(self, call: VenueCall, now: datetime) -> bool:
        since = self._read_since.get(call.request_id)
        return since is not None and now - since >= self.read_patience

    def _take(self, i: int) -> tuple:
        """Remove and return the queue's entry at `i`."""
        if i == 0:
            return heapq.heappop(self._queue)
        entry = self._queue[i]
        self._queue[i] = self._queue[-1]
        self._queue.pop()
        heapq.heapify(self._queue)
        return entry

    def _limit_for(self, call: VenueCall) -> int:
        """How many calls may be in the window when this one is made."""
        if call.kind == CallKind.READ:
            return self.order_limit if self._aged(call, self.rt.clock.now()) else self.read_limit
        if call.kind == CallKind.EXIT and call.priority <= Priority.HIGH:
            return self.budget.limit
        return self.order_limit

    def _withdraw(self, rid: str) -> None:
        """Take back a call still waiting that no limiter may have made; otherwise do nothing (the
        call's answer comes, or came, as usual)."""
        for i, (_, _, _, call, token, made) in enumerate(self._queue):
            if call.request_id != rid:
                continue
            if made or (token and token <= self._replayed_upto):
                return
            self._queue[i] = self._queue[-1]
            self._queue.pop()
            heapq.heapify(self._queue)
            self._read_since.pop(rid, None)
            self.send(call.reply_to, CallWithdrawn(rid, call.method))
            self.release(token)
            return

    def _expedite(self, rid: str, priority: int) -> None:
        """A call still waiting (queued, or parked for a retry) moves up to `priority` (never down);
        among calls of that priority it keeps its place by arrival. A read moved up goes as an exit's
        call of that priority (the book a stop's order is priced from)."""
        for i, (kind, current, seq, call, token, made) in enumerate(self._queue):
            if call.request_id == rid:
                if priority < current or kind == CallKind.READ:
                    moved = replace(call, kind=_as_exit(kind), priority=min(priority, current))
                    self._queue[i] = (moved.kind, moved.priority, seq, moved, token, made)
                    heapq.heapify(self._queue)
                return
        parked = self._parked.get(rid)
        if parked is not None and (priority < parked[0].priority or parked[0].kind == CallKind.READ):
            moved = replace(parked[0], kind=_as_exit(parked[0].kind), priority=min(priority, parked[0].priority))
            self._parked[rid] = (moved, parked[1])

    def _execute(self, call: VenueCall, now: datetime, token: int = 0) -> None:
        try:
            value = getattr(self.venue, call.method)(*call.args)
        except VenueError as exc:
            self._failed(call, exc, now, token)
            return
        except Exception as exc:  # noqa: BLE001 - a venue bug must not kill the gateway
            logger.opt(exception=exc).error("venue {} raised unexpectedly", call.method)
            self._failed(call, VenueUnavailable(f"{call.method}: {type(exc).__name__}: {exc}"), now, token)
            return
        self._retries.pop(call.request_id, None)
        self._read_since.pop(call.request_id, None)
        self.send(self.risk_manager, ApiCallSucceeded(call.method, now))   # the failure breaker counts a rate
        self.send(call.reply_to, VenueResult(call.request_id, call.method, value=value))
        self.release(token)

    def _failed(self, call: VenueCall, exc: VenueError, now: datetime, token: int = 0) -> None:
        if isinstance(exc, BudgetExhausted) and self._call_requests < self._call_limit:
            # Stopped half-way by the budget, not by the venue: run it again when there is room.
            heapq.heappush(self._queue, (call.kind, call.priority, next(self._seq), call, token, True))
            return
        if isinstance(exc, BudgetExhausted):
            exc = BudgetExhausted(f"{call.method} needs more than {self._call_limit} requests, the whole budget "
                                  f"of a minute: {exc}")
            self.rt.audit.emit(ae.VenueError(method=call.method, request_id=call.request_id,
                                             error=f"BudgetExhausted: {exc}"))
            self._read_since.pop(call.request_id, None)
            self.send(call.reply_to, VenueResult(call.request_id, call.method, error=exc))
            self.release(token)
            return
        self.send(self.risk_manager, ApiCallFailed(call.method, type(exc).__name__, now))
        retryable = isinstance(exc, RateLimited) or (isinstance(exc, VenueUnavailable) and call.method in READ_METHODS)
        tries = self._retries.get(call.request_id, 0)
        if retryable and tries < self.max_retries:
            self._retries[call.request_id] = tries + 1
            delay = jittered_delay_secs(self.backoff_base_s, tries, self._rng.random())
            if isinstance(exc, RateLimited):
                self.rt.audit.emit(ae.RateLimited(method=call.method, request_id=call.request_id, retry=tries + 1,
                                                  delay_secs=delay))
            self._parked[call.request_id] = (call, token)
            self.rt.scheduler.call_later(timedelta(seconds=delay), self.actor_ref, RetryCall(call.request_id))
            return
        self._retries.pop(call.request_id, None)
        self._read_since.pop(call.request_id, None)
        self.rt.audit.emit(ae.VenueError(method=call.method, request_id=call.request_id,
                                         error=f"{type(exc).__name__}: {exc}"))
        self.send(call.reply_to, VenueResult(call.request_id, call.method, error=exc))
        self.release(token)


def _as_exit(kind: int) -> int:
    """A read moved up to an exit's priority is made as that exit's call; other kinds keep theirs."""
    return CallKind.EXIT if kind == CallKind.READ else kind


def exit_call(request_id: str, method: str, args: tuple, reply_to, priority: int) -> VenueCall:
    return VenueCall(request_id, CallKind.EXIT, method, args, reply_to, priority)
