"""Replay speed: the real Kalshi NBA recording with 100 positions whose exits are live.

../shared/data/kalshi-nba-2025-11-22-LAC-CHA holds two markets (LAC and CHA to win), 11,442
quotes over 13.3 hours (a morning stretch, a gap, then the 2.6 h game). It is turned into
replay events by the convert-recording code (no synthetic signals) and driven through a
VirtualSession exactly as `python run.py replay` does. When both markets have their first
quote, 100 positions are opened directly: 25 per market and side, entered at the ask of that
side, signal types cycling default / momentum / model_edge (different stops, trails and
targets), so stop losses, trailing stops, partial exits and settlement all happen.

Speed-up = the recording's span (first quote to last) / the wall seconds of the session
(opening the positions and the 15-minute tail included; parsing and engine start excluded).
"""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from adapters.harness.bench.fleet import Spec, Stopwatch, open_positions
from models.market import Quote, Side

RECORDING = "kalshi-nba-2025-11-22-LAC-CHA"
SIGNAL_TYPES = ("default", "momentum", "model_edge")


def default_data_dir() -> Path:
    """../shared/data/<recording> next to the repository, or one folder higher for a git worktree
    under wt/ (None of it is copied in)."""
    root = Path(__file__).resolve().parents[3]
    beside = [p / "shared" / "data" / RECORDING for p in (root.parent, root.parent.parent)]
    return next((p for p in beside if p.is_dir()), beside[0])


@dataclass(frozen=True, slots=True)
class ReplayResult:
    quotes: int
    markets: int
    positions: int
    span_s: float
    wall_s: float
    setup_s: float
    closed: int
    exits_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        return self.span_s / self.wall_s if self.wall_s > 0 else float("inf")


def load_events(data_dir: Path) -> tuple[list[tuple[datetime, Any]], dict[str, Any]]:
    from adapters.files.recording import convert
    from adapters.files.replay import read_replay

    paths = sorted(data_dir.glob("*.jsonl"))
    if not paths:
        raise FileNotFoundError(f"{data_dir}: no *.jsonl recordings")
    lines = convert(paths, signals=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay.jsonl"
        path.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines), encoding="utf-8")
        return read_replay(path)


def specs_at(quotes: dict[str, Quote], positions: int) -> list[Spec]:
    """`positions` spread evenly over the markets and both sides, entered at that side's ask."""
    combos = [(t, side) for t in sorted(quotes) for side in (Side.YES, Side.NO)]
    out = []
    for i in range(positions):
        ticker, side = combos[i % len(combos)]
        ask = quotes[ticker].ask(side)
        if ask is None:
            raise ValueError(f"{ticker}: no {side.value} ask at the first quote")
        out.append(Spec(f"rp-{i:04d}", ticker, side, Decimal(ask), 10, SIGNAL_TYPES[i % len(SIGNAL_TYPES)]))
    return out


def measure_replay(make_engine: Callable[..., Any], data_dir: Path, *, positions: int = 100) -> ReplayResult:
    from adapters.sim.session import VirtualSession

    setup = Stopwatch()
    events, links = load_events(data_dir)
    quotes = [p for _, p in events if isinstance(p, Quote)]
    tickers = sorted({q.ticker for q in quotes})
    span = (quotes[-1].ts - quotes[0].ts).total_seconds()
    first: dict[str, Quote] = {}
    split = len(events)
    for i, (_, payload) in enumerate(events):
        if isinstance(payload, Quote):
            first.setdefault(payload.ticker, payload)
            if len(first) == len(tickers):
                split = i + 1
                break
    engine = make_engine("replay", start=events[0][0], streamed_quotes=True)   # as `run.py replay` does
    setup_s = setup.elapsed
    try:
        session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock, links=links)
        watch = Stopwatch()
        session.run(events[:split], tail=timedelta(0))
        open_positions(engine, specs_at(first, positions), tag="rp")
        session.run(events[split:])
        engine.system.flush()
        wall = watch.elapsed
        states = engine.repository.all_positions()
    finally:
        engine.stop()
    reasons = Counter(s.exit_reason or "open" for s in states)
    closed = sum(1 for s in states if s.status.value == "closed")
    return ReplayResult(len(quotes), len(tickers), positions, span, wall, setup_s, closed,
                        dict(sorted(reasons.items())))
