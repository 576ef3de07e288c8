"""Run one fault-simulation seed: a short market, faults on its timeline, invariants after.

A seed builds its engine with adapters/engine/build.py's build_engine (mode "simulate"), the same
builder and start-up sequence as live (reconcile, start, resume), on an ObservedVenue, and
drives it on virtual time through the seed's market events and faults, in time order,
letting every actor go idle between events. A process restart stops the engine (its actors
stop; open orders stay at the venue) and builds a new one on the same database and venue
through that same builder: it reconciles before anything is sent, starts, and resumes the
open positions. Each process draws its own retry-jitter seed (derived from the seed and the
restart count, so a seed still replays exactly). After the last event every fault is disarmed and the session runs on for
TAIL so exits in flight can finish; then the engine stops, a final reconciliation runs (as
the next start would) and the invariants are checked.

Core-actor faults (core_crash / core_kill / core_stall) go to the actor behind its handle; one
placed mid-exit or at a stop waits for that moment (checked before each market event). A stalled
handler is released once the Watchdog has replaced its actor (so no thread is left behind).
Every injected core fault is kept (`core_faults`) for the unprotected-time measurement.
"""
from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Callable

import pykka

from adapters.harness.fault_sim.faults import CORE_KINDS, Fault, FaultPlan, plan_faults
from adapters.harness.fault_sim.verdict import SeedResult, SeedVerdict
from adapters.harness.fault_sim.market import Scenario, make_scenario
from adapters.engine import build as engine_builder
from adapters.harness.fault_sim.venue import ObservedVenue, SwitchableClock, position_of
from adapters.engine.reconcile import reconcile
from adapters.sim.game import BookUpdate
from config.schema import Config
from models.budget import CallBudget
from models.commands import ForwardToPosition
from models.events import ExitFill, MarketSettled, ModelProbabilityUpdated
from models.money import ZERO
from models.position import PositionStatus
from models.priorities import Priority
from models.signal import TradingSignal

TAIL = timedelta(minutes=12)          # long enough for a LOW exit's ten 60 s walks
STUCK_AFTER_S = 1.0                   # wall seconds a core handler may run before virtual time calls it stuck
CORE_KEYS = {"store": "store", "supervisor": "supervisor", "risk_manager": "risk", "rate_limiter": "venue",
             "price_cache": "cache", "exit_router": "router", "entry_manager": "entries"}
BUDGETS = (6, 10, 15, 30, 60)  # calls per minute; the tight ones make the budget bind

BuildEngine = Callable[..., Any]      # adapters.engine.build.build_engine's signature


def sim_config(base: Config, seed: int) -> Config:
    """The seed's configuration: the defaults with a call budget drawn from BUDGETS."""
    budget = random.Random(f"config:{seed}").choice(BUDGETS)
    return dataclasses.replace(base, monitoring=dataclasses.replace(base.monitoring, max_api_calls_per_minute=budget))


