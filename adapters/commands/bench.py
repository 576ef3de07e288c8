"""`bench [--json] [--quick]`: the performance numbers of the exit engine, on the paper venue.

In one run (adapters/bench/ holds the measuring code, one module per measure):
1. tick -> exit order latency with 1,000 open positions over 200 markets, and the raw pykka
   three-hop tell latency as the floor;
2. the venue reads a minute needed to hold N positions over 100 markets, and the largest N
   within the budget;
3. replay speed of the real Kalshi NBA recording (../shared/data/...) with 100 positions;
4. RSS per open position at 1,000 and 5,000, and the time to recover 1,000 open positions.
`--quick` runs a small version (under 30 s) for CI; `--json` prints one JSON object.
Wall-clock timings: run it on a quiet machine (the load average is reported).

Exit status: 0 measured (targets missed or not: the numbers are the result), 2 bad input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from config.loader import ConfigError, load_config

SECTIONS = ("latency", "budget", "replay", "memory", "stream")
QUICK_SKIPS = ("stream",)      # over a loopback socket: in --quick only when asked for (--only stream)

FULL = dict(lat_markets=200, lat_per_market=5, lat_samples=500, floor_samples=2000,
            budget_sizes=(10, 50, 100, 500, 2000), budget_minutes=2,
            replay_positions=100, rss_sizes=(1000, 5000), recovery_positions=1000, recovery_polling=True,
            ws_markets=200, ws_per_market=5, ws_samples=200, ws_read_positions=200, ws_read_markets=50, ws_minutes=3)
QUICK = dict(lat_markets=40, lat_per_market=5, lat_samples=30, floor_samples=300,
             budget_sizes=(10, 50), budget_minutes=1,
             replay_positions=4, rss_sizes=(300,), recovery_positions=1000, recovery_polling=False,
             ws_markets=10, ws_per_market=5, ws_samples=10, ws_read_positions=20, ws_read_markets=5, ws_minutes=1)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="measure latency, call budget, replay speed, memory and recovery")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="a small version CI can afford (< 30 s)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION",
                   help=f"run only these measures ({', '.join(SECTIONS)})")
    p.add_argument("--data", metavar="DIR", help="the recording folder (default ../shared/data/"
                                                 "kalshi-nba-2025-11-22-LAC-CHA next to the repository)")
    p.add_argument("--config", metavar="FILE", help="YAML whose values override the defaults")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from adapters.audit_log import configure_logging
    from adapters.bench.engine import engine_factory
    from adapters.bench.report import Report, format_table, machine

    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=err)
        return 2
    data_dir = Path(args.data) if args.data else None
    if data_dir is not None and not data_dir.is_dir():
        print(f"error: --data {data_dir}: no such folder", file=err)
        return 2
    configure_logging(None, console=False)     # the engine's console would be the benchmark
    p = QUICK if args.quick else FULL
    sections = tuple(args.only) if args.only else tuple(s for s in SECTIONS if not (args.quick and s in QUICK_SKIPS))
    sections = tuple(s for s in SECTIONS if s in sections)
    before = machine()
    report = Report(quick=bool(args.quick))
    with tempfile.TemporaryDirectory(prefix="arbees-bench-") as tmp:
        make = engine_factory(config, Path(tmp))
        for name in sections:
            print(f"bench: {name} ...", file=err, flush=True)
            MEASURES[name](report, make, config, p, args, data_dir)
    data = report.as_json(before, os.getloadavg()[0])
    if args.json:
        print(json.dumps(data), file=out)
    else:
        print(format_table(data), file=out)
    return 0


# --- the four measures ---------------------------------------------------------------------------

def _latency(report: Any, make: Any, config: Any, p: dict, args: Any, data_dir: Path | None) -> None:
    from adapters.bench.latency import measure_tick_to_order

    r = measure_tick_to_order(make, config, markets=p["lat_markets"], per_market=p["lat_per_market"],
                              samples=p["lat_samples"], floor_samples=p["floor_samples"])
    report.values.update(tick_to_order_p50_ms=r.p50_ms, tick_to_order_p99_ms=r.p99_ms,
                         pykka_3hop_p99_ms=r.floor_p99_ms, tick_to_order_over_floor_p99=r.ratio_p99)
    report.details["latency"] = dict(asdict(r), ratio_p99=r.ratio_p99)


def _budget(report: Any, make: Any, config: Any, p: dict, args: Any, data_dir: Path | None) -> None:
    from adapters.bench.budget import measure_budget

    r = measure_budget(make, config, p["budget_sizes"], minutes=p["budget_minutes"])
    report.values.update(positions_within_budget=r.positions_within_budget, budget_markets=r.markets,
                         budget_calls_per_minute=max(pt.calls_per_minute for pt in r.points))
    report.details["budget"] = asdict(r)
    if r.lower_bound:
        report.notes.append(f"positions_within_budget is the largest N tried ({r.positions_within_budget:,}): "
                            "read demand does not grow with N")


def _replay(report: Any, make: Any, config: Any, p: dict, args: Any, data_dir: Path | None) -> None:
    from adapters.bench.replay_speed import default_data_dir, measure_replay

    folder = data_dir or default_data_dir()
    if not folder.is_dir() or not any(folder.glob("*.jsonl")):
        why = f"no recording at {folder} (../shared is absent)"
        report.values.update(replay_speedup=None, replay_wall_s=None)
        report.details["replay"] = {"skipped": why}
        report.notes.append(f"replay skipped: {why}")
        return
    r = measure_replay(make, folder, positions=p["replay_positions"])
    report.values.update(replay_speedup=r.speedup, replay_wall_s=r.wall_s, replay_positions=r.positions)
    report.details["replay"] = dict(quotes=r.quotes, markets=r.markets, positions=r.positions, span_s=r.span_s,
                                    span_h=r.span_s / 3600, wall_s=r.wall_s, setup_s=r.setup_s, speedup=r.speedup,
                                    closed=r.closed, exits=r.exits_by_reason)


def _memory(report: Any, make: Any, config: Any, p: dict, args: Any, data_dir: Path | None) -> None:
    from adapters.bench.memory import measure_recovery, prepare_recovery_db, rss_per_position

    points = [rss_per_position(n, args.config) for n in p["rss_sizes"]]
    venue = prepare_recovery_db(make, p["recovery_positions"])
    rec = measure_recovery(make, p["recovery_positions"], venue=venue)
    report.values.update(rss_kib_per_position=max(pt.kib_per_position for pt in points),
                         rss_kib_per_position_by_n={str(pt.positions): pt.kib_per_position for pt in points},
                         recovery_s_1000=rec.wall_s, recovery_positions=rec.positions)
    report.details["memory"] = {
        "rss": [dict(asdict(pt), kib_per_position=pt.kib_per_position) for pt in points],
        "recovery": asdict(rec)}
    if p["recovery_polling"]:
        polled = measure_recovery(make, p["recovery_positions"], venue=venue, polling=True)
        report.values.update(recovery_polling_virtual_s=polled.virtual_s, recovery_polling_wall_s=polled.wall_s)
        report.details["memory"]["recovery_polling"] = asdict(polled)


def _stream(report: Any, make: Any, config: Any, p: dict, args: Any, data_dir: Path | None) -> None:
    from adapters.bench.stream import measure_stream_latency, measure_stream_reads

    lat = measure_stream_latency(make, config, markets=p["ws_markets"], per_market=p["ws_per_market"],
                                 samples=p["ws_samples"])
    reads = measure_stream_reads(make, config, positions=p["ws_read_positions"], markets=p["ws_read_markets"],
                                 minutes=p["ws_minutes"])
    report.values.update(stream_change_to_order_p50_ms=lat.p50_ms, stream_change_to_order_p99_ms=lat.p99_ms,
                         streamed_reads_per_minute=reads.streamed_reads_per_minute,
                         polled_reads_per_minute=reads.polled_reads_per_minute)
    report.details["stream"] = {"latency": asdict(lat), "reads": asdict(reads)}


MEASURES = {"latency": _latency, "budget": _budget, "replay": _replay, "memory": _memory, "stream": _stream}
