"""Issue 14, time bands in the engine (models/time_band.py): a banded position sleeps through the
cadence ticks that cannot change anything, and still records exactly the exits of the same replay
with every quote sent to every position and every tick evaluated (bands off): every
position_exits row (reason, status, contracts, price, trigger and fill time), every position's
realized P&L and close time, and every MODEL_STALE event (position and time).

The walks are built for what moves with the clock alone: quiet stretches where only the sizes
change, markets that go silent for an hour, a market whose lifetime volume stops growing (its
recent volume dries up while its positions are quiet), a close time that falls inside a silent
stretch, model estimates that go stale while nothing trades, a daily loss limit that trips, and
settlement. A last test counts what the sleeping saves: a market silent for two hours costs each
position a handful of evaluations, not one every 30 s."""
from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.harness.bench.engine import START, engine_factory
from adapters.harness.bench.fleet import Spec, open_positions
from adapters.sim.session import VirtualSession
from config.loader import load_config
from models.events import MarketSettled, ModelProbabilityUpdated
from models.market import Quote, Side

from tests.actors.test_quiet_bands_engine import cache_counts, exits_of

CENT = Decimal("0.01")
TICKERS = ("QT-0", "QT-1", "QT-2", "QT-3")
NO_VOLUME = ("QT-1", "QT-3")
# QT-0 reports a lifetime volume that sometimes stops growing; QT-1 reports none (no volume
# verdict) and closes inside a silent stretch; QT-2 reports a volume that grows while it trades;
# QT-3 reports none and lives to settlement.
PHASES = ("active", "active", "active", "still", "still", "dry", "silent", "model")


def quiet_walk(seed: int) -> list:
    """The walk, with QT-1's close time 20 minutes into the first silent stretch."""
    first_silence = _walk(seed, None)[1]
    return _walk(seed, first_silence + timedelta(minutes=20))[0]


def _walk(seed: int, close):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    plan = [rng.choice(PHASES) for _ in range(14)]
    plan[rng.randrange(3, 7)] = "silent"
    plan[rng.randrange(0, 3)] = plan[rng.randrange(8, 12)] = "model"
    mids = {t: rng.randint(40, 60) for t in TICKERS}
    volume = {t: 1_000_000 for t in TICKERS}
    events, ts, silence = [], START, None

    def push(ticker: str, grow: bool = True, sizes: int | None = None) -> None:
        if grow and ticker not in NO_VOLUME:
            volume[ticker] += rng.choice((30, 100, 400))
        mid = mids[ticker]
        events.append((ts, Quote(ticker, ts, Decimal(mid) * CENT, Decimal(mid + 1) * CENT, yes_bid_size=sizes,
                                 yes_ask_size=sizes, volume=None if ticker in NO_VOLUME else volume[ticker],
                                 close_time=close if ticker == "QT-1" else None)))

    for phase in plan:
        if phase == "silent":
            silence = ts if silence is None else silence
            ts += timedelta(minutes=rng.randint(45, 75))
        elif phase == "active":
            for _ in range(rng.randint(20, 60)):
                ts += timedelta(seconds=rng.choice((1, 3, 8, 20, 45)))
                t = rng.choice(TICKERS)
                mids[t] = min(90, max(10, mids[t] + rng.choice((-1, -1, 0, 1, 1))))
                push(t, sizes=rng.choice((None, 300)))
        elif phase == "still":                              # only the sizes change, for a while
            for _ in range(rng.randint(10, 30)):
                ts += timedelta(seconds=rng.choice((20, 60, 110)))
                push(rng.choice(TICKERS), sizes=rng.choice((100, 200, 300)))
        elif phase == "dry":                                # QT-0 trades no more: its volume dries up
            for _ in range(rng.randint(5, 15)):
                ts += timedelta(seconds=rng.choice((30, 70, 130)))
                push("QT-0", grow=False, sizes=rng.choice((100, 200)))
        else:                                               # a model estimate, then nothing for a while
            ts += timedelta(seconds=rng.randint(1, 30))
            t = rng.choice(TICKERS)
            p = Decimal(mids[t] + rng.choice((-6, 3, 8, 12))) * CENT
            events.append((ts, ModelProbabilityUpdated(t, p, ts)))
            ts += timedelta(minutes=rng.randint(2, 12))
    end = ts + timedelta(minutes=1)
    events += [(end, MarketSettled(t, Side.YES if mids[t] >= 50 else Side.NO, end)) for t in TICKERS]
    return events, silence


