"""Monitoring-heavy replay: positions that live through the real NBA game, at 1,000 to 10,000.

The exit-heavy replay (replay_speed.py) opens every position on the two pre-game quotes, and
the game's opening prices cross every stop at once: it measures a burst of exits. Here the
positions are entered at ENTRY_POINTS of the game (tip-off, then every fifth of the game's
quotes), spread evenly over the two markets and both sides, each at the ask of its side at that
moment, so most of them are watched for hours of play:
- three in four are a wide "hold" type (stop 50%, trailing stop from +60% at 20 cents): most ride
  to settlement or take their partial stages; one in four is the default type (stop 12%,
  trailing from +10%), which mostly exits on the way;
- liquidity_dried_up on the spread at 6 cents instead of 3: the game's spread blips to 4-5 cents
  at timeouts, which at 3 would close every holder within minutes of entering;
- the daily loss limit and the call budget are lifted (as in the latency measure): with 10,000
  positions of 10 contracts the default $100 limit would close them all at the first swing,
  and thousands of exits in one virtual minute would queue behind a 60-calls-a-minute budget.

`wall_s` is the session's wall seconds minus the time spent opening positions (buying them on
the paper venue, writing them and starting their actors: reported apart as `open_s`), so the
growth exponent measures monitoring, exits and settlement. Speed-up = recording span / wall_s.
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Sequence

from adapters.harness.bench.engine import without_guards
from adapters.harness.bench.fleet import Spec, Stopwatch, open_positions
from adapters.harness.bench.growth_floor import counting_decisions
from adapters.harness.bench.replay_speed import load_events
from config.schema import Config, SignalTypeConfig, TrailingStopConfig
from models.market import Quote, Side

ENTRY_POINTS = 5                      # tip-off, then at each fifth of the game's quotes
GAME_GAP = timedelta(hours=1)         # the first quote after a silence this long starts the game
HOLD = SignalTypeConfig(stop_loss_pct=Decimal(50), profit_target_pct=Decimal(100),
                        trailing_stop=TrailingStopConfig(activation_pct=Decimal(60), distance_cents=Decimal(20)))
TYPES = ("hold", "hold", "default", "hold")
MAX_SPREAD_CENTS = Decimal(6)         # the game's 4-5 cent blips (timeouts) would close every holder at 3


@dataclass(frozen=True, slots=True)
class MonitoringResult:
    quotes: int
    positions: int
    span_s: float
    wall_s: float          # session wall seconds, opening positions excluded
    open_s: float          # wall seconds spent opening positions
    closed: int
    exits_by_reason: dict[str, int] = field(default_factory=dict)
    decisions: int = 0     # audit events but the heartbeat's, made inside wall_s (growth_floor.py)

    @property
    def speedup(self) -> float:
        return self.span_s / self.wall_s if self.wall_s > 0 else float("inf")


def monitoring_config(config: Config) -> Config:
    lifted = without_guards(config)
    return dataclasses.replace(lifted, signal_types={**lifted.signal_types, "hold": HOLD},
                               liquidity=dataclasses.replace(lifted.liquidity, max_spread_cents=MAX_SPREAD_CENTS))


def entry_indices(events: Sequence[tuple[Any, Any]]) -> list[int]:
    """Event indices (after which positions open): the game's first quote, then each fifth."""
    quotes = [i for i, (_, p) in enumerate(events) if isinstance(p, Quote)]
    start = 0
    for a, b in zip(quotes, quotes[1:]):
        if events[b][0] - events[a][0] >= GAME_GAP:
            start = quotes.index(b)
    game = quotes[start:]
    return [game[len(game) * k // ENTRY_POINTS] for k in range(ENTRY_POINTS)]


def specs_for(last: dict[str, Quote], count: int, first: int, tag: str) -> list[Spec]:
    combos = [(t, s) for t in sorted(last) for s in (Side.YES, Side.NO) if last[t].ask(s) is not None
              and last[t].bid(s) is not None]
    if not combos:
        raise ValueError("bench: no two-sided market at an entry point")
    out = []
    for i in range(count):
        ticker, side = combos[i % len(combos)]
        n = first + i
        out.append(Spec(f"{tag}-{n:05d}", ticker, side, Decimal(last[ticker].ask(side)), 10, TYPES[n % len(TYPES)]))
    return out


def measure_monitoring(make_engine: Callable[..., Any], data_dir: Path, *, positions: int = 1000,
                       config: Config | None = None) -> MonitoringResult:
    from adapters.sim.session import VirtualSession
    from config.loader import load_config

    events, links = load_events(data_dir)
    quotes = [p for _, p in events if isinstance(p, Quote)]
    span = (quotes[-1].ts - quotes[0].ts).total_seconds()
    cuts = entry_indices(events)
    engine = make_engine("monitoring", start=events[0][0], streamed_quotes=True,
                         config_override=monitoring_config(config or load_config(None)))
    decided = counting_decisions(engine.audit)
    try:
        session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock, links=links)
        watch, open_s, done, at = Stopwatch(), 0.0, 0, 0
        opened = 0           # decisions made while positions open: outside wall_s, as their time is
        last: dict[str, Quote] = {}
        for k, cut in enumerate(cuts):
            chunk = events[at:cut + 1]
            session.run(chunk, tail=timedelta(0))
            last.update((p.ticker, p) for _, p in chunk if isinstance(p, Quote))
            at = cut + 1
            count = positions * (k + 1) // len(cuts) - done
            opening, before = Stopwatch(), decided[0]
            open_positions(engine, specs_for(last, count, done, f"mon{k}"), tag=f"mon{k}")
            open_s += opening.elapsed
            opened += decided[0] - before
            done += count
        session.run(events[at:])
        engine.system.flush()
        wall = watch.elapsed - open_s
        states = engine.repository.all_positions()
    finally:
        engine.stop()
    reasons = Counter(s.exit_reason or "open" for s in states)
    closed = sum(1 for s in states if s.status.value == "closed")
    return MonitoringResult(len(quotes), positions, span, wall, open_s, closed, dict(sorted(reasons.items())),
                            decided[0] - opened)


def growth_exponent(points: Sequence[tuple[int, float]]) -> float | None:
    """k in cost ∝ positions^k between the smallest and the largest size measured."""
    if len(points) < 2:
        return None
    (n0, w0), (n1, w1) = min(points), max(points)
    if n1 == n0 or w0 <= 0 or w1 <= 0:
        return None
    return math.log(w1 / w0) / math.log(n1 / n0)
