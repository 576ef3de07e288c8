"""`quote TICKER --venue kalshi|paper`: print a market's bid, ask, last, volume and close time.

For a trader checking the setup: it goes through the same venue code as trading does (for
Kalshi: signed GET /markets?tickers=TICKER), so a wrong key or URL shows up here first.
Exit codes: 0 printed, 1 the venue answered with an error or does not know the ticker,
2 the setup is wrong (missing credentials, production not confirmed, credentials refused).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Mapping, TextIO

from actors.clock import Clock, WallClock
from adapters.cli.engine_options import (
    EngineOptionError, add_engine_arguments, engine_positions, format_engine_positions,
)
from adapters.cli.venue_options import (
    SETUP_ERRORS, add_venue_arguments, close_venue, describe, fmt_price, open_venue,
)
from models.venue import AuthError, VenueError
from models.market import Quote


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quote", help="print a market's bid, ask, last, volume and close time")
    parser.add_argument("ticker", help="market ticker, e.g. KXNFLGAME-26JAN12HOUPIT-PIT")
    add_venue_arguments(parser)
    add_engine_arguments(parser)
    parser.set_defaults(func=run)


def format_quote(quote: Quote, venue_text: str) -> str:
    def size(n: int | None) -> str:
        return f"  ({n} contracts)" if n else ""

    closes = quote.close_time.strftime("%Y-%m-%d %H:%M:%S UTC") if quote.close_time else "-"
    return "\n".join((
        f"{quote.ticker} on {venue_text}",
        f"  bid     {fmt_price(quote.yes_bid)}{size(quote.yes_bid_size)}",
        f"  ask     {fmt_price(quote.yes_ask)}{size(quote.yes_ask_size)}",
        f"  last    {fmt_price(quote.last)}",
        f"  volume  {quote.volume if quote.volume is not None else '-'}",
        f"  closes  {closes}",
    ))


def run(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None, out: TextIO | None = None,
        err: TextIO | None = None, clock: Clock | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        held = engine_positions(args, clock or WallClock())
    except EngineOptionError as exc:
        print(f"error: {exc}" if not str(exc).startswith("configuration error") else str(exc), file=err)
        return 2
    try:
        venue = open_venue(args, os.environ if environ is None else environ, clock or WallClock())
    except SETUP_ERRORS as exc:
        print(f"error: {exc}", file=err)
        return 2
    try:
        quote = venue.get_quotes([args.ticker]).get(args.ticker)
    except AuthError as exc:
        print(f"error: the venue refused the credentials: {exc}", file=err)
        return 2
    except VenueError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=err)
        return 1
    finally:
        close_venue(venue)
    if quote is None:
        print(f"error: {describe(venue)} has no market {args.ticker}", file=err)
        return 1
    print(format_quote(quote, describe(venue)), file=out)
    if held is not None:
        print(format_engine_positions([p for p in held[1] if p.ticker == args.ticker], held[0]), file=out)
    return 0
