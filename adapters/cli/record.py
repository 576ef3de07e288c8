"""`record --markets T1 [T2 ...] --out FILE [--duration-s N]`: write Kalshi's live stream to a replay file.

The markets' books come over the WebSocket (the same MarketStream the engine uses, with its
reconnects and re-snapshots); every change of a top of book is a `quote` line and a settlement
a `settle` line, in the format `python run.py replay FILE` reads (adapters/kalshi/recording.py).
Runs until --duration-s, Ctrl-C or SIGTERM. Kalshi demo unless --env prod --confirm-prod.
Exit codes: 0 recorded; 2 bad input (a ticker, the output path, missing credentials).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from pathlib import Path
from typing import Mapping, TextIO

from actors.clock import WallClock
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import RealScheduler
from adapters.audit.log import Audit
from adapters.cli.venue_options import SETUP_ERRORS
from adapters.kalshi.config import CONFIRM_FLAG, ENVIRONMENTS, open_kalshi_venue
from adapters.kalshi.market_data import StreamSettings
from adapters.kalshi.recording import Recorder, open_output
from adapters.kalshi.stream import MarketStream
from adapters.kalshi.ws_connection import KalshiWsConnection
from models.commands import StreamMarkets

TICKER = re.compile(r"[A-Z0-9][A-Z0-9.\-_]{0,99}")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("record", help="record Kalshi's live market stream to a replay file")
    p.add_argument("--markets", nargs="+", required=True, metavar="TICKER", help="the markets to record")
    p.add_argument("--out", required=True, metavar="FILE", help="the replay file (JSON Lines; appended to)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--env", choices=ENVIRONMENTS, default="demo", help="Kalshi environment (default: demo)")
    p.add_argument(CONFIRM_FLAG, dest="confirm_prod", action="store_true", help="required with --env prod")
    p.add_argument("--use-yes-price", action="store_true",
                   help="ask for the NO side's levels in YES prices (the book recorded is the same)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None, out: TextIO | None = None,
        err: TextIO | None = None, stop: threading.Event | None = None) -> int:
    import signal as os_signal

    out, err = out or sys.stdout, err or sys.stderr
    bad = [t for t in args.markets if not TICKER.fullmatch(t)]
    if bad:
        print(f"error: --markets {bad[0]!r}: expected a Kalshi ticker such as KXNBAGAME-25NOV22LACCHA-LAC",
              file=err)
        return 2
    path = Path(args.out)
    try:
        sink = open_output(path)
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return 2
    clock = WallClock()
    try:
        venue = open_kalshi_venue(os.environ if environ is None else environ, clock, env=args.env,
                                  confirm_prod=args.confirm_prod)
    except SETUP_ERRORS as exc:
        sink.close()
        print(f"error: {exc}", file=err)
        return 2
    activity = ActivityTracker()
    scheduler = RealScheduler(clock, activity)
    rt = Runtime(clock, scheduler, activity, Audit(clock))
    recorder = Recorder.start(rt, sink)
    connection = KalshiWsConnection(venue.client.open_websocket, venue.submit, use_yes_price=args.use_yes_price)
    settings = StreamSettings(use_yes_price=args.use_yes_price)
    stream = MarketStream.start(rt, connection, recorder, recorder, recorder, settings=settings,
                                seed=int.from_bytes(os.urandom(4), "big"))
    rt.send(stream, StreamMarkets(tuple(dict.fromkeys(args.markets))))
    done = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: os_signal.signal(s, lambda *_: done.set()) for s in (os_signal.SIGINT, os_signal.SIGTERM)}
    try:
        done.wait(args.duration_s)
    finally:
        for s, handler in previous.items():
            os_signal.signal(s, handler)
        stream.stop(block=True, timeout=10)
        counts = recorder.proxy().quotes.get(timeout=5), recorder.proxy().settlements.get(timeout=5), \
            recorder.proxy().holes.get(timeout=5)
        recorder.stop(block=True, timeout=10)
        scheduler.stop()
        venue.close()
        sink.close()
    quotes, settlements, holes = counts
    print(f"recorded {quotes} quotes and {settlements} settlements of {len(set(args.markets))} markets to {path}"
          + (f" ({holes} times a market was not streamed: see the log)" if holes else ""), file=out)
    return 0
