"""`report [--since DATE] [--html FILE] [--db] [--audit] [--json]`: P&L today, by day, sport,
exit reason and signal type, win rate, largest loss, fees, average hold; `--html` also writes
one self-contained file with inline SVG charts (adapters/operator/report_view.py). Exit status: 0
printed, 2 unreadable input or a bad --since."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TextIO

from adapters.audit.log import to_jsonable
from adapters.cli.read_options import ReadInputError, add_read_arguments, engine_files, open_repository
from adapters.operator.report_view import format_report, render_html
from adapters.storage.trade_history import pnl_report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="P&L by day, sport, exit reason and signal type; --html with charts")
    parser.add_argument("--since", metavar="DATE", help="only sales (and closes) from this day (YYYY-MM-DD) or "
                                                        "time (ISO 8601, UTC if no offset) on")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report with charts")
    parser.add_argument("--today", metavar="DATE", help=argparse.SUPPRESS)   # tests: the day called today
    add_read_arguments(parser)
    parser.set_defaults(func=run)


def _parse_since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ReadInputError(f"--since {text!r}: expected a date YYYY-MM-DD or an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        since = _parse_since(args.since) if args.since else None
        today = date.fromisoformat(args.today) if getattr(args, "today", None) else datetime.now(timezone.utc).date()
        files = engine_files(args)
        with open_repository(files.db) as repo:
            report = pnl_report(repo, today=today, since=since)
            html = render_html(report, repo, files.audit, files.config) if args.html else None
    except ReadInputError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if html is not None:
        try:
            Path(args.html).write_text(html, encoding="utf-8")
        except OSError as exc:
            print(f"error: --html {args.html}: {exc.strerror or exc}", file=err)
            return 2
    if getattr(args, "json", False):
        body = {k: v for k, v in report.items() if k != "sales"}
        print(json.dumps(to_jsonable(body), indent=2), file=out)
    else:
        print(format_report(report), file=out)
        if html is not None:
            print(f"HTML report: {args.html}", file=out)
    return 0
