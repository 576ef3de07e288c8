"""`convert-recording`: turn a Kalshi ticker recording into Arbees's replay format.

The format, the settle rule, the synthetic signals and the close times are described where the
conversion lives: adapters/files/recording.py. This module only reads the arguments.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from adapters.files.recording import ConvertError, convert, parse_close_times


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("convert-recording", help="convert a Kalshi ticker recording to the replay format")
    p.add_argument("inputs", nargs="+", help="recording files (.jsonl), or a folder of them")
    p.add_argument("--out", required=True, help="the replay file to write")
    p.add_argument("--signals", type=int, default=6, help="synthetic signals to add (default 6; 0 for none)")
    p.add_argument("--sport", default="nba")
    p.add_argument("--close-time", action="append", default=[], metavar="[TICKER=]TIME",
                   help="the market's close time (ISO-8601 with offset), written on every quote; "
                        "TICKER=TIME for one market; repeatable")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths: list[Path] = []
    for item in args.inputs:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted(p.glob("*.jsonl")))
        elif p.exists():
            paths.append(p)
        else:
            print(f"error: {p}: no such file or folder", file=sys.stderr)
            return 2
    if args.signals < 0:
        print("error: --signals: expected 0 or more", file=sys.stderr)
        return 2
    try:
        lines = convert(paths, signals=args.signals, sport=args.sport, close_times=parse_close_times(args.close_time))
    except ConvertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")
    tmp.replace(out)   # all or nothing
    kinds = {k: sum(1 for x in lines if x["type"] == k) for k in ("quote", "signal", "settle")}
    print(f"wrote {out}: {kinds['quote']} quotes, {kinds['signal']} signals, {kinds['settle']} settlements")
    return 0