class SimRun(SeedVerdict):
    """One seed's session. `execute()` runs it; `observation()` and `result()` read it after."""

    def __init__(self, seed: int, workdir: Path, *, config: Config, build_engine: BuildEngine | None = None) -> None:
        self.seed = seed
        self.scenario: Scenario = make_scenario(seed)
        self.plan: FaultPlan = plan_faults(seed, self.scenario)
        self.config = sim_config(config, seed)
        self.build_engine = build_engine     # None: adapters.engine.build.build_engine (looked up at each start)
        self.db_path = workdir / f"sim-{seed}.db"
        self.clock = SwitchableClock()
        self.venue = ObservedVenue(self.clock, seed=seed)
        self.audit: list[dict[str, Any]] = []
        self.engine: Any = None
        self.call_times: list[datetime] = []          # every RateLimiter's calls, across restarts
        self.reconcile_times: list[datetime] = []     # start-up reconciliation's (it calls the venue directly)
        self.injected: Counter[str] = Counter()
        self.applied: list[str] = []
        self.planted: Counter[str] = Counter()
        self.errors: list[str] = []
        self.restarts = 0
        self.stale_exits: list[str] = []
        self.final_alerts: list[str] = []
        self._crash_rng = random.Random(f"crash:{seed}")
        self._wall = 0.0
        self._deferred: list[Fault] = []          # core faults waiting for their moment
        self._stalls: list[threading.Event] = []
        self._audit_seen = 0
        self._in_flight: dict[str, str] = {}      # exit id -> position id (from the audit)
        self._open: dict[str, tuple[str, Any, Any, str]] = {}   # position id -> ticker, side, entry, signal id
        self._signal_types = {p.signal_id: p.signal_type for _, p in self.scenario.events
                              if isinstance(p, TradingSignal)}
        self._books: dict[str, BookUpdate] = {}
        self.core_faults: list[tuple[datetime, Fault]] = []
        self.restart_times: list[datetime] = []
        self.failed_safe: str | None = None

    # -- the session -------------------------------------------------------------------------
    def execute(self) -> None:
        t0 = time.perf_counter()
        timeline = sorted([(ts, 0, i, p) for i, (ts, p) in enumerate(self.scenario.events)]
                          + [(f.at, 1, f.index, f) for f in self.plan.faults], key=lambda e: e[:3])
        try:
            self.engine = self._build(self.scenario.start, fresh=True)
            for ts, _, _, payload in timeline:
                self._run_until(ts)
                if self.failed_safe:
                    break
                self._deferred_faults(payload)
                self._apply(ts, payload)
            self.venue.disarm()
            if not self.failed_safe:
                self._run_until(self.engine.clock.now() + TAIL)
            if self.failed_safe:
                self._flatten()
                return
            self.engine.system.flush()
            self.stale_exits = self._stale_exits()
            self._shutdown()
            self._final_reconcile()
        except Exception as exc:  # noqa: BLE001 - a failing seed is reported, never raised
            self.errors.append(f"the run raised {type(exc).__name__}: {exc}")
            self._stop_quietly()
        finally:
            self._wall = time.perf_counter() - t0

    def _build(self, start: datetime, *, fresh: bool) -> Any:
        """Start a process: the one builder, which reconciles (counting the calls this session's
        earlier processes made in the last minute), starts the actors and resumes."""
        def venue_for(clock: Any) -> ObservedVenue:
            self.clock.follow(clock)
            return self.venue

        build = self.build_engine or engine_builder.build_engine
        mark = len(self.venue.call_log)
        jitter_seed = random.Random(f"jitter:{self.seed}:{self.restarts}").randrange(2 ** 32)
        engine = build("simulate", self.config, db_path=str(self.db_path), start=start, fresh=fresh,
                       seed=jitter_seed, recorder=self.audit, venue_factory=venue_for,
                       prior_calls=tuple(self.call_times + self.reconcile_times))
        self.reconcile_times += [t for t, _ in self.venue.call_log[mark:]]   # before the actors existed
        engine.scheduler.stuck_after_s = STUCK_AFTER_S
        return engine

    def _run_until(self, ts: datetime) -> None:
        """Move virtual time; then release stalled handlers whose actor was replaced meanwhile,
        and note a fail-safe."""
        self.engine.scheduler.run_until(ts)
        for ev in self._stalls:
            ev.set()
        self._stalls.clear()
        failure = self.engine.system.failure
        if failure is not None and failure.reason:
            self.failed_safe = failure.reason

    def _flatten(self) -> None:
        """The engine failed safe: what run.py does (stop, flatten at the venue directly)."""
        from adapters.engine import fail_safe

        self._shutdown()
        fail_safe.flatten(self.venue, self.engine.repository, self.engine.audit, self.engine.clock)
        self._final_reconcile()

    def _apply(self, ts: datetime, payload: Any) -> None:
        system = self.engine.system
        if isinstance(payload, BookUpdate):
            if self.venue.is_settled(payload.ticker):
                return
            self._books[payload.ticker] = payload
            book = self._thin(payload, ts) if self.plan.in_window("partial_fills", ts) else payload
            self.venue.set_book(book.ticker, book.yes_bids, book.yes_asks, volume=book.volume,
                                close_time=book.close_time, last=book.last)
            if not self.plan.in_window("stale_quotes", ts):
                system.push_quote(book.to_quote(ts))
        elif isinstance(payload, TradingSignal):
            system.push_signal(payload)
        elif isinstance(payload, ModelProbabilityUpdated):
            system.push_model_probability(payload)
        elif isinstance(payload, MarketSettled):
            self.venue.settle(payload.ticker, payload.result)
            system.settle(payload)
        elif isinstance(payload, Fault):
            self._inject(payload)
        else:
            raise TypeError(f"fault sim: unexpected event {type(payload).__name__}")

    def _thin(self, book: BookUpdate, ts: datetime) -> BookUpdate:
        rng = random.Random(f"thin:{self.seed}:{book.ticker}:{ts.isoformat()}")
        return dataclasses.replace(book, yes_bids=tuple((p, rng.randint(1, 4)) for p, _ in book.yes_bids[:2]),
                                   yes_asks=tuple((p, rng.randint(1, 4)) for p, _ in book.yes_asks[:2]))

    def _inject(self, f: Fault) -> None:
        if f.kind in CORE_KINDS and f.point != "random":
            self._deferred.append(f)          # injected when its moment comes (see _deferred_faults)
            return
        if f.kind in CORE_KINDS:
            self._core_fault(f)
            return
        if f.kind == "actor_crash":
            if not self._crash_a_position(f):
                return
        elif f.kind == "process_restart":
            self._restart()
        elif f.kind == "cancel_fill_race":
            self.venue.arm_races(f.times)
        elif f.method is not None:
            self.venue.arm(f.kind, f.method, f.error(), f.times, after=f.after)
        self.injected[f.kind] += 1
        self.applied.append(f"{(f.at - self.scenario.start).total_seconds():.0f}s {f.describe()}")

    # -- core actors ---------------------------------------------------------------------------
    def _core_fault(self, f: Fault) -> None:
        from actors.registry import Crash, Stall

        system = self.engine.system
        handle = system.core.handles[f.actor]
        if f.kind == "core_crash":
            self.planted[CORE_KEYS[f.actor]] += 1
            system.rt.send(handle, Crash(f"fault {f.index}"))
        elif f.kind == "core_kill":
            target = handle.target
            if target is not None:
                target.stop(block=True, timeout=10)
        else:
            release = threading.Event()
            self._stalls.append(release)
            system.rt.send(handle, Stall(release, max_wait_s=30))
        now = self.engine.clock.now()
        self.core_faults.append((now, f))
        self.injected[f.kind] += 1
        self.applied.append(f"{(now - self.scenario.start).total_seconds():.0f}s {f.describe()}")

    def _follow_audit(self) -> None:
        """Exits in flight and open positions, from the audit records written since last time."""
        new, self._audit_seen = self.audit[self._audit_seen:], len(self.audit)
        for e in new:
            ev = e.get("event")
            if ev == "EXIT_ROUTED":
                self._in_flight[e.get("exit_id", "")] = e.get("position_id", "")
            elif ev in ("EXIT_COMPLETED", "EXIT_GAVE_UP"):
                self._in_flight.pop(e.get("exit_id", ""), None)
            elif ev == "TRADE_EXECUTED":
                self._open[e["position_id"]] = (e["market"], e["side"], e["entry_price"], e.get("signal_id", ""))
            elif ev == "POSITION_CLOSED":
                self._open.pop(e.get("position_id", ""), None)
                self._in_flight = {x: p for x, p in self._in_flight.items() if p != e.get("position_id")}

    def _deferred_faults(self, payload: Any) -> None:
        if not self._deferred:
            return
        self._follow_audit()
        for f in list(self._deferred):
            if f.point == "mid_exit" and self._in_flight:
                self._deferred.remove(f)
                self._core_fault(f)
            elif f.point == "at_stop" and isinstance(payload, BookUpdate) and self._takes_past_stop(payload):
                self._deferred.remove(f)
                self._core_fault(f)
                self.engine.scheduler.run_until(self.engine.clock.now())   # a crash is handled before the market moves

    def _takes_past_stop(self, book: BookUpdate) -> bool:
        """True when this book change puts an open position past its stop (it was not before)."""
        from decimal import Decimal

        from models.pnl import price_at_pct

        before = self._books.get(book.ticker)
        for ticker, side, entry, signal_id in self._open.values():
            if ticker != book.ticker:
                continue
            pct = self.config.signal_type(self._signal_types.get(signal_id, "default")).stop_loss_pct
            stop = price_at_pct(Decimal(str(entry)), -pct)

            def bid(b: BookUpdate | None) -> Any:
                if b is None:
                    return None
                if side == "yes":
                    return b.yes_bids[0][0] if b.yes_bids else None
                return 1 - b.yes_asks[0][0] if b.yes_asks else None

            now_bid, old_bid = bid(book), bid(before)
            if now_bid is not None and now_bid <= stop and (old_bid is None or old_bid > stop):
                return True
        return False

    def _crash_a_position(self, f: Fault) -> bool:
        """Crash one live position actor with a malformed fill (contracts=None raises in its
        handler); the supervisor must restart it from the database."""
        system = self.engine.system
        positions = dict(system.proxy_attr(system.refs.supervisor, "positions"))
        live = sorted(pid for pid, ref in positions.items() if ref.is_alive())
        if not live:
            return False
        pid = self._crash_rng.choice(live)
        self.planted[pid] += 1
        bad = ExitFill(f"planted-crash-{f.index}", "planted_crash", Priority.LOW,
                       None, ZERO, ZERO, "", "", None, self.engine.clock.now())  # type: ignore[arg-type]
        system.rt.send(system.refs.supervisor, ForwardToPosition(pid, bad))
        return True

    def _restart(self) -> None:
        now = self.engine.clock.now()
        self.restart_times.append(now)
        self._follow_audit()
        self._in_flight.clear()
        self._shutdown()
        self.restarts += 1
        self.engine = self._build(now, fresh=False)

    def _final_reconcile(self) -> None:
        """The final check's reconciliation, after the last process stopped (as the next start
        would reconcile; no engine is started for it). It keeps the same call budget."""
        mark = len(self.venue.call_log)
        budget = CallBudget(self.config.monitoring.max_api_calls_per_minute)
        for t in sorted(self.call_times + self.reconcile_times):
            budget.record(t)
        report = reconcile(self.venue, self.engine.repository, self.engine.audit, self.engine.clock,
                           budget=budget, wait=self.engine.scheduler.run_until)
        self.reconcile_times += [t for t, _ in self.venue.call_log[mark:]]
        self.final_alerts = list(report.alerts)

    def _shutdown(self) -> None:
        """Stop the engine like a process that exits: its RateLimiter's call log is kept."""
        system = self.engine.system
        self.call_times += [t for t, _ in list(system.proxy_attr(system.refs.rate_limiter, "call_log"))]
        self.engine.stop()
        leaked = pykka.ActorRegistry.get_all()
        if leaked:
            self.errors.append(f"{len(leaked)} actors left running after stop: "
                               f"{sorted({r.actor_class.__name__ for r in leaked})}")
            pykka.ActorRegistry.stop_all(block=True, timeout=10)

    def _stop_quietly(self) -> None:
        try:
            if self.engine is not None:
                self.engine.stop()
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"stopping after the failure raised {type(exc).__name__}: {exc}")
        pykka.ActorRegistry.stop_all(block=True, timeout=10)

    def _stale_exits(self) -> list[str]:
        out = []
        repo = self.engine.repository
        for o in self.venue.all_orders():
            pid = position_of(o.client_order_id)
            if o.is_done or pid is None:
                continue
            p = repo.load_position(pid)
            if p is not None and p.status is PositionStatus.CLOSED:
                out.append(f"{o.client_order_id} ({o.filled_count}/{o.count} filled) for {pid}, closed "
                           f"({p.exit_reason})")
        return out

    def close(self) -> None:
        """Close the database file (the next seed opens another)."""
        from adapters.storage.tables import database_proxy

        if database_proxy.obj is not None:
            database_proxy.obj.close()


def run_seed(seed: int, *, config: Config, build_engine: BuildEngine | None = None, workdir: Path | None = None) -> SeedResult:
    """Run one seed in a temporary directory (or `workdir`) and check its invariants."""
    with TemporaryDirectory(prefix=f"arbees-sim-{seed}-") as tmp:
        run = SimRun(seed, Path(workdir or tmp), config=config, build_engine=build_engine)
        try:
            run.execute()
            return run.result()
        finally:
            run.close()
