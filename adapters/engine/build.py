"""The one place an engine is built and started, for every mode.

`build_engine(mode, config, ...)` is called by `python run.py` (paper, replay, live), the
fault simulator (its first start and every process restart), the benchmarks and the tests.
Every engine starts the same way, in this order, and each step is an ENGINE_STARTUP audit
event (`step` = reconcile, start, resume) and is kept in `Engine.startup.steps`:

1. reconcile: the database is made to agree with the venue (adapters/engine/reconcile.py) before
   any actor exists, so nothing is sent before it; its venue calls keep the call budget
   (the calls of the last minute that the caller reports in `prior_calls` count).
2. start: the core actors start (actors/system.py), the RateLimiter seeded per process
   (`seed=None` draws one from the OS; tests and deterministic runs inject theirs) and told
   of every call already made this minute.
3. resume: open positions count toward the caps and market+side keys, confirmed ones get
   their actors back; entries reconciliation could not confirm stay reserved (market, side
   and cost) and the EntryManager looks them up until the venue answers; positions whose
   orders could not be confirmed count toward the caps and are not traded until a later start.

Modes differ only in what the MODES table says: the clock (virtual or the wall), the
platform name entries are recorded under, and whether quotes are streamed.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Sequence

from actors.clock import Clock, VirtualClock, WallClock
from actors.dispatch import Dispatcher
from actors.idle_gc import IdleCollector
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import RealScheduler, VirtualScheduler
from actors.system import System
from adapters.audit.log import Audit
from adapters.storage.database import connect, migrate
from adapters.engine.lock import lock_database
from adapters.engine.reconcile import ReconcileReport, reconcile
from adapters.storage.repository import Repository
from config.schema import Config
from models import audit_events as ae
from models.budget import CallBudget

STEPS = ("reconcile", "start", "resume")


class HoldingsNotCompared(RuntimeError):
    """Live start-up gave up before reconciliation could compare the venue's holdings (the run's
    deadline passed or the operator interrupted): no actor was started, nothing was traded."""


@dataclass(frozen=True, slots=True)
class EngineMode:
    virtual_time: bool
    platform: str
    streamed_quotes: bool = False
    # Live: reconciliation is retried with back-off (adapters/engine/start_gate.py) until it has compared
    # the venue's holdings with the database's; nothing starts before (HoldingsNotCompared).
    holdings_must_be_compared: bool = False
    # Virtual time without fault injection runs every handler on the driving thread (actors/dispatch.py):
    # same handlers, same order guarantees, no thread hand-off per message. Live and the fault
    # simulation (a stalled handler needs the Watchdog running beside it) give each actor a thread.
    inline: bool = False

    @property
    def time_bands(self) -> bool:
        """Quiet positions sleep through their ticks (actors/runtime.py Runtime.time_bands)."""
        return self.virtual_time


MODES = {
    "paper": EngineMode(virtual_time=True, platform="paper", inline=True),
    "replay": EngineMode(virtual_time=True, platform="paper", streamed_quotes=True, inline=True),
    "simulate": EngineMode(virtual_time=True, platform="paper"),
    "bench": EngineMode(virtual_time=True, platform="paper", inline=True),
    "live": EngineMode(virtual_time=False, platform="kalshi", holdings_must_be_compared=True),
}


@dataclass(frozen=True, slots=True)
class Startup:
    """What the start-up sequence did: its steps in order, reconciliation's report, the retry
    jitter seed this process drew, and how many positions got their actors back."""

    mode: str
    steps: tuple[str, ...]
    report: ReconcileReport
    retry_seed: int
    resumed: int
    entries_held: int


@dataclass
class Engine:
    config: Config
    clock: Any
    scheduler: Any
    venue: Any
    repository: Repository
    system: System
    audit: Audit
    startup: Startup
    lock: Any = None        # one engine per database (adapters/engine/lock.py), released by stop()
    collector: Any = None   # garbage collection between bursts (actors/idle_gc.py), put back by stop()

    def stop(self) -> None:
        try:
            self.system.stop()
            self.scheduler.stop()
            self.audit.close()          # queued alerts go out (bounded)
        finally:
            if self.collector is not None:
                self.collector.uninstall()
            if self.lock is not None:
                self.lock.release()


def remove_sqlite_files(path: str) -> None:
    """Delete a file and its SQLite -wal and -shm companions (a fresh start)."""
    for suffix in ("", "-wal", "-shm"):
        p = Path(path + suffix)
        if p.exists():
            p.unlink()


def process_seed() -> int:
    """A retry-jitter seed of this process's own, so restarted engines do not retry in step."""
    return int.from_bytes(os.urandom(4), "big")


