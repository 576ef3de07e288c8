"""`positions --venue kalshi|paper`: print open positions and resting orders.

Positions are the venue's net count per market (YES positive, NO negative; shown as a side and
a count). Exit codes as for `quote`: 0 printed, 1 venue error, 2 setup error.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Mapping, Sequence, TextIO

from actors.clock import Clock, WallClock
from adapters.cli.engine_options import (
    EngineOptionError, add_engine_arguments, engine_positions, format_engine_positions,
)
from adapters.cli.venue_options import (
    SETUP_ERRORS, add_venue_arguments, close_venue, describe, fmt_price, open_venue,
)
from models.venue import AuthError, VenueError
from models.money import fmt_money
from models.orders import OrderSnapshot, OrderStatus, VenuePosition


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("positions", help="print open positions and resting orders")
    add_venue_arguments(parser)
    add_engine_arguments(parser)
    parser.set_defaults(func=run)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return ["  (none)"]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in (header, *rows)]


def format_positions(positions: Sequence[VenuePosition], orders: Sequence[OrderSnapshot], venue_text: str) -> str:
    pos_rows = [
        (p.ticker, "YES" if p.position > 0 else "NO", str(abs(p.position)), f"${p.market_exposure:.2f}",
         fmt_money(p.realized_pnl), f"${p.fees_paid:.2f}")
        for p in positions if p.position != 0
    ]
    order_rows = [
        (o.order_id, o.ticker, o.side.value.upper(), o.action.value.upper(), fmt_price(o.limit_price),
         f"{o.filled_count}/{o.count}", o.client_order_id or "-")
        for o in orders
    ]
    lines = [f"Open positions on {venue_text}"]
    lines += _table(("TICKER", "SIDE", "CONTRACTS", "EXPOSURE", "REALIZED", "FEES"), pos_rows)
    lines.append(f"Resting orders on {venue_text}")
    lines += _table(("ORDER ID", "TICKER", "SIDE", "ACTION", "PRICE", "FILLED", "CLIENT ORDER ID"), order_rows)
    return "\n".join(lines)


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
        positions = venue.get_positions()
        orders = venue.list_orders(status=OrderStatus.RESTING)
    except AuthError as exc:
        print(f"error: the venue refused the credentials: {exc}", file=err)
        return 2
    except VenueError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=err)
        return 1
    finally:
        close_venue(venue)
    print(format_positions(positions, orders, describe(venue)), file=out)
    if held is not None:
        print(format_engine_positions(held[1], held[0]), file=out)
    return 0