def run(tmp_path: Path, seed: int, bands: bool, limit: str):  # type: ignore[no-untyped-def]
    config = load_config(None)
    config = dataclasses.replace(config, circuit_breaker=dataclasses.replace(
        config.circuit_breaker, daily_loss_limit_dollars=Decimal(limit)))
    folder = tmp_path / ("on" if bands else "off")
    folder.mkdir(parents=True, exist_ok=True)
    engine = engine_factory(config, folder)("walk", start=START, streamed_quotes=True, quiet_bands=bands)
    engine.audit.recorder = []
    try:
        session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock)
        events = quiet_walk(seed)
        opening = [(START, Quote(t, START, Decimal(50) * CENT, Decimal(51) * CENT,
                                 volume=None if t in NO_VOLUME else 1_000_000)) for t in TICKERS]
        session.run(opening, tail=timedelta(0))
        specs = [Spec(f"qt-{k:03d}", t, side, Decimal("0.51"), 10 + k % 5, ("default", "momentum", "model_edge")[k % 3])
                 for k, (t, side) in enumerate((t, s) for _ in range(3) for t in TICKERS for s in (Side.YES, Side.NO))]
        open_positions(engine, specs, tag="qt")
        session.run(events)
        engine.system.flush()
        counts = cache_counts()
        stale = sorted((r["position_id"], r["ts"]) for r in engine.audit.recorder if r["event"] == "MODEL_STALE")
        result = exits_of(engine), stale
    finally:
        engine.stop()
    return result, counts


@pytest.mark.parametrize("seed,limit", [(12, "1000000"), (13, "1000000"), (14, "1000000"), (21, "1000000"), (15, "3"), (16, "3")])
def test_time_bands_change_no_exit_of_a_walk_with_quiet_stretches(tmp_path, seed, limit):
    (off, _), (on, (forwarded, filtered)) = run(tmp_path, seed, False, limit), run(tmp_path, seed, True, limit)
    assert on == off
    (rows, positions), stale = off
    assert rows
    if limit == "3":                           # the daily loss limit trips
        assert any("'circuit_breaker'" in row for row in rows)
    else:                                       # models went stale; the clock or settlement closed some
        assert stale and filtered > 0
        assert {reason for _, reason, _, _ in positions} & {"time_based_urgent", "settlement"}


def evaluations(engine) -> list[int]:  # type: ignore[no-untyped-def]
    system = engine.system
    refs = system.proxy_attr(system.refs.supervisor, "positions")
    return [ref.proxy().evaluations.get(timeout=5) for ref in refs.values()]


def silent_for_two_hours(engine, tag: str) -> list:  # type: ignore[no-untyped-def]
    """Ten quiet positions in a market that then says nothing for two hours: their evaluations."""
    try:
        session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock)
        session.run([(START, Quote("QS", START, Decimal("0.50"), Decimal("0.51")))], tail=timedelta(0))
        open_positions(engine, [Spec(f"{tag}-{k}", "QS", side, Decimal("0.51")) for k, side in
                                enumerate((Side.YES, Side.NO) * 5)], tag=tag)
        session.run([], tail=timedelta(hours=2))
        return evaluations(engine)
    finally:
        engine.stop()


@pytest.mark.parametrize("bands", [False, True])
def test_a_market_silent_for_two_hours_costs_a_quiet_position_a_few_evaluations(tmp_path, bands):
    """Without time bands every position evaluates at every 30 s tick (240 in two hours); with
    them a quiet position wakes at most every QUIET_MAX (10 min) and evaluates once then."""
    engine = engine_factory(load_config(None), tmp_path)("silent", start=START, streamed_quotes=True,
                                                          quiet_bands=bands)
    counts = silent_for_two_hours(engine, "qs")
    assert len(counts) == 10                    # nothing closed: a silent market with no verdict
    if bands:
        assert max(counts) <= 2 * 12 + 2        # a wake-up every 10 min, not every 30 s
    else:
        assert min(counts) >= 240


def test_live_quiet_positions_still_wake_every_tick_so_their_marks_stay_fresh(tmp_path):
    """Live (wall clock) engines take no time bands: a quiet position's saved mark, which status
    and the dashboard read, stays one tick old. The same silent market as above with the live
    setting (Runtime.time_bands False): every position evaluates at every 30 s tick."""
    from adapters.engine.build import MODES

    assert MODES["live"].time_bands is False and MODES["replay"].time_bands and MODES["paper"].time_bands
    engine = engine_factory(load_config(None), tmp_path)("silent-live", start=START, streamed_quotes=True)
    assert engine.system.rt.time_bands        # the builder passes the mode's setting (bench: virtual)
    engine.stop()
    engine = engine_factory(load_config(None), tmp_path)("silent-live2", start=START, streamed_quotes=True)
    object.__setattr__(engine.system.rt, "time_bands", False)    # as build_engine("live") sets it
    counts = silent_for_two_hours(engine, "ql")
    assert len(counts) == 10 and min(counts) >= 240
