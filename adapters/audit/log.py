"""The audit trail: one structured event per decision, as JSON Lines through loguru.

`Audit.emit(event)` takes one typed event (models/audit_events/) and sends one loguru record
carrying its JSON record; the JSONL sink (configured once, in run.py, by `configure_logging`) writes
{"ts", "event", **fields, "message"} per line, and the console shows the event's text. Timestamps come from the
injected clock, so a replay's audit reads in market time. Decimals become strings, datetimes
ISO-8601, enums their value.
"""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from loguru import logger

from actors.clock import Clock
from models.audit_events import ALERT_EVENTS, EVENTS, REGISTRY, AuditEvent, to_jsonable, to_record

# The event names, and those the alert channels send (adapters/operator/alerts.py), from the classes.
__all__ = ["ALERT_EVENTS", "EVENTS", "Audit", "configure_logging", "read_audit", "to_jsonable"]


class Audit:
    def __init__(self, clock: Clock, recorder: list[dict[str, Any]] | None = None, *, alerts: Any = None) -> None:
        """`alerts`: an adapters/operator/alerts.py AlertDispatcher (or None): alert events are handed to
        it (it never blocks) after they are logged."""
        self.clock = clock
        self.recorder = recorder
        self.alerts = alerts
        self._lock = threading.Lock()
        self._heartbeat_sources: list[Callable[[], dict[str, Any]]] = []

    def add_heartbeat_source(self, source: Callable[[], dict[str, Any]]) -> None:
        """More fields for every HEARTBEAT (the control channel's `entries_paused`)."""
        self._heartbeat_sources.append(source)

    def heartbeat_fields(self) -> dict[str, Any]:
        """Fields the HEARTBEAT carries from here: the alert channels' counts, and its sources'."""
        fields: dict[str, Any] = {"alerts": self.alerts.stats()} if self.alerts is not None else {}
        for source in tuple(self._heartbeat_sources):
            fields.update(source())
        return fields

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver the alerts still queued (bounded), then stop their threads."""
        if self.alerts is not None:
            self.alerts.close(timeout_s)

    def emit(self, event: AuditEvent) -> dict[str, Any]:
        """Write `event` (models/audit_events/): its JSON record, stamped by the clock, to the
        audit file; its text to the console; an alert event to the alert channels."""
        if not isinstance(event, AuditEvent) or REGISTRY.get(event.event) is not type(event):
            raise ValueError(f"unknown audit event {event!r}")
        record = to_record(event, self.clock.now())
        if self.recorder is not None:
            with self._lock:
                self.recorder.append(record)
        logger.bind(audit=record, market_ts=self.clock.now().strftime("%m-%d %H:%M:%S")).log(event.LEVEL,
                                                                                           record["message"])
        if self.alerts is not None and event.pages():
            self.alerts.submit(record)
        return record


def _first_day(path: Path) -> str | None:
    """The UTC day (YYYY-MM-DD) of the first event in an audit file, None when it has none."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    return str(json.loads(line)["ts"])[:10]
                except (ValueError, KeyError, TypeError):
                    continue
    except OSError:
        return None
    return None


def _jsonl_sink(path: Path, *, rotate_daily: bool = False) -> Callable[[Any], None]:
    """Append each audit record as one line. With `rotate_daily`, the first event of a new UTC
    day (by its `ts`) moves the file to `<stem>.<previous day><suffix>` beside it and starts a new
    one (adapters/audit/files.py reads them all back in order)."""
    from adapters.audit.files import rotated_name

    path.parent.mkdir(parents=True, exist_ok=True)
    torn = False
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as existing:          # a line cut short by a kill -9 ends here
            existing.seek(-1, 2)
            torn = existing.read(1) != b"\n"
    handle = path.open("a", encoding="utf-8")
    if torn:
        handle.write("\n")
    lock = threading.Lock()
    state = {"handle": handle, "day": _first_day(path) if rotate_daily else None}

    def rotate(day: str) -> None:
        state["handle"].close()
        target = rotated_name(path, state["day"])
        if target.exists():                        # the same day again (a restart): keep both, in order
            with target.open("a", encoding="utf-8") as older, path.open(encoding="utf-8") as current:
                older.writelines(current)
            path.unlink()
        else:
            path.rename(target)
        state["handle"] = path.open("a", encoding="utf-8")
        state["day"] = day

    def sink(message: Any) -> None:
        record = message.record["extra"].get("audit")
        if record is None:
            return
        line = json.dumps(record, separators=(",", ":"))
        with lock:
            if rotate_daily:
                day = str(record.get("ts", ""))[:10]
                if state["day"] is None:
                    state["day"] = day
                elif day > state["day"]:
                    rotate(day)
            state["handle"].write(line + "\n")
            state["handle"].flush()

    return sink


def configure_logging(audit_path: Path | None, *, console: bool = True, verbose: bool = False,
                      stream: Any = None, log_file: str | None = None, log_rotation: str = "1 day",
                      log_retention: int = 14, rotate_audit_daily: bool = False) -> None:
    """Configure loguru once: a readable console, the JSONL audit file (moved aside at each new
    UTC day with `rotate_audit_daily`), and with `log_file` the console's lines in a file too,
    rotated by loguru (`log_rotation`: "1 day", "00:00", "100 MB"; the last `log_retention`
    rotated files kept).

    diagnose=False everywhere: variable values (which may hold secrets) never reach a traceback.
    """
    logger.remove()
    if console:
        fmt = "<green>{extra[market_ts]: <14}</green> <level>{level: <7}</level> {message}"
        logger.configure(extra={"market_ts": "-"})
        logger.add(stream or sys.stderr, level="DEBUG" if verbose else "INFO", format=fmt,
                   diagnose=False, backtrace=False, colorize=None)
    if log_file is not None:
        logger.configure(extra={"market_ts": "-"})
        logger.add(log_file, level="DEBUG" if verbose else "INFO", rotation=log_rotation, retention=log_retention,
                   format="{time:YYYY-MM-DD HH:mm:ss.SSS} {extra[market_ts]: <14} {level: <7} {message}",
                   diagnose=False, backtrace=False, colorize=False, encoding="utf-8")
    if audit_path is not None:
        logger.add(_jsonl_sink(Path(audit_path), rotate_daily=rotate_audit_daily), level="DEBUG", format="{message}",
                   diagnose=False, filter=lambda r: "audit" in r["extra"])


def read_audit(path: Path) -> list[dict[str, Any]]:
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
    return out
