"""`simulate --seeds N [--seed S] [--json]`: deterministic fault simulation.

Each seed runs a short seeded market on virtual time with random faults (429s and 5xx on
reads and creates, timeouts after the venue acted on create and cancel, cancel/fill races,
thin books, gaps in the quote stream, position actor crashes, process restarts) and then
checks the invariants (adapters/harness/fault_sim/invariants.py). `--seed S` alone reruns seed S;
`--seeds N` runs seeds 0..N-1 (S..S+N-1 with --seed). With neither, seeds 0..19.

Exit status: 0 every seed held every invariant, 1 a seed broke one, 2 bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, TextIO

from adapters.audit.log import configure_logging
from adapters.harness.fault_sim.report import format_summary, result_json, seed_lines, summarize
from adapters.harness.fault_sim.runner import run_seed
from adapters.harness.fault_sim.verdict import SeedResult
from config.loader import ConfigError, load_config

DEFAULT_SEEDS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("simulate", help="seeded fault simulation on virtual time; checks the invariants")
    p.add_argument("--seeds", type=int, metavar="N", help=f"how many seeds (default {DEFAULT_SEEDS}, or 1 with --seed)")
    p.add_argument("--seed", type=int, metavar="S", help="the first seed (alone: rerun just this seed)")
    p.add_argument("--json", action="store_true", help="print one JSON object: every seed and the summary")
    p.add_argument("--config", metavar="FILE", help="YAML whose values override the defaults")
    p.add_argument("-v", "--verbose", action="store_true", help="show the engine's log (very long)")
    p.set_defaults(func=run)


def seed_range(seeds: int | None, seed: int | None) -> range:
    if seeds is not None and seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    if seed is not None and seed < 0:
        raise ValueError(f"--seed must be 0 or more, got {seed}")
    first = seed or 0
    count = seeds if seeds is not None else (1 if seed is not None else DEFAULT_SEEDS)
    return range(first, first + count)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        build_engine: Callable[..., Any] | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        seeds = seed_range(args.seeds, args.seed)
        config = load_config(args.config)
    except (ValueError, ConfigError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    configure_logging(None, console=bool(getattr(args, "verbose", False)), verbose=True)
    results: list[SeedResult] = []
    for s in seeds:
        r = run_seed(s, config=config, build_engine=build_engine)
        results.append(r)
        if not args.json:
            print("\n".join(seed_lines(r)), file=out, flush=True)
    summary = summarize(results)
    if args.json:
        print(json.dumps({"seeds": [result_json(r) for r in results], "summary": summary}), file=out)
    else:
        print(format_summary(summary), file=out)
    return 0 if not summary["seeds_failed"] else 1
