"""The faults of one seed, drawn from random.Random(seed) and placed on the session's timeline.

Kinds (the names the summary counts them by):
- read_429, read_5xx: RateLimited / VenueUnavailable on the next 1-3 reads (quotes, order
  look-ups by id or by client_order_id); the gateway retries them with back-off.
- create_429, create_5xx: the same on order creation, before the venue acts.
- create_timeout: the venue creates the order, then the answer is lost (a timeout after it
  acted): the engine must look the order up by client_order_id, never send a second one.
- cancel_5xx: a cancel fails before reaching the venue.
- cancel_timeout: the venue cancels, then the answer is lost.
- cancel_fill_race: the next 1-2 cancels of a resting exit race a fill (the book moves through
  the order's price just before the cancel lands).
- partial_fills: for 40-150 s the book is thin (1-4 contracts a level): IOCs fill partly and
  resting exits fill a few at a time.
- stale_quotes: for 30-120 s book changes reach the venue but are not pushed to the engine
  (a gap in the stream): the engine must notice its quotes are old and poll.
- actor_crash: a live position actor is crashed by a malformed message (the supervisor must
  restart it from the database).
- process_restart: the whole engine stops; a new one is built on the same database and venue,
  reconciles with the venue and resumes the open positions.
- core_crash, core_kill, core_stall: one core actor (Store, Supervisor, RiskManager,
  RateLimiter, PriceCache, ExitRouter or EntryManager, drawn) raises in a handler / has its
  thread stopped unannounced / gets a handler that does not return; the Watchdog must restart it.
  Each is placed at a random point, mid-exit (the first moment after its time that an exit is
  in flight) or at a stop (just before the first book change after its time that takes an open
  position past its stop: that is where an unprotected position would show).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.harness.fault_sim.market import Scenario
from models.venue import RateLimited, VenueUnavailable

KINDS = ("read_429", "read_5xx", "create_429", "create_5xx", "create_timeout", "cancel_5xx", "cancel_timeout",
         "cancel_fill_race", "partial_fills", "stale_quotes", "actor_crash", "process_restart",
         "core_crash", "core_kill", "core_stall")
WEIGHTS = (2, 2, 2, 2, 3, 2, 3, 3, 2, 2, 3, 2, 3, 3, 3)
CORE_KINDS = frozenset({"core_crash", "core_kill", "core_stall"})
CORE_ACTORS = ("store", "supervisor", "risk_manager", "rate_limiter", "price_cache", "exit_router", "entry_manager")
POINTS = ("random", "mid_exit", "at_stop")
READ_METHODS = ("get_quotes", "get_order", "find_order")
WINDOW_KINDS = frozenset({"partial_fills", "stale_quotes"})


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault at `at`. `method`/`times` for injected errors and races, `until` for windows."""

    index: int
    kind: str
    at: datetime
    method: str | None = None
    times: int = 1
    until: datetime | None = None
    actor: str | None = None          # core faults: which core actor
    point: str | None = None          # core faults: random | mid_exit | at_stop

    def error(self) -> Exception:
        """A fresh error object for this fault (its identity tags it as this fault's)."""
        if self.kind.endswith("_429"):
            return RateLimited(f"too many requests (fault {self.index})")
        if self.kind.endswith("timeout"):
            return VenueUnavailable(f"timed out after the venue acted (fault {self.index})")
        return VenueUnavailable(f"503 service unavailable (fault {self.index})")

    @property
    def after(self) -> bool:
        return self.kind.endswith("timeout")

    def describe(self) -> str:
        what = f" {self.method}" if self.method else ""
        span = f" until +{(self.until - self.at).total_seconds():.0f}s" if self.until else ""
        times = (f" x{self.times}" if self.kind not in WINDOW_KINDS | CORE_KINDS | {"actor_crash", "process_restart"}
                 else "")
        core = f" {self.actor} ({self.point})" if self.actor else ""
        return f"{self.kind}{core}{what}{times}{span}"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    faults: tuple[Fault, ...]

    def windows(self, kind: str) -> tuple[tuple[datetime, datetime], ...]:
        return tuple((f.at, f.until) for f in self.faults if f.kind == kind and f.until is not None)

    def in_window(self, kind: str, ts: datetime) -> bool:
        return any(a <= ts < b for a, b in self.windows(kind))


def plan_faults(seed: int, scenario: Scenario) -> FaultPlan:
    rng = random.Random(seed)
    span = (scenario.end - scenario.start).total_seconds()
    faults = []
    for i in range(rng.randint(3, 9)):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        at = scenario.start + timedelta(seconds=round(rng.uniform(20, span - 20), 1))
        method = {"read_429": rng.choice(READ_METHODS), "read_5xx": rng.choice(READ_METHODS),
                  "create_429": "place_order", "create_5xx": "place_order", "create_timeout": "place_order",
                  "cancel_5xx": "cancel_order", "cancel_timeout": "cancel_order"}.get(kind)
        times = rng.randint(1, 2) if kind == "cancel_fill_race" else rng.randint(1, 3)
        until = None
        if kind == "partial_fills":
            until = at + timedelta(seconds=round(rng.uniform(40, 150), 1))
        elif kind == "stale_quotes":
            until = at + timedelta(seconds=round(rng.uniform(30, 120), 1))
        actor = point = None
        if kind in CORE_KINDS:
            actor, point = rng.choice(CORE_ACTORS), rng.choice(POINTS)
        faults.append(Fault(i, kind, at, method, times, until, actor, point))
    faults.sort(key=lambda f: (f.at, f.index))
    return FaultPlan(tuple(faults))
