"""--log-file (loguru's rotation) and the audit log's daily rotation, which status, timeline,
report and audit read through."""
from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from loguru import logger

from adapters.cli import app
from actors.clock import VirtualClock
from adapters.audit.files import audit_files, read_events
from adapters.audit.log import Audit, configure_logging
from models.audit_events import Alert
from tests.paper_files import paper_files


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def test_the_audit_log_moves_aside_at_each_new_day_and_reads_back_whole(tmp_path):
    path = tmp_path / "audit.jsonl"
    clock = VirtualClock(datetime(2026, 11, 20, 23, 59, 58, tzinfo=timezone.utc))
    configure_logging(path, console=False, rotate_audit_daily=True)
    audit = Audit(clock)
    for _ in range(6):                                    # 23:59:58 ... 00:00:08 next day, then day 3
        audit.emit(Alert(said="tick", detail=clock.now().isoformat()))
        clock.advance_to(clock.now() + timedelta(seconds=2))
    clock.advance_to(datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc))
    audit.emit(Alert(said="day three"))
    logger.remove()
    names = [p.name for p in audit_files(path)]
    assert names == ["audit.2026-11-20.jsonl", "audit.2026-11-21.jsonl", "audit.jsonl"]
    days = [{json.loads(line)["ts"][:10] for line in p.read_text().splitlines()} for p in audit_files(path)]
    assert days == [{"2026-11-20"}, {"2026-11-21"}, {"2026-11-22"}]
    assert [r["message"] for r in read_events(path)] == ["tick"] * 6 + ["day three"]
    # a restart later the same day appends to today's file; the next day still rotates
    configure_logging(path, console=False, rotate_audit_daily=True)
    Audit(VirtualClock(datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc))).emit(Alert(said="restarted"))
    Audit(VirtualClock(datetime(2026, 11, 23, 0, 1, tzinfo=timezone.utc))).emit(Alert(said="day four"))
    logger.remove()
    assert [p.name for p in audit_files(path)][-2:] == ["audit.2026-11-22.jsonl", "audit.jsonl"]
    assert [r["message"] for r in read_events(path)][-3:] == ["day three", "restarted", "day four"]


def _outputs(files, audit: Path) -> dict[str, str]:
    out = {}
    for argv in (["status", "--json"], ["report", "--json", "--today", "2026-11-20"],
                 ["timeline", "SIM-NFL-NYJATBUF", "no", "--json"], ["audit"]):
        buf = io.StringIO()
        args = app.build_parser().parse_args([*argv, "--db", str(files.db), "--audit", str(audit)])
        if argv[0] == "status":
            code = args.func(args, out=buf, now=datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc))
        else:
            code = args.func(args, out=buf) if argv[0] != "audit" else args.func(args, out=buf, err=io.StringIO())
        out[argv[0]] = (code, buf.getvalue().replace(str(audit), "LOG"))
    return out


def test_status_timeline_report_and_audit_read_a_rotated_log_as_one(tmp_path):
    files = paper_files(tmp_path, minutes=116)
    whole = _outputs(files, files.audit)
    lines = files.audit.read_text(encoding="utf-8").splitlines(keepends=True)
    split = tmp_path / "split" / "paper-audit.jsonl"
    split.parent.mkdir()
    cut = len(lines) // 2            # as if the day had changed mid-run
    (split.parent / "paper-audit.2026-11-19.jsonl").write_text("".join(lines[:cut]), encoding="utf-8")
    split.write_text("".join(lines[cut:]), encoding="utf-8")
    assert _outputs(files, split) == whole
    assert whole["audit"][0] == 0 and whole["timeline"][0] == 0


def test_log_file_gets_the_console_lines_and_loguru_rotates_it(tmp_path, capsys):
    log = tmp_path / "arbees.log"
    code = app.main(["paper", "--db", str(tmp_path / "s.db"), "--audit", str(tmp_path / "s.jsonl"),
                     "--log-file", str(log), "--log-rotation", "20 KB", "--log-retention", "2"])
    assert code == 0
    logs = sorted(tmp_path.glob("arbees*.log"))
    assert log in logs and 2 <= len(logs) <= 3                 # the current file and at most 2 rotated
    text = "".join(p.read_text(encoding="utf-8") for p in logs)
    assert "OPENED" in text and "CLOSED by" in text
    assert app.main(["paper", "--db", str(tmp_path / "t.db"), "--audit", str(tmp_path / "t.jsonl"),
                     "--log-file", str(log), "--log-rotation", "sometimes"]) == 2
    assert "--log-rotation 'sometimes'" in capsys.readouterr().err
