"""`bench [--json] [--quick]`: the performance numbers of the exit engine, on the paper venue.

In one run (adapters/harness/bench/ holds the measuring code, one module per measure):
1. tick -> exit order latency with 1,000 open positions over 200 markets, and the raw pykka
   three-hop tell latency as the floor (and at 10,000 positions over 1,000 markets);
2. the venue reads a minute needed to hold N positions over 100 markets, and the largest N
   within the budget;
3. replay speed of the real Kalshi NBA recording (../shared/data/...): the exit-heavy replay at
   100, 1,000 and 5,000 positions and the monitoring-heavy replay at 1,000, 5,000 and 10,000
   (adapters/harness/bench/scaling.py), with the growth exponent of the monitoring-heavy one;
4. RSS per open position at 1,000, 5,000 and 10,000, and the time to recover 1,000 and 10,000
   open positions.
`--exit-sizes`, `--monitor-sizes`, `--latency-positions` choose the sizes (a full run at 10,000
takes many minutes on two shared cores).
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

from adapters.cli.arg_types import whole_number
from config.loader import ConfigError, load_config

SECTIONS = ("latency", "budget", "replay", "memory")

FULL = dict(lat_markets=200, lat_per_market=5, lat_samples=500, floor_samples=2000,
            budget_sizes=(10, 50, 100, 500, 2000), budget_minutes=2,
            replay_positions=100, rss_sizes=(1000, 5000, 10000), recovery_positions=1000, recovery_polling=True,
            exit_sizes=(100, 1000, 5000), monitor_sizes=(1000, 5000, 10000), latency_positions=(1000, 10000),
            recovery_large=10000)
QUICK = dict(lat_markets=40, lat_per_market=5, lat_samples=30, floor_samples=300,
             budget_sizes=(10, 50), budget_minutes=1,
             replay_positions=4, rss_sizes=(300,), recovery_positions=1000, recovery_polling=False,
             exit_sizes=(4,), monitor_sizes=(8, 16), latency_positions=(), recovery_large=None)
# tick -> order shapes: positions -> (markets, positions per market)
LATENCY_SHAPES = {1000: (200, 5), 10000: (1000, 10)}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="measure latency, call budget, replay speed, memory and recovery")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="a small version CI can afford (< 30 s)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION",
                   help=f"run only these measures ({', '.join(SECTIONS)})")
    p.add_argument("--data", metavar="DIR", help="the recording folder (default ../shared/data/"
                                                 "kalshi-nba-2025-11-22-LAC-CHA next to the repository)")
    p.add_argument("--config", metavar="FILE", help="YAML whose values override the defaults")
    p.add_argument("--exit-sizes", nargs="+", type=_size, metavar="N",
                   help="positions of the exit-heavy replay (default 100 1000 5000)")
    p.add_argument("--monitor-sizes", nargs="+", type=_size, metavar="N",
                   help="positions of the monitoring-heavy replay (default 1000 5000 10000)")
    p.add_argument("--latency-positions", nargs="*", type=int, choices=sorted(LATENCY_SHAPES), metavar="N",
                   help="extra tick -> order runs beyond the first (default 10000: over 1,000 markets)")
    p.set_defaults(func=run)


_size = whole_number(1, "positions")


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from adapters.audit.log import configure_logging
    from adapters.harness.bench.engine import engine_factory
    from adapters.harness.bench.report import Report, format_table, machine

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
    p = dict(QUICK if args.quick else FULL)
    for key in ("exit_sizes", "monitor_sizes", "latency_positions"):
        if getattr(args, key, None) is not None:
            p[key] = tuple(getattr(args, key))
    sections = tuple(s for s in SECTIONS if not args.only or s in args.only)
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
    from adapters.harness.bench.latency import measure_tick_to_order

    r = measure_tick_to_order(make, config, markets=p["lat_markets"], per_market=p["lat_per_market"],
                              samples=p["lat_samples"], floor_samples=p["floor_samples"])
    report.values.update(tick_to_order_p50_ms=r.p50_ms, tick_to_order_p99_ms=r.p99_ms,
                         pykka_3hop_p99_ms=r.floor_p99_ms, tick_to_order_over_floor_p99=r.ratio_p99)
    report.details["latency"] = dict(asdict(r), ratio_p99=r.ratio_p99)
    for n in p["latency_positions"]:
        if n == r.positions:
            continue
        markets, per_market = LATENCY_SHAPES[n]
        big = measure_tick_to_order(make, config, markets=markets, per_market=per_market,
                                    samples=p["lat_samples"], floor_samples=p["floor_samples"])
        report.values[f"tick_to_order_p50_ms_{n}"] = big.p50_ms
        report.values[f"tick_to_order_p99_ms_{n}"] = big.p99_ms
        report.details[f"latency_{n}"] = dict(asdict(big), ratio_p99=big.ratio_p99)


def _budget(report: Any, make: Any, config: Any, p: dict, args: Any, data_dir: Path | None) -> None:
    from adapters.harness.bench.budget import measure_budget

    r = measure_budget(make, config, p["budget_sizes"], minutes=p["budget_minutes"])
    report.values.update(positions_within_budget=r.positions_within_budget, budget_markets=r.markets,
                         budget_calls_per_minute=max(pt.calls_per_minute for pt in r.points))
    report.details["budget"] = asdict(r)
    if r.lower_bound:
        report.notes.append(f"positions_within_budget is the largest N tried ({r.positions_within_budget:,}): "
                            "read demand does not grow with N")


def _replay(report: Any, make: Any, config: Any, p: dict, args: Any, data_dir: Path | None) -> None:
    from adapters.harness.bench.replay_speed import default_data_dir, measure_replay

    folder = data_dir or default_data_dir()
    if not folder.is_dir() or not any(folder.glob("*.jsonl")):
        why = f"no recording at {folder} (../shared is absent)"
        report.values.update(replay_speedup=None, replay_wall_s=None)
        report.details["replay"] = {"skipped": why}
        report.notes.append(f"replay skipped: {why}")
        return
    from adapters.harness.bench.scaling import measure_floor, measure_scaling

    r = measure_replay(make, folder, positions=p["replay_positions"])
    report.values.update(replay_speedup=r.speedup, replay_wall_s=r.wall_s, replay_positions=r.positions)
    report.details["replay"] = dict(quotes=r.quotes, markets=r.markets, positions=r.positions, span_s=r.span_s,
                                    span_h=r.span_s / 3600, wall_s=r.wall_s, setup_s=r.setup_s, speedup=r.speedup,
                                    closed=r.closed, exits=r.exits_by_reason)
    exit_sizes = tuple(n for n in p["exit_sizes"] if n != r.positions)
    rows, k = measure_scaling(make, folder, config, exit_sizes=exit_sizes, monitor_sizes=p["monitor_sizes"],
                              progress=lambda what: print(f"bench: {what} ...", file=sys.stderr, flush=True))
    first = dict(workload="exit_heavy", positions=r.positions, wall_s=r.wall_s, speedup=r.speedup, closed=r.closed,
                 exits=r.exits_by_reason)
    rows = sorted([first, *rows], key=lambda x: (x["workload"] != "exit_heavy", x["positions"]))
    report.values.update(replay_scaling=[{k2: row[k2] for k2 in ("workload", "positions", "wall_s", "speedup")}
                                         for row in rows],
                         replay_growth_exponent=k)
    report.details["replay_scaling"] = rows
    floor = measure_floor(make, folder, config, rows)
    if floor is not None:
        report.values["replay_growth_exponent_floor"] = floor.k_floor
        report.details["replay_growth_floor"] = dict(quotes_only_s=floor.quotes_only_s, record_us=floor.record_us,
                                                     decisions_per_position=floor.decisions_per_position,
                                                     k_floor=floor.k_floor)


def _memory(report: Any, make: Any, config: Any, p: dict, args: Any, data_dir: Path | None) -> None:
    from adapters.harness.bench.memory import measure_recovery, prepare_recovery_db, rss_per_position

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
    if p["recovery_large"]:     # after the 1,000 runs: it rewrites the recovery database
        n = p["recovery_large"]
        large = measure_recovery(make, n, venue=prepare_recovery_db(make, n))
        report.values[f"recovery_s_{n}"] = large.wall_s
        report.details["memory"][f"recovery_{n}"] = asdict(large)


MEASURES = {"latency": _latency, "budget": _budget, "replay": _replay, "memory": _memory}