def build_engine(mode: str, config: Config, *, db_path: str, start: datetime | None = None,
                 venue_factory: Callable[[Clock], Any] | None = None, recorder: list | None = None,
                 fresh: bool = False, seed: int | None = None, prior_calls: Sequence[datetime] = (),
                 balance: str = "100000", streamed_quotes: bool | None = None, quiet_bands: bool = True,
                 deadline: datetime | None = None, lock: Any = None, alerts: Any = None,
                 inline: bool | None = None) -> Engine:
    """Build the engine of `mode` (a key of MODES) and start it: reconcile, start, resume.

    `venue_factory(clock)` builds the venue on the engine's clock (default: a PaperVenue
    holding `balance`). `start` is the virtual clock's start (virtual modes). `fresh` deletes
    the SQLite file first (virtual modes only). `seed` fixes the retry jitter (None: drawn per
    process). `prior_calls` are venue calls already made in the last minute by this session's
    earlier processes: reconciliation and the RateLimiter count them. `deadline` bounds live's
    wait for the venue's holdings to be compared (HoldingsNotCompared past it). `lock` is the
    database's engine lock when the caller took it already (before wiping files of its own);
    otherwise it is taken here, first (EngineLocked: another engine runs on this database).
    `inline` overrides the mode's dispatch (actors/dispatch.py; True needs virtual time)."""
    try:
        spec = MODES[mode]
    except KeyError:
        raise ValueError(f"engine mode {mode!r}: expected one of {', '.join(MODES)}") from None
    clock: Any
    if spec.virtual_time and start is None:
        raise ValueError(f"engine mode {mode!r} runs on virtual time: `start` is required")
    lock = lock if lock is not None else lock_database(db_path)
    if spec.virtual_time:
        if fresh and not os.environ.get("DATABASE_URL"):
            remove_sqlite_files(db_path)
        clock = VirtualClock(start)
    else:
        clock = WallClock()
    inline = spec.inline if inline is None else inline
    if inline and not spec.virtual_time:
        raise ValueError(f"engine mode {mode!r} runs on the wall clock: its actors need threads")
    collector = IdleCollector()   # installed once the engine is built: collections wait for an idle moment
    dispatcher = Dispatcher(collector) if inline else None
    activity = ActivityTracker(dispatcher, collector)
    if venue_factory is not None:
        venue = venue_factory(clock)
    else:
        from adapters.paper.venue import PaperVenue

        venue = PaperVenue(clock, starting_balance=Decimal(balance))
    scheduler: Any = VirtualScheduler(clock, activity) if spec.virtual_time else RealScheduler(clock, activity)
    audit = Audit(clock, recorder, alerts=alerts)   # alerts: the channels alert events go to (issue 12)
    system: System | None = None
    try:
        db = connect(db_path)
        migrate(db, clock)
        repository = Repository(db, clock)
        retry_seed = process_seed() if seed is None else seed
        steps: list[str] = []

        # 1. reconcile, before any actor exists: nothing can be sent before it.
        budget = CallBudget(config.monitoring.max_api_calls_per_minute)
        for t in sorted(prior_calls):
            budget.record(t)
        wait = scheduler.run_until if spec.virtual_time else _wall_wait(clock)
        if spec.holdings_must_be_compared:
            from adapters.engine.start_gate import reconcile_before_trading

            gated = reconcile_before_trading(venue, repository, audit, clock, budget=budget, wait=wait,
                                             deadline=deadline)
            if gated is None:
                raise HoldingsNotCompared("the venue's holdings were never compared with the database")
            report = gated
        else:
            report = reconcile(venue, repository, audit, clock, budget=budget, wait=wait)
        steps.append(_step(audit, mode, "reconcile", f"reconciled with {_venue_name(venue)}: "
                           f"{report.orders_checked} orders checked, {report.orders_canceled} canceled, "
                           f"{report.fills_recorded} fills recorded, {len(report.alerts)} alerts",
                           orders_checked=report.orders_checked, orders_canceled=report.orders_canceled,
                           fills_recorded=report.fills_recorded, alerts=len(report.alerts),
                           unconfirmed_positions=len(report.unconfirmed_positions),
                           unconfirmed_entries=len(report.unconfirmed_entries)))

        # 2. start the actors; their budget counts what was spent before them this minute.
        rt = Runtime(clock, scheduler, activity, audit,
                     streamed_quotes=spec.streamed_quotes if streamed_quotes is None else streamed_quotes,
                     quiet_bands=quiet_bands, time_bands=spec.time_bands)
        system = System.start(rt, config, venue, repository, platform=spec.platform, seed=retry_seed)
        system.count_prior_calls(tuple(prior_calls) + tuple(report.call_times))
        steps.append(_step(audit, mode, "start", f"actors started ({spec.platform}), retry jitter seed {retry_seed}",
                           platform=spec.platform, retry_seed=retry_seed))

        # 3. resume what the database holds, holding back what reconciliation could not confirm.
        resumed = system.resume_open_positions(skip=report.unconfirmed_positions)
        held = system.hold_unconfirmed_entries(tuple(report.unconfirmed_entries))
        steps.append(_step(audit, mode, "resume", f"{resumed} open positions resumed, {held} unconfirmed entries "
                                                  "held reserved", resumed=resumed, entries_held=held,
                           not_resumed=len(report.unconfirmed_positions)))
    except BaseException:
        try:
            if system is not None:
                system.stop()
            scheduler.stop()
        finally:
            lock.release()
        raise
    collector.install()
    return Engine(config, clock, scheduler, venue, repository, system, audit,
                  Startup(mode, tuple(steps), report, retry_seed, resumed, held), lock, collector)


def _step(audit: Audit, mode: str, step: str, text: str, **fields: Any) -> str:
    audit.emit(ae.EngineStartup(mode=mode, step=step, said=text, **fields))
    return step


def _venue_name(venue: Any) -> str:
    return str(getattr(venue, "name", type(venue).__name__))


def _wall_wait(clock: Clock) -> Callable[[datetime], None]:
    """Reconciliation's wait for room in the call budget, on the wall clock (live)."""
    def wait(until: datetime) -> None:
        time.sleep(max(0.0, (until - clock.now()).total_seconds()))
    return wait
