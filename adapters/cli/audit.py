"""`audit [--log FILE] [--db PATH]`: rebuild every position from the audit log alone and report
each difference from the database (adapters/audit/check.py says what is compared).

Defaults: the configuration's storage paths (storage.audit_path, storage.database_path; the
`--config FILE` values override them); DATABASE_URL selects PostgreSQL as everywhere else.
Exit codes: 0 they agree, 1 at least one difference (each printed: position, field, audit
value, database value), 2 unreadable input (the message names the file, and the line of a
malformed audit entry).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Mapping, TextIO

from adapters.audit.check import AuditInputError, check_files, format_report
from config.loader import ConfigError, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit", help="rebuild positions from the audit log and compare with the database")
    # SUPPRESS: an option given before the command name (run.py's shared --db/--audit) is kept.
    parser.add_argument("--log", "--audit", dest="audit", metavar="FILE", default=argparse.SUPPRESS,
                        help="the JSONL audit log (default: storage.audit_path)")
    parser.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="the SQLite database (default: storage.database_path; DATABASE_URL selects PostgreSQL)")
    parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="YAML whose storage paths replace the defaults")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        environ: Mapping[str, str] | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    log, db = getattr(args, "audit", None), getattr(args, "db", None)
    if log is None or db is None:
        try:
            storage = load_config(getattr(args, "config", None)).storage
        except ConfigError as exc:
            print(f"configuration error: {exc}", file=err)
            return 2
        log, db = log or storage.audit_path, db or storage.database_path
    try:
        report = check_files(Path(log), db, os.environ if environ is None else environ)
    except AuditInputError as exc:
        print(f"error: {exc}", file=err)
        return 2
    print(format_report(report, log, db), file=out)
    return 0 if report.ok else 1
