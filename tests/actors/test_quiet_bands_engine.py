"""Issue 14 in the engine: a streamed replay with quiet bands on (the PriceCache sends a position
only the quotes that leave its band) records exactly the exits of the same replay with every
quote sent to every position: every position_exits row (position, reason, status, contracts,
price, trigger and fill time) and every position's realized P&L. Most quotes are really held
back (the cache's count), so the comparison is not between two unfiltered runs.

Two paths: a seeded random walk over several markets (always runs: stops, partial stages,
trailing stops, a no-bid stretch, wide spreads, quotes that change only the sizes, a daily loss
limit that trips, settlement), and the real NBA recording's monitoring-heavy workload (skipped
when ../shared is absent)."""
from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pykka
import pytest

from actors.price_cache import PriceCache
from adapters.harness.bench.engine import START, engine_factory
from adapters.harness.bench.fleet import Spec, open_positions
from adapters.harness.bench.monitoring import measure_monitoring
from adapters.sim.session import VirtualSession
from models.events import MarketSettled
from config.loader import load_config
from models.market import Quote, Side
from adapters.storage.tables import database_proxy

from tests.paths import SHARED

NAME = "kalshi-nba-2025-11-22-LAC-CHA"
RECORDING = next((c for c in (SHARED / "data" / NAME,) if c.is_dir() and any(c.glob("*.jsonl"))), None)
CENT = Decimal("0.01")


def walk(seed: int, markets: int = 4, steps: int = 400) -> list:
    rng = random.Random(seed)
    mids = {f"QB-{m}": rng.randint(30, 70) for m in range(markets)}
    events, ts = [], START
    for i in range(steps):
        ts += timedelta(seconds=rng.choice((1, 2, 5, 15, 40)))
        ticker = rng.choice(sorted(mids))
        mid = mids[ticker] = min(97, max(3, mids[ticker] + rng.choice((-2, -1, -1, 0, 0, 1, 1, 2))))
        bid, ask = Decimal(mid) * CENT, Decimal(mid + 1) * CENT
        size = rng.choice((None, 200, 400))
        kind = rng.random()
        if kind < 0.03:
            bid = None                              # no YES bid for a moment
        elif kind < 0.06:
            bid -= 4 * CENT                         # a wide spread
        events.append((ts, Quote(ticker, ts, bid, ask, yes_bid_size=size, yes_ask_size=size,
                                 volume=1_000_000 + i * 100)))
    end = ts + timedelta(seconds=1)
    events += [(end, MarketSettled(t, Side.YES if mids[t] >= 50 else Side.NO, end)) for t in sorted(mids)]
    return events


def exits_of(engine) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    rows = database_proxy.execute_sql(
        "select position_id, reason, status, contracts, price, triggered_at, filled_at from position_exits").fetchall()
    positions = [(s.position_id, s.exit_reason, s.realized_pnl, s.closed_at) for s in engine.repository.all_positions()]
    return sorted(map(repr, rows)), positions


def cache_counts() -> tuple[int, int]:
    (ref,) = pykka.ActorRegistry.get_by_class(PriceCache)
    proxy = ref.proxy()
    return proxy.forwarded.get(timeout=5), proxy.filtered.get(timeout=5)


def run_walk(tmp_path: Path, seed: int, bands: bool, limit: str, inline: bool | None = None):  # type: ignore[no-untyped-def]
    config = load_config(None)
    config = dataclasses.replace(config, circuit_breaker=dataclasses.replace(
        config.circuit_breaker, daily_loss_limit_dollars=Decimal(limit)))
    make = engine_factory(config, tmp_path / ("on" if bands else "off"))
    (tmp_path / ("on" if bands else "off")).mkdir(parents=True, exist_ok=True)
    events = walk(seed)
    engine = make("walk", start=START, streamed_quotes=True, quiet_bands=bands, inline=inline)
    try:
        session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock)
        first = {}
        for i, (_, q) in enumerate(events):
            first.setdefault(q.ticker, q)
            if len(first) == 4:
                break
        session.run(events[:i + 1], tail=timedelta(0))
        specs = [Spec(f"qb-{k:03d}", t, side, Decimal(first[t].ask(side) or "0.5"), 10 + k % 7,
                      ("default", "momentum", "model_edge")[k % 3])
                 for k, (t, side) in enumerate((t, s) for _ in range(5) for t in sorted(first) for s in (Side.YES, Side.NO))
                 if first[t].ask(side) is not None and first[t].bid(side) is not None]
        open_positions(engine, specs, tag="qb")
        session.run(events[i + 1:])
        engine.system.flush()
        counts = cache_counts()
        result = exits_of(engine)
    finally:
        engine.stop()
    return result, counts


@pytest.mark.parametrize("seed,limit", [(1, "1000000"), (2, "1000000"), (3, "15"), (4, "40")])
def test_bands_change_no_exit_of_a_random_walk(tmp_path, seed, limit):
    (off, _), (on, (forwarded, filtered)) = run_walk(tmp_path, seed, False, limit), run_walk(tmp_path, seed, True, limit)
    assert on == off
    assert len(off[0]) > 0
    assert filtered > forwarded / 4          # the bands really held quotes back


def reading_exits(folder: Path, bands: bool):  # type: ignore[no-untyped-def]
    """An engine factory for the bench's measures (bands on or off) and a dict where each engine
    leaves exits_of(itself) under "exits" just before it stops."""
    folder.mkdir()
    base = engine_factory(load_config(None), folder)
    seen: dict = {}

    def make(*args, **kwargs):  # type: ignore[no-untyped-def]
        engine = base(*args, quiet_bands=bands, **kwargs)
        stop = engine.stop

        def stop_after_reading():  # type: ignore[no-untyped-def]
            seen["exits"] = exits_of(engine)
            stop()
        engine.stop = stop_after_reading
        return engine

    return make, seen


@pytest.mark.skipif(RECORDING is None, reason="the NBA recording (../shared/data) is absent")
def test_bands_change_no_exit_of_the_nba_game(tmp_path):
    results = {}
    for bands in (False, True):
        make, seen = reading_exits(tmp_path / str(bands), bands)
        measure_monitoring(make, RECORDING, positions=60)
        results[bands] = seen["exits"]
    assert results[True] == results[False]
    assert any("settlement" in row for row in results[True][0])


@pytest.mark.skipif(RECORDING is None, reason="the NBA recording (../shared/data) is absent")
def test_bands_change_no_exit_when_the_daily_loss_limit_trips_during_the_game(tmp_path):
    """The exit-heavy replay at 1,000 positions trips the $100 limit: the RiskManager asks every
    banded position for an exact mark (MarksNeeded), waits for their answers, then trips at the
    same instant as without bands, and every position's circuit_breaker trigger is the same. (When
    the 1,000 marketable exits then queue behind the call budget, the order they fill in follows
    the actors' threads even without bands, so fill times are not compared here.)"""
    from adapters.harness.bench.replay_speed import measure_replay

    results = {}
    for bands in (False, True):
        make, seen = reading_exits(tmp_path / str(bands), bands)
        result = measure_replay(make, RECORDING, positions=1000)
        rows, positions = seen["exits"]
        results[bands] = ([r for r in rows if "'circuit_breaker', 'triggered'" in r],
                          sorted((pid, reason) for pid, reason, _, _ in positions))
        assert result.exits_by_reason == {"circuit_breaker": 1000}
    assert results[True] == results[False]
    assert len(results[True][0]) == 1000
