"""The core actors of one engine: how each is built, rebuilt after a restart, and watched.

`start_core` starts the Watchdog, one stable handle per core actor, and the actors behind
them in dependency order (Store, Supervisor, RiskManager, RateLimiter, PriceCache, ExitRouter,
EntryManager); it wires them and registers each with the Watchdog with how to rebuild it.
Everyone is handed the handles (Refs), never the actors, so a restart is invisible to senders.
`watch_game_feed` does the same for the live GameFeed.

Limits (config `supervision`, documented in the README's supervision section): a heartbeat
every heartbeat_secs; an actor whose handler has run longer than its stall limit, whose
heartbeat is unanswered that long, or with more than backlog_limit messages waiting is stuck
and restarted; more than max_restarts core restarts within restart_window_secs fails the
engine safe.
"""
from __future__ import annotations

import itertools
import time as _wall   # only to tell a stuck handler on virtual time (see VirtualScheduler)
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import pykka

from actors.entry_manager import EntryManager
from actors.exit_router import ExitRouter
from actors.price_cache import PriceCache
from actors.rate_limiter import RateLimiter
from actors.registry import ActorHandle, EngineFailure
from actors.risk_manager import RiskManager
from actors.runtime import Runtime
from actors.store import Store
from actors.supervisor import Supervisor
from actors.watchdog import CoreSpec, Watch, Watchdog
from actors.wiring import Refs, Wired
from config.schema import Config
from models.commands import Rebuild
from models.events import CoreActorDown

ORDER = ("store", "supervisor", "risk_manager", "rate_limiter", "price_cache", "exit_router", "entry_manager")
WIRED = frozenset({"supervisor", "exit_router", "entry_manager", "risk_manager"})


@dataclass
class Core:
    refs: Refs
    watchdog: pykka.ActorRef
    failure: EngineFailure
    handles: dict[str, ActorHandle]
    config: Config

    def spec(self, name: str, start: Callable[[ActorHandle], pykka.ActorRef], first: Callable[[], tuple]) -> CoreSpec:
        sv = self.config.supervision
        return CoreSpec(name, start, first, float(getattr(sv.stall_limit_secs, name)), sv.backlog_limit)


def start_core(rt: Runtime, config: Config, venue: Any, repository: Any, *, platform: str, seed: int, epoch: str,
               skip: Callable[[], frozenset]) -> Core:
    """`skip()`: positions start-up left alone; a restarted Supervisor leaves them alone too."""
    failure = EngineFailure()
    sv = config.supervision
    watchdog = Watchdog.start(rt, failure, heartbeat_secs=float(sv.heartbeat_secs), max_restarts=sv.max_restarts,
                              window_secs=float(sv.restart_window_secs))

    def down(name: str, why: str, urn: str) -> None:
        rt.send(watchdog, CoreActorDown(name, why, urn))

    def run_watchdog() -> bool:
        return rt.dispatcher is not None and rt.dispatcher.pump_ref(watchdog)

    handles = {name: ActorHandle(name, rt.activity, rt.clock, on_down=down, on_wait=run_watchdog) for name in ORDER}
    refs = Refs(*(handles[name] for name in ORDER))
    m = config.monitoring
    call_log: deque = deque(maxlen=100_000)          # outlives each RateLimiter (the budget counts it)
    incarnation = itertools.count()
    builders: dict[str, Callable[[ActorHandle], pykka.ActorRef]] = {
        "store": lambda h: Store.start(rt, repository, handle=h),
        "supervisor": lambda h: Supervisor.start(rt, config, repository, handle=h),
        "risk_manager": lambda h: RiskManager.start(rt, config, refs.supervisor, repository=repository, handle=h),
        "rate_limiter": lambda h: RateLimiter.start(
            rt, venue, m.max_api_calls_per_minute, refs.risk_manager, seed=seed, call_log=call_log, handle=h,
            read_patience_secs=m.price_cache_ttl_secs,
            reserved_for_orders=int(m.max_api_calls_per_minute * m.reserved_for_orders_pct / 100)),
        "price_cache": lambda h: PriceCache.start(rt, refs.rate_limiter, m.price_cache_ttl_secs,
                                                  streamed=rt.streamed_quotes, handle=h,
                                                  volume_window_secs=config.liquidity.volume_window_secs,
                                                  min_volume=config.liquidity.min_volume,
                                                  stale_after_secs=m.quote_stale_alert_secs),
        # A restarted router's exit ids carry a new epoch: an id is never used twice.
        "exit_router": lambda h: ExitRouter.start(rt, config, handle=h, repository=repository,
                                                  epoch=epoch + (f"r{n}" if (n := next(incarnation)) else "")),
        "entry_manager": lambda h: EntryManager.start(rt, config, platform, repository, handle=h),
    }
    for name in ORDER:
        handles[name].attach(builders[name](handles[name]))
    for name in sorted(WIRED):
        rt.send(handles[name], Wired(refs))
    core = Core(refs, watchdog, failure, handles, config)
    for name in ORDER:
        first: Callable[[], tuple] = ((lambda: (Wired(refs), Rebuild(skip()))) if name in WIRED
                                      else (lambda: (Rebuild(skip()),)))
        rt.send(watchdog, Watch(core.spec(name, builders[name], first), handles[name]))
    if hasattr(rt.scheduler, "stuck_checks"):
        rt.scheduler.stuck_checks.append(lambda after_s: report_stuck(handles, after_s))
    return core


def report_stuck(handles: dict[str, ActorHandle], after_s: float) -> bool:
    """Virtual time: report every core actor whose handler has run `after_s` of wall time (the
    clock cannot move while it runs). True when one was found (a restart is under way)."""
    found = False
    for h in tuple(handles.values()):
        current = h.current
        if current is not None and not h.closed and _wall.monotonic() - current[2] >= after_s:
            h.report_down(f"stuck: a handler has not returned for {after_s:.0f}s while virtual time waited")
            found = True
    return found


def watch_game_feed(core: Core, rt: Runtime, build: Callable[[ActorHandle], pykka.ActorRef]) -> ActorHandle:
    """Start the live GameFeed behind a handle (`build(handle)` starts one) and watch it."""
    handle = ActorHandle("game_feed", rt.activity, rt.clock, on_down=lambda name, why, urn: rt.send(
        core.watchdog, CoreActorDown(name, why, urn)))
    handle.attach(build(handle))
    core.handles["game_feed"] = handle
    rt.send(core.watchdog, Watch(core.spec("game_feed", build, lambda: (Rebuild(),)), handle))
    return handle
