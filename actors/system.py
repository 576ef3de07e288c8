"""The actor system: starts the core actors in dependency order, wires them, stops them cleanly.

Order: Store, Supervisor, RiskManager, RateLimiter, PriceCache, ExitRouter, EntryManager; then
every actor that needs the others gets one `Wired(refs)`. They are started behind stable handles
and watched by the Watchdog (actors/core_actors.py), which restarts them; `failure` is set when
the engine fails safe (the owner then stops it, flattens at the venue and exits non-zero). It is
started by adapters/engine/build.py's build_engine (after start-up reconciliation), which then resumes
open positions from the database and holds unconfirmed entries. Stopping goes the other way:
the Watchdog first (nothing is restarted from then on), positions and executors,
then the entry side, then the gateway, and the Store last (so every write lands).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pykka

from actors.core_actors import Core, start_core, watch_game_feed
from actors.heartbeat import Heartbeat
from actors.registry import EngineFailure
from actors.runtime import Runtime
from actors.supervisor import rebuild_positions
from actors.wiring import Refs
from models.storage import Storage
from models.venue import Venue
from config.schema import Config
from models.market import Quote
from models.commands import (
    ForwardToMarket,
    HoldUnconfirmedEntry,
    PriorCalls,
    RestoreExposure,
    ResumePendingSignals,
    StartPosition,
)
from models.events import MarketSettled, ModelProbabilityUpdated, QuotePushed, SignalReceived
from models.store_commands import Flush
from models.orders import OrderRequest
from models.signal import TradingSignal

STOP_TIMEOUT_S = 10.0


@dataclass
class System:
    """The engine's handle for its owner (adapters/engine/build.py, the sessions): not an actor.

    Receives: nothing; its methods are called.

    Sends: QuotePushed to the PriceCache; SignalReceived, RestoreExposure, ResumePendingSignals
    and HoldUnconfirmedEntry to the EntryManager; ForwardToMarket (a ModelProbabilityUpdated or
    a MarketSettled) and StartPosition to the Supervisor; PriorCalls to the RateLimiter.

    Asks: the Store Flush (`flush`, and at stop) and any actor's attribute (`proxy_attr`), within
    ask_timeout_s (10 s).
    """

    rt: Runtime
    config: Config
    refs: Refs
    repository: Storage
    core: Core | None = None
    skip: frozenset = frozenset()      # positions start-up left alone (a restarted Supervisor too)

    @property
    def failure(self) -> EngineFailure | None:
        return None if self.core is None else self.core.failure

    @classmethod
    def start(cls, rt: Runtime, config: Config, venue: Venue, repository: Storage, *,
              platform: str = "paper", seed: int = 0, epoch: str | None = None) -> "System":
        """`epoch` names this start of the process in exit ids; by default a fresh random token,
        so ids never repeat across restarts."""
        if epoch is None:
            epoch = uuid.uuid4().hex[:6]
        system: System | None = None
        core = start_core(rt, config, venue, repository, platform=platform, seed=seed, epoch=epoch,
                          skip=lambda: system.skip if system is not None else frozenset())
        Heartbeat.start(rt, config, core.refs, repository)   # issue 12: HEARTBEAT every 30 s (stopped with the rest)
        system = cls(rt, config, core.refs, repository, core)
        return system

    def watch_game_feed(self, build):  # type: ignore[no-untyped-def]
        """Start the live GameFeed (`build(handle)`) behind a handle, watched like the core."""
        assert self.core is not None
        return watch_game_feed(self.core, self.rt, build)

    # resuming ---------------------------------------------------------------------------
    def count_prior_calls(self, times) -> None:  # type: ignore[no-untyped-def]
        """Venue calls made outside the RateLimiter (reconciliation, a previous process) that
        still count against the current minute's budget."""
        self.rt.send(self.refs.rate_limiter, PriorCalls(tuple(times)))

    def resume_open_positions(self, skip: set[str] | frozenset[str] = frozenset()) -> int:
        """Restart an actor for every open position in the database (after a restart), except
        `skip` (positions whose orders reconciliation could not confirm: they count toward the
        caps, but nothing trades them until a later reconcile)."""
        rebuilt = rebuild_positions(self.repository, self.repository.load_open_positions())
        held = [(s, applied) for s, applied in rebuilt if s.contracts > 0]
        self.rt.send(self.refs.entry_manager, RestoreExposure(tuple(s for s, _ in held)))
        self.rt.send(self.refs.entry_manager, ResumePendingSignals())   # after the keys are restored
        self.skip = frozenset(skip)
        live = [(s, applied) for s, applied in held if s.position_id not in skip]
        for state, applied in live:
            self.rt.send(self.refs.supervisor, StartPosition(state, applied))
        return len(live)

    def hold_unconfirmed_entries(self, entries: tuple[tuple[OrderRequest, TradingSignal | None], ...]) -> int:
        """Entry orders reconciliation could not confirm: the EntryManager keeps each one's market
        and side reserved and its cost in the caps, and looks it up until the venue answers."""
        for request, signal in entries:
            self.rt.send(self.refs.entry_manager, HoldUnconfirmedEntry(request, signal))
        return len(entries)

    # inputs -----------------------------------------------------------------------------
    def push_quote(self, quote: Quote) -> None:
        self.rt.send(self.refs.price_cache, QuotePushed(quote))

    def push_signal(self, signal: TradingSignal) -> None:
        self.rt.send(self.refs.entry_manager, SignalReceived(signal))

    def push_model_probability(self, msg: ModelProbabilityUpdated) -> None:
        self.rt.send(self.refs.supervisor, ForwardToMarket(msg.ticker, msg))

    def settle(self, msg: MarketSettled) -> None:
        self.rt.send(self.refs.supervisor, ForwardToMarket(msg.ticker, msg))

    # introspection (for summaries, tests and benchmarks; bounded asks) ---------------------
    def proxy_attr(self, ref: Any, name: str) -> Any:
        return ref.proxy().__getattr__(name).get(timeout=self.rt.ask_timeout_s)

    def flush(self) -> None:
        self.rt.ask(self.refs.store, Flush())

    def stop(self) -> None:
        """Stop the Watchdog (nothing is restarted from now on), positions and executors, then
        the core actors in reverse order; the Store last."""
        handles = dict(self.core.handles) if self.core is not None else {}
        if self.core is not None:
            self.core.watchdog.stop(block=True, timeout=STOP_TIMEOUT_S)
        feed = handles.pop("game_feed", None)
        if feed is not None:
            feed.stop(block=True, timeout=STOP_TIMEOUT_S)
        core = {getattr(r, "target", r).actor_urn for r in (
            self.refs.store, self.refs.supervisor, self.refs.risk_manager, self.refs.rate_limiter,
            self.refs.price_cache, self.refs.exit_router, self.refs.entry_manager) if getattr(r, "target", r)}

        def stop_the_rest() -> None:
            for ref in pykka.ActorRegistry.get_all():
                if ref.actor_urn not in core:
                    ref.stop(block=True, timeout=STOP_TIMEOUT_S)

        stop_the_rest()
        for ref in (self.refs.entry_manager, self.refs.exit_router, self.refs.price_cache, self.refs.rate_limiter,
                    self.refs.risk_manager, self.refs.supervisor):
            ref.stop(block=True, timeout=STOP_TIMEOUT_S)
        # A core actor drains its inbox before it stops: a position (or executor) it started from
        # a message still queued (e.g. resuming, just after start-up) is stopped here.
        stop_the_rest()
        try:
            self.flush()
        finally:
            self.refs.store.stop(block=True, timeout=STOP_TIMEOUT_S)
