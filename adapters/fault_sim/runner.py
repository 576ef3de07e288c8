"""Run one fault-simulation seed: a short market, faults on its timeline, invariants after.

A seed builds its engine with adapters/engine.py's build_engine (mode "simulate"), the same
builder and start-up sequence as live (reconcile, start, resume), on an ObservedVenue, and
drives it on virtual time through the seed's market events and faults, in time order,
letting every actor go idle between events. A process restart stops the engine (its actors
stop; open orders stay at the venue) and builds a new one on the same database and venue
through that same builder: it reconciles before anything is sent, starts, and resumes the
open positions. Each process draws its own retry-jitter seed (derived from the seed and the
restart count, so a seed still replays exactly). After the last event every fault is disarmed and the session runs on for
TAIL so exits in flight can finish; then the engine stops, a final reconciliation runs (as
the next start would) and the invariants are checked.
"""
from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Callable

import pykka

from adapters.fault_sim.faults import Fault, FaultPlan, plan_faults
from adapters.fault_sim.invariants import Observation, Violation, check_invariants
from adapters.fault_sim.market import Scenario, make_scenario
from adapters import engine as engine_builder
from adapters.fault_sim.venue import ObservedVenue, SwitchableClock, position_of
from adapters.reconcile import reconcile
from adapters.session import Settle
from adapters.sim_game import BookUpdate
from config.schema import Config
from models.budget import CallBudget
from models.messages import ExitFill, ForwardToPosition, MarketSettled, ModelProbabilityUpdated
from models.money import ZERO
from models.position import PositionStatus
from models.priorities import Priority
from models.signal import TradingSignal

TAIL = timedelta(minutes=12)          # long enough for a LOW exit's ten 60 s walks
BUDGETS = (6, 10, 15, 30, 60)  # calls per minute; the tight ones make the budget bind

BuildEngine = Callable[..., Any]      # adapters.engine.build_engine's signature


@dataclass(frozen=True, slots=True)
class SeedResult:
    seed: int
    faults: tuple[str, ...]                 # what was injected, in time order
    injected: tuple[tuple[str, int], ...]   # faults applied, by kind
    fired: tuple[tuple[str, int], ...]      # injected errors and races that actually hit a call
    violations: tuple[Violation, ...]
    positions: int
    closed: int
    orders: int
    restarts: int
    venue_calls: int
    budget: int
    virtual_s: float
    wall_s: float

    @property
    def ok(self) -> bool:
        return not self.violations


def sim_config(base: Config, seed: int) -> Config:
    """The seed's configuration: the defaults with a call budget drawn from BUDGETS."""
    budget = random.Random(f"config:{seed}").choice(BUDGETS)
    return dataclasses.replace(base, monitoring=dataclasses.replace(base.monitoring, max_api_calls_per_minute=budget))


class SimRun:
    """One seed's session. `execute()` runs it; `observation()` and `result()` read it after."""

    def __init__(self, seed: int, workdir: Path, *, config: Config, build_engine: BuildEngine | None = None) -> None:
        self.seed = seed
        self.scenario: Scenario = make_scenario(seed)
        self.plan: FaultPlan = plan_faults(seed, self.scenario)
        self.config = sim_config(config, seed)
        self.build_engine = build_engine     # None: adapters.engine.build_engine (looked up at each start)
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

    # -- the session -------------------------------------------------------------------------
    def execute(self) -> None:
        t0 = time.perf_counter()
        timeline = sorted([(ts, 0, i, p) for i, (ts, p) in enumerate(self.scenario.events)]
                          + [(f.at, 1, f.index, f) for f in self.plan.faults], key=lambda e: e[:3])
        try:
            self.engine = self._build(self.scenario.start, fresh=True)
            for ts, _, _, payload in timeline:
                self.engine.scheduler.run_until(ts)
                self._apply(ts, payload)
            self.venue.disarm()
            self.engine.scheduler.run_until(self.engine.clock.now() + TAIL)
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
        return engine

    def _apply(self, ts: datetime, payload: Any) -> None:
        system = self.engine.system
        if isinstance(payload, BookUpdate):
            if self.venue.is_settled(payload.ticker):
                return
            book = self._thin(payload, ts) if self.plan.in_window("partial_fills", ts) else payload
            self.venue.set_book(book.ticker, book.yes_bids, book.yes_asks, volume=book.volume,
                                close_time=book.close_time, last=book.last)
            if not self.plan.in_window("stale_quotes", ts):
                system.push_quote(book.to_quote(ts))
        elif isinstance(payload, TradingSignal):
            system.push_signal(payload)
        elif isinstance(payload, ModelProbabilityUpdated):
            system.push_model_probability(payload)
        elif isinstance(payload, Settle):
            self.venue.settle(payload.ticker, payload.result)
            system.settle(MarketSettled(payload.ticker, payload.result, ts))
        elif isinstance(payload, Fault):
            self._inject(payload)
        else:
            raise TypeError(f"fault sim: unexpected event {type(payload).__name__}")

    def _thin(self, book: BookUpdate, ts: datetime) -> BookUpdate:
        rng = random.Random(f"thin:{self.seed}:{book.ticker}:{ts.isoformat()}")
        return dataclasses.replace(book, yes_bids=tuple((p, rng.randint(1, 4)) for p, _ in book.yes_bids[:2]),
                                   yes_asks=tuple((p, rng.randint(1, 4)) for p, _ in book.yes_asks[:2]))

    def _inject(self, f: Fault) -> None:
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

    # -- after the session -------------------------------------------------------------------
    def observation(self) -> Observation:
        return Observation(venue=self.venue, repository=self.engine.repository, audit=self.audit,
                           call_times=tuple(self.call_times), reconcile_times=tuple(self.reconcile_times),
                           request_times=tuple(t for t, _ in self.venue.call_log),
                           budget=self.config.monitoring.max_api_calls_per_minute,
                           planted_crashes=Counter(self.planted), stale_exits=tuple(self.stale_exits),
                           reconcile_alerts=tuple(self.final_alerts), errors=tuple(self.errors))

    def result(self) -> SeedResult:
        violations: tuple[Violation, ...]
        try:
            violations = tuple(check_invariants(self.observation()))
            positions = self.engine.repository.all_positions()
        except Exception as exc:  # noqa: BLE001 - e.g. the run died before the database existed
            violations = tuple(Violation("engine_health", e) for e in self.errors) or (
                Violation("engine_health", f"invariants could not be checked: {type(exc).__name__}: {exc}"),)
            positions = ()
        end = self.engine.clock.now() if self.engine is not None else self.scenario.start
        return SeedResult(
            seed=self.seed, faults=tuple(self.applied), injected=tuple(sorted(self.injected.items())),
            fired=tuple(sorted(self.venue.fired.items())), violations=violations, positions=len(positions),
            closed=sum(1 for p in positions if p.status is PositionStatus.CLOSED),
            orders=len(self.venue.all_orders()), restarts=self.restarts, venue_calls=len(self.venue.call_log),
            budget=self.config.monitoring.max_api_calls_per_minute,
            virtual_s=(end - self.scenario.start).total_seconds(), wall_s=round(self._wall, 3))

    def close(self) -> None:
        """Close the database file (the next seed opens another)."""
        from models.tables import database_proxy

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
