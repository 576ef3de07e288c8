"""Memory per open position, and the time to recover 1,000 open positions from the database.

RSS: a fresh interpreter (`python -m adapters.harness.bench.memory rss N`, so earlier runs' freed memory
cannot hide growth) builds the engine, reads VmRSS, opens N positions over 200 markets, pushes
one quote per market so every position has marked and evaluated once, reads VmRSS again:
(after - before) / N. What a position costs: its actor (a thread and its stack pages, the
inbox), its state, its timer, its subscription, its row in the Supervisor's maps.

Recovery: a database holding N open positions (written by an engine that is then stopped), a
fresh engine over it (on the venue that holds them), timed from building the engine (which
reconciles with the venue and resumes them) until every position has evaluated once on a quote. Two ways to get that quote: the market
data stream pushes one per market (the headline), or nobody pushes and each position's own
wake-up (< 1 s away) reads it through the PriceCache within the call budget (see
measure_recovery).
"""
from __future__ import annotations

import gc
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from adapters.harness.bench.fleet import Spec, Stopwatch, open_positions, quote, read_attr, rss_kib, settle
from models.market import Side

MARKETS = 200
BID, ASK = "0.50", "0.51"
REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True, slots=True)
class RssPoint:
    positions: int
    rss_before_kib: int
    rss_after_kib: int

    @property
    def kib_per_position(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.positions


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    positions: int
    wall_s: float
    virtual_s: float          # virtual time it took (live, real seconds): 0 when quotes are pushed
    venue_reads: int
    polling: bool


def fleet(n: int, tag: str) -> list[Spec]:
    """n positions over MARKETS markets, both sides, at 0% P&L (nothing fires)."""
    out = []
    for i in range(n):
        side = Side.YES if (i // MARKETS) % 2 == 0 else Side.NO
        entry = Decimal(BID) if side is Side.YES else 1 - Decimal(ASK)
        out.append(Spec(f"{tag}-{i:05d}", f"MEM-M{i % MARKETS:03d}", side, entry))
    return out


def _set_quotes(engine: Any, *, push: bool) -> None:
    now = engine.clock.now()
    for m in range(MARKETS):
        q = quote(f"MEM-M{m:03d}", now, BID, ASK)
        engine.venue.set_quote(q)
        if push:
            engine.system.push_quote(q)


def rss_in_process(make_engine: Callable[..., Any], n: int) -> RssPoint:
    engine = make_engine(f"rss-{n}")
    try:
        _set_quotes(engine, push=False)
        settle(engine)
        gc.collect()
        before = rss_kib()
        open_positions(engine, fleet(n, "mem"), tag="mem")
        _set_quotes(engine, push=True)
        settle(engine)
        gc.collect()
        after = rss_kib()
    finally:
        engine.stop()
    return RssPoint(n, before, after)


def rss_per_position(n: int, config_path: str | None = None, timeout_s: float = 600) -> RssPoint:
    """Measure in a fresh interpreter (see the module docstring)."""
    cmd = [sys.executable, "-m", "adapters.harness.bench.memory", "rss", str(n)]
    if config_path:
        cmd += ["--config", config_path]
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench: the RSS run for {n} positions failed: {done.stderr.strip()[-500:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return RssPoint(data["positions"], data["rss_before_kib"], data["rss_after_kib"])


def prepare_recovery_db(make_engine: Callable[..., Any], n: int) -> Any:
    """Write n open positions to the 'recovery' database with an engine that is then stopped;
    returns the venue that holds them (a restart reconciles with it)."""
    first = make_engine("recovery")
    try:
        _set_quotes(first, push=False)
        open_positions(first, fleet(n, "rec"), tag="rec")
        first.system.flush()
    finally:
        first.stop()
    return first.venue


def measure_recovery(make_engine: Callable[..., Any], n: int = 1000, *, venue: Any, polling: bool = False,
                     limit_virtual_s: int = 900) -> RecoveryResult:
    """Time a fresh engine over the database until all n positions have evaluated once.

    polling=False: once the positions are back, one quote per market arrives from the stream
    (pushed, as the market-data feed delivers it) and virtual time does not move.
    polling=True: nothing is pushed; virtual time moves in 1 s steps and each position's quote
    comes from its own wake-up's read, within the call budget."""
    watch = Stopwatch()
    engine = make_engine("recovery", fresh=False, venue=venue)   # reconciles, starts, resumes
    try:
        _set_quotes(engine, push=False)
        resumed = engine.startup.resumed
        if resumed != n:
            raise RuntimeError(f"bench: resumed {resumed} positions, expected {n}")
        settle(engine)
        start = engine.clock.now()
        if not polling:
            _set_quotes(engine, push=True)
            settle(engine)
        while not _all_evaluated(engine, n):
            if not polling or (engine.clock.now() - start).total_seconds() >= limit_virtual_s:
                raise RuntimeError("bench: the resumed positions did not all evaluate")
            engine.scheduler.run_for(timedelta(seconds=1))
            settle(engine)
        wall = watch.elapsed
        virtual = (engine.clock.now() - start).total_seconds()
        reads = sum(1 for _, m in engine.system.proxy_attr(engine.system.refs.rate_limiter, "call_log")
                    if m == "get_quotes")
    finally:
        engine.stop()
    return RecoveryResult(n, wall, virtual, reads, polling)


def _all_evaluated(engine: Any, n: int) -> bool:
    system = engine.system
    refs = system.proxy_attr(system.refs.supervisor, "positions")
    if len(refs) != n:
        return False
    return all(n > 0 for n in read_attr(refs.values(), "evaluations", system.rt.ask_timeout_s))


def _main(argv: list[str]) -> int:
    import argparse
    import tempfile

    from loguru import logger

    from adapters.harness.bench.engine import engine_factory
    from config.loader import load_config

    parser = argparse.ArgumentParser(prog="python -m adapters.harness.bench.memory")
    parser.add_argument("what", choices=["rss"])
    parser.add_argument("positions", type=int)
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    logger.remove()
    with tempfile.TemporaryDirectory() as tmp:
        make = engine_factory(load_config(args.config), Path(tmp))
        point = rss_in_process(make, args.positions)
    print(json.dumps({"positions": point.positions, "rss_before_kib": point.rss_before_kib,
                      "rss_after_kib": point.rss_after_kib}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
