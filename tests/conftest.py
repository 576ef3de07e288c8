"""Shared fixtures: a whole paper engine on virtual time, built per test and torn down after it.

`make_engine(overrides)` builds running.build_paper_engine over a tmp_path SQLite database with an
in-memory audit recorder and returns an `EngineHarness`: helpers to set the paper venue's book
(what the venue really has), push quotes (what the engine is told), send signals and move
virtual time. Teardown stops every engine and fails the test if any pykka actor is left.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest
import yaml

from config.loader import load_config
from models.market import Quote, Side
from models.orders import Action, OrderRequest, OrderSnapshot, OrderStatus
from models.signal import TradingSignal

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)

# CI (.ci/run sets HYPOTHESIS_PROFILE=ci) runs the property tests on a fixed example set: a red run
# is then the code's doing, never the luck of a fresh random search (a clean clone has no example
# database). A local run keeps searching at random, and saves what it finds in .hypothesis/.
try:
    import os

    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("HYPOTHESIS_PROFILE"):
        _hypothesis_settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
except ImportError:   # hypothesis comes with the test extra
    pass


def D(x: Any) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


class EngineHarness:
    """One paper engine (actors, paper venue, SQLite, audit recorder) on virtual time."""

    def __init__(self, tmp_path: Path, overrides: dict | None, start: datetime, name: str,
                 db_path: Path | None = None, streamed: bool = False, threads: bool = False) -> None:
        from adapters.cli.running import build_paper_engine

        config_path = None
        # The harness's markets are books set once and left: nothing trades in them, so with
        # the defaults every position would be exited by liquidity_dried_up (recent volume 0)
        # five minutes in. Tests of other rules run with the recent-volume test off; a test of
        # liquidity sets `liquidity.min_volume` itself (tests/actors/test_exit_reachability.py).
        overrides = dict(overrides or {})
        overrides["liquidity"] = {"min_volume": 0, **overrides.get("liquidity", {})}
        if overrides:
            config_path = tmp_path / f"{name}.yaml"
            config_path.write_text(yaml.safe_dump(overrides), encoding="utf-8")
        self.config = load_config(config_path)
        self.audit: list[dict[str, Any]] = []
        self.db_path = db_path or tmp_path / f"{name}.db"
        self.engine = build_paper_engine(self.config, start, db_path=str(self.db_path), audit_path=None,
                                         recorder=self.audit, fresh=db_path is None, streamed_quotes=streamed,
                                         inline=False if threads else None)
        self.venue = self.engine.venue
        self.system = self.engine.system
        self.scheduler = self.engine.scheduler
        self.clock = self.engine.clock
        self.repo = self.engine.repository
        self._signals = itertools.count(1)
        self._stopped = False
        # Every exit (sell) order the venue receives is checked against the venue's own
        # resting sells of that market and side: two live exit orders for one position.
        self.double_exit_orders: list[tuple[OrderRequest, tuple[OrderSnapshot, ...]]] = []
        original = self.venue.place_order

        def place_order(request: OrderRequest) -> OrderSnapshot:
            if request.action is Action.SELL:
                live = tuple(o for o in self.venue.list_orders(request.ticker, OrderStatus.RESTING)
                             if o.action is Action.SELL and o.side is request.side)
                if live:
                    self.double_exit_orders.append((request, live))
            return original(request)

        self.venue.place_order = place_order  # type: ignore[method-assign]

    # -- time ------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def run(self, seconds: float = 0) -> None:
        """Advance virtual time, firing every timer due, each after all actors went idle."""
        self.scheduler.run_for(timedelta(seconds=seconds))

    def run_until(self, predicate, *, step: float = 1, limit: float = 3600) -> float:
        """Advance in `step`s until predicate() holds; returns the virtual seconds it took."""
        start = self.now()
        while not predicate():
            if (self.now() - start).total_seconds() >= limit:
                raise AssertionError(f"condition not reached within {limit} virtual seconds")
            self.run(step)
        return (self.now() - start).total_seconds()

    # -- market data ----------------------------------------------------------------------
    def market(self, ticker: str, bid: Any, ask: Any, *, bid_size: int | None = None,
               ask_size: int | None = None, volume: int = 1000, close_time: datetime | None = None,
               push: bool = False) -> Quote:
        """Set the venue's top of book (size None: unlimited). With push=True the engine is
        also told (a streamed quote); otherwise positions must poll to see it."""
        q = Quote(ticker, self.now(), None if bid is None else D(bid), None if ask is None else D(ask),
                  bid_size, ask_size, None, volume, close_time)
        self.venue.set_quote(q)
        if push:
            self.system.push_quote(q)
        self.run(0)
        return q

    def levels(self, ticker: str, bids: list[tuple[Any, int | None]], asks: list[tuple[Any, int | None]], *,
               volume: int = 1000) -> None:
        """Set the venue's full depth (not pushed: positions see it when they poll)."""
        self.venue.set_book(ticker, [(D(p), s) for p, s in bids], [(D(p), s) for p, s in asks], volume=volume)
        self.run(0)

    def phantom(self, ticker: str, bid: Any, ask: Any, *, volume: int = 1000) -> Quote:
        """Push a quote to the engine that the venue does not have (the stream showed it, the
        book had already moved): orders priced from it do not find that liquidity."""
        q = Quote(ticker, self.now(), None if bid is None else D(bid), None if ask is None else D(ask),
                  None, None, None, volume, None)
        self.system.push_quote(q)
        self.run(0)
        return q

    # -- signals and positions ----------------------------------------------------------------
    def signal(self, ticker: str, side: str = "yes", *, contracts: int | None = 20, win_probability: Any = "0.90",
               market_price: Any = "0.50", signal_type: str = "default", game_id: str | None = "G1",
               sport: str = "nba", signal_id: str | None = None) -> TradingSignal:
        sig = TradingSignal(signal_id or f"s{next(self._signals)}", self.now(), game_id, sport, ticker, "paper",
                            Side(side), signal_type, D(win_probability),
                            None if market_price is None else D(market_price), contracts=contracts)
        self.system.push_signal(sig)
        return sig

    def enter(self, ticker: str, side: str = "yes", **kw: Any) -> str:
        """Send a signal, let it fill, and return the id of the position it opened."""
        sig = self.signal(ticker, side, **kw)
        self.run(0)
        opened = self.events("TRADE_EXECUTED", signal_id=sig.signal_id)
        assert opened, f"signal {sig.signal_id} opened nothing: {self.events('SIGNAL_REJECTED')}"
        return opened[-1]["position_id"]

    def set_model(self, ticker: str, yes_probability: Any) -> None:
        from models.events import ModelProbabilityUpdated

        self.system.push_model_probability(ModelProbabilityUpdated(ticker, D(yes_probability), self.now()))
        self.run(0)

    def settle(self, ticker: str, result: str) -> None:
        from adapters.sim.session import VirtualSession
        from models.events import MarketSettled

        session = VirtualSession(self.system, self.venue, self.scheduler, self.clock)
        session.apply(self.now(), MarketSettled(ticker, Side(result), self.now()))
        self.run(0)

    # -- what happened ------------------------------------------------------------------------
    def events(self, name: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        out = []
        for e in list(self.audit):
            if name is not None and e["event"] != name:
                continue
            if all(e.get(k) == v for k, v in fields.items()):
                out.append(e)
        return out

    def position(self, position_id: str):  # type: ignore[no-untyped-def]
        """The position's row, after the Store has committed everything sent to it."""
        self.system.flush()
        return self.repo.load_position(position_id)

    def exits(self, position_id: str):  # type: ignore[no-untyped-def]
        self.system.flush()
        return self.repo.exits_for(position_id)

    def call_log(self) -> list[tuple[datetime, str]]:
        return list(self.system.proxy_attr(self.system.refs.rate_limiter, "call_log"))

    def calls(self, method: str) -> list[datetime]:
        return [t for t, m in self.call_log() if m == method]

    def position_ref(self, position_id: str):  # type: ignore[no-untyped-def]
        return self.system.proxy_attr(self.system.refs.supervisor, "positions").get(position_id)

    def evaluations(self, position_id: str) -> int:
        ref = self.position_ref(position_id)
        assert ref is not None, f"position {position_id} has no live actor"
        return ref.proxy().evaluations.get(timeout=10)

    def sells(self, ticker: str) -> list[OrderSnapshot]:
        return [o for o in self.venue.list_orders(ticker) if o.action is Action.SELL]

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.engine.stop()


@pytest.fixture
def make_engine(tmp_path, monkeypatch):
    """Build engines (`make_engine(overrides=None, start=T0, database_of=None, streamed=False,
    threads=False)`; streamed: quotes are pushed, as in a replay; threads: a thread per actor, as
    live, instead of the inline dispatcher (actors/dispatch.py) -- for tests that stall a handler
    or race a Watchdog restart); all are stopped after the test,
    and the test fails if any pykka actor is still alive."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    built: list[EngineHarness] = []

    def make(overrides: dict | None = None, *, start: datetime = T0,
             database_of: EngineHarness | None = None, streamed: bool = False,
             threads: bool = False) -> EngineHarness:
        # database_of: a new process on that engine's database (not wiped), with a new paper venue
        h = EngineHarness(tmp_path, overrides, start, f"engine{len(built)}",
                          db_path=database_of.db_path if database_of is not None else None, streamed=streamed,
                          threads=threads)
        built.append(h)
        return h

    yield make
    try:
        for h in built:
            h.stop()
    finally:
        leaked = pykka.ActorRegistry.get_all()
        if leaked:
            pykka.ActorRegistry.stop_all(block=True, timeout=10)
            pytest.fail(f"{len(leaked)} pykka actors left running after the engine stopped: "
                        f"{sorted({r.actor_class.__name__ for r in leaked})}")


@pytest.fixture
def engine(make_engine) -> EngineHarness:
    """An engine with the default configuration."""
    return make_engine()


@pytest.fixture(autouse=True)
def _own_lock_dir(tmp_path, monkeypatch):
    """Kalshi-key engine locks go to the test's own folder, never a folder shared with other runs."""
    monkeypatch.setenv("ARBEES_LOCK_DIR", str(tmp_path / "engine-locks"))
