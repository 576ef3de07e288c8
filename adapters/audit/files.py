"""Reading the audit log as the read-only commands need it (status, timeline, report, dashboard).

The log may be rotated by day (adapters/audit/log.py: `arbees-audit.jsonl` is today's file,
`arbees-audit.2026-11-20.jsonl` the earlier days' ones beside it); `audit_files(path)` lists
them oldest first with the current file last, so every reader sees one continuous log.

Readers here are tolerant, unlike `audit` (which checks): the engine may be writing the last
line right now, so a line that is not a JSON object is skipped. `read_events` filters by
event name on the raw text before parsing (the sink writes `"event":"NAME"` exactly), which
keeps `status` fast on a log of a whole day.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from models.audit_events import AuditEvent, AuditFieldError, parse

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def rotated_name(path: Path, day: str) -> Path:
    """Where the day `day` (YYYY-MM-DD) of the log `path` goes when it is rotated."""
    return path.with_name(f"{path.stem}.{day}{path.suffix}")


def audit_files(path: Path | str) -> list[Path]:
    """The rotated days of `path` (oldest first), then `path` itself; only files that exist."""
    path = Path(path)
    older = []
    if path.parent.is_dir():
        prefix, suffix = path.stem + ".", path.suffix
        for p in path.parent.iterdir():
            name = p.name
            if name.startswith(prefix) and name.endswith(suffix) and p != path:
                day = name[len(prefix):len(name) - len(suffix)] if suffix else name[len(prefix):]
                if _DAY.fullmatch(day):
                    older.append((day, p))
    files = [p for _, p in sorted(older)]
    if path.exists():
        files.append(path)
    return files


def read_events(path: Path | str, events: Iterable[str] | None = None,
                contains: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every record of the log (all its days), in order; only `events` if given, and only lines
    containing one of the strings `contains` if given (a raw-text pre-filter)."""
    wanted = tuple(f'"event":"{e}"' for e in events) if events is not None else None
    needles = tuple(contains) if contains is not None else None
    for file in audit_files(path):
        with file.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if wanted is not None and not any(w in line for w in wanted):
                    continue
                if needles is not None and not any(n in line for n in needles):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue            # a line being written, or torn by a kill -9
                if isinstance(record, dict) and "event" in record and "ts" in record:
                    yield record


def read_typed(path: Path | str, events: Iterable[str] | None = None,
               contains: Iterable[str] | None = None) -> Iterator[AuditEvent]:
    """`read_events` as typed events (models/audit_events/ `parse`); a record whose values do
    not read is skipped like a torn line."""
    for record in read_events(path, events, contains):
        try:
            yield parse(record)
        except AuditFieldError:
            continue


def last_event(path: Path | str, event: str) -> dict[str, Any] | None:
    last = None
    for record in read_events(path, (event,)):
        last = record
    return last
