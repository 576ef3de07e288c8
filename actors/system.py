"""The actor system: starts the core actors in dependency order, wires them, stops them cleanly.

Order: Store, Supervisor, RiskManager, RateLimiter, PriceCache, ExitRouter, EntryManager; then
every actor that needs the others gets one `Wired(refs)`. On start it can resume open
positions from the database. Stopping goes the other way: positions and executors first,
then the entry side, then the gateway, and the Store last (so every write lands).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pykka

from actors.entry_manager import EntryManager
from actors.exit_router import ExitRouter
from actors.heartbeat import Heartbeat
from actors.price_cache import PriceCache
from actors.rate_limiter import RateLimiter
from actors.risk_manager import RiskManager
from actors.runtime import Runtime
from actors.store import Store
from actors.supervisor import Supervisor, rebuild_position
from actors.wiring import Refs, Wired
from adapters.repository import Repository
from adapters.venue import Venue
from config.schema import Config
from models.market import Quote
from models.messages import (
    Flush,
    ForwardToMarket,
    GameUpdated,
    MarketSettled,
    ModelProbabilityUpdated,
    PriorCalls,
    QuotePushed,
    RestoreExposure,
    SignalReceived,
    StartPosition,
)
from models.signal import TradingSignal

STOP_TIMEOUT_S = 10.0


@dataclass
class System:
    rt: Runtime
    config: Config
    refs: Refs
    repository: Repository

    @classmethod
    def start(cls, rt: Runtime, config: Config, venue: Venue, repository: Repository, *,
              platform: str = "paper", seed: int = 0, epoch: str | None = None) -> "System":
        """`epoch` names this start of the process in exit ids; by default a fresh random token,
        so ids never repeat across restarts."""
        if epoch is None:
            epoch = uuid.uuid4().hex[:6]
        store = Store.start(rt, repository)
        supervisor = Supervisor.start(rt, config, repository)
        risk = RiskManager.start(rt, config, supervisor)
        limiter = RateLimiter.start(rt, venue, config.monitoring.max_api_calls_per_minute, risk, seed=seed,
                                    reserved_for_orders=int(config.monitoring.max_api_calls_per_minute
                                                            * config.monitoring.reserved_for_orders_pct / 100))
        cache = PriceCache.start(rt, limiter, config.monitoring.price_cache_ttl_secs, streamed=rt.streamed_quotes)
        router = ExitRouter.start(rt, config, epoch=epoch)
        entries = EntryManager.start(rt, config, platform, repository)
        refs = Refs(store, supervisor, risk, limiter, cache, router, entries)
        for ref in (supervisor, router, entries):
            rt.send(ref, Wired(refs))
        Heartbeat.start(rt, config, refs, repository)   # issue 12: HEARTBEAT every 30 s (stopped with the rest)
        return cls(rt, config, refs, repository)

    # resuming ---------------------------------------------------------------------------
    def count_prior_calls(self, times) -> None:  # type: ignore[no-untyped-def]
        """Venue calls made outside the RateLimiter (reconciliation, a previous process) that
        still count against the current minute's budget."""
        self.rt.send(self.refs.rate_limiter, PriorCalls(tuple(times)))

    def resume_open_positions(self, skip: set[str] | frozenset[str] = frozenset()) -> int:
        """Restart an actor for every open position in the database (after a restart), except
        `skip` (positions whose orders reconciliation could not confirm: they count toward the
        caps, but nothing trades them until a later reconcile)."""
        rebuilt = [rebuild_position(self.repository, s) for s in self.repository.load_open_positions()]
        held = [(s, applied) for s, applied in rebuilt if s.contracts > 0]
        self.rt.send(self.refs.entry_manager, RestoreExposure(tuple(s for s, _ in held)))
        live = [(s, applied) for s, applied in held if s.position_id not in skip]
        for state, applied in live:
            self.rt.send(self.refs.supervisor, StartPosition(state, applied))
        return len(live)

    # inputs -----------------------------------------------------------------------------
    def push_quote(self, quote: Quote) -> None:
        self.rt.send(self.refs.price_cache, QuotePushed(quote))

    def push_signal(self, signal: TradingSignal) -> None:
        self.rt.send(self.refs.entry_manager, SignalReceived(signal))

    def push_model_probability(self, msg: ModelProbabilityUpdated) -> None:
        self.rt.send(self.refs.supervisor, ForwardToMarket(msg.ticker, msg))

    def push_game(self, ticker: str, update: GameUpdated) -> None:
        self.rt.send(self.refs.supervisor, ForwardToMarket(ticker, update))

    def settle(self, msg: MarketSettled) -> None:
        self.rt.send(self.refs.supervisor, ForwardToMarket(msg.ticker, msg))

    # introspection (for summaries, tests and benchmarks; bounded asks) ---------------------
    def proxy_attr(self, ref: Any, name: str) -> Any:
        return ref.proxy().__getattr__(name).get(timeout=self.rt.ask_timeout_s)

    def flush(self) -> None:
        self.rt.ask(self.refs.store, Flush())

    def stop(self) -> None:
        """Stop positions and executors, then the core actors in reverse order; the Store last."""
        core = {r.actor_urn for r in (self.refs.store, self.refs.supervisor, self.refs.risk_manager,
                                      self.refs.rate_limiter, self.refs.price_cache, self.refs.exit_router,
                                      self.refs.entry_manager)}
        for ref in pykka.ActorRegistry.get_all():
            if ref.actor_urn not in core:
                ref.stop(block=True, timeout=STOP_TIMEOUT_S)
        for ref in (self.refs.entry_manager, self.refs.exit_router, self.refs.price_cache, self.refs.rate_limiter,
                    self.refs.risk_manager, self.refs.supervisor):
            ref.stop(block=True, timeout=STOP_TIMEOUT_S)
        try:
            self.flush()
        finally:
            self.refs.store.stop(block=True, timeout=STOP_TIMEOUT_S)
