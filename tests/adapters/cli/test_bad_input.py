"""Bad input and interruption (issue 9 §6): Ctrl-C stops `paper` and `replay` cleanly with the
summary so far (exit 130, no traceback, nothing half-written); a path in a folder that does not
exist, or a signals file that does not exist, is exit 2 naming the path before anything starts;
`positions` and `quote` take `--db` and `--config` like the other commands.

Interruption and the hang are checked on a real process (subprocess + SIGINT, bounded waits).
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.cli import app
from tests.paths import ROOT

ROOT = ROOT
TICKER = "KXNBAGAME-26JAN11LALBOS-BOS"
T0 = datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc)


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(predicate, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run to get going")
        time.sleep(0.02)


def audit_events(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert text == "" or text.endswith("\n"), "the audit log ends in a half-written line"
    return [json.loads(line) for line in text.splitlines()]      # every line whole JSON


def has_event(path: Path, name: str) -> bool:
    try:
        return f'"event": "{name}"' in path.read_text(encoding="utf-8") or f'"event":"{name}"' in path.read_text(
            encoding="utf-8")
    except FileNotFoundError:
        return False


def assert_database_whole(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return con.execute("SELECT position_id, status, contracts FROM positions").fetchall()
    finally:
        con.close()


def long_recording(path: Path, hours: int = 60) -> Path:
    """A signal that opens a position, then a quote a second for `hours`: far longer than the
    test waits, so the interrupt always lands mid-run, with the position still open whenever
    it lands (10 contracts trade every second, and the price never reaches a stop)."""
    lines = [json.dumps({"type": "quote", "ts": T0.isoformat(), "ticker": TICKER, "yes_bid": "0.48",
                         "yes_ask": "0.50", "yes_bid_size": 500, "yes_ask_size": 500, "volume": 5000}),
             json.dumps({"type": "signal", "ts": (T0 + timedelta(seconds=1)).isoformat(), "ticker": TICKER,
                         "side": "yes", "signal_type": "default", "win_probability": "0.80",
                         "market_price": "0.50", "sport": "nba", "contracts": 10, "signal_id": "s1"})]
    for i in range(2, hours * 3600):
        bid = "0.49" if i % 2 else "0.48"
        lines.append(f'{{"type": "quote", "ts": "{(T0 + timedelta(seconds=i)).isoformat()}", "ticker": "{TICKER}", '
                     f'"yes_bid": "{bid}", "yes_ask": "0.51", "yes_bid_size": 500, "yes_ask_size": 500, '
                     f'"volume": {5000 + 10 * i}}}')     # trading goes on: liquidity never dries up
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- Ctrl-C ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_ctrl_c_in_replay_stops_cleanly_with_the_summary_so_far(tmp_path: Path, as_json: bool) -> None:
    recording = long_recording(tmp_path / "long.jsonl")
    db, audit = tmp_path / "r.db", tmp_path / "r.jsonl"
    proc = start(["replay", str(recording), "--db", str(db), "--audit", str(audit), *(["--json"] if as_json else [])],
                 tmp_path)
    try:
        wait_for(lambda: has_event(audit, "TRADE_EXECUTED") or proc.poll() is not None)
        assert proc.poll() is None, "the replay ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert "interrupted" in err.lower()
    rows = assert_database_whole(db)
    assert rows == [("pos-s1", "open", 10)]
    events = audit_events(audit)
    assert [e["event"] for e in events].count("TRADE_EXECUTED") == 1
    if as_json:
        summary = json.loads(out)            # stdout is one whole JSON object
        assert summary["interrupted"] is True
        assert [(p["ticker"], p["status"], p["contracts"]) for p in summary["positions"]] == [(TICKER, "open", 10)]
    else:
        assert "SUMMARY" in out and "Positions: 1 (0 closed, 1 open)" in out
        assert "Interrupted" in out


def test_ctrl_c_in_paper_stops_cleanly_with_the_summary_so_far(tmp_path: Path) -> None:
    db, audit = tmp_path / "p.db", tmp_path / "p.jsonl"
    proc = start(["paper", "--sports", "nba", "nfl", "nhl", "--db", str(db), "--audit", str(audit)], tmp_path)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:             # the engine is built once the games are announced
            if "simulated" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert "SUMMARY" in out and "Interrupted" in out
    rows = assert_database_whole(db)
    events = audit_events(audit)
    opened = [e for e in events if e["event"] == "TRADE_EXECUTED"]
    assert len(opened) == len(rows)          # every position in the database was announced, and only those


# --- paths that cannot work ---------------------------------------------------------------------

@pytest.mark.parametrize("argv_of", [
    lambda t: ["paper", "--db", str(t / "no-such-folder" / "x.db")],
    lambda t: ["paper", "--audit", str(t / "no-such-folder" / "x.jsonl")],
    lambda t: ["replay", str(t / "rec.jsonl"), "--db", str(t / "no-such-folder" / "x.db")],
    lambda t: ["convert-recording", str(t / "rec.jsonl"), "--out", str(t / "no-such-folder" / "out.jsonl")],
    lambda t: ["live", "--duration-s", "0", "--db", str(t / "no-such-folder" / "x.db")],
], ids=["paper --db", "paper --audit", "replay --db", "convert --out", "live --db"])
def test_a_path_in_a_missing_folder_is_exit_2_naming_it(tmp_path: Path, argv_of) -> None:  # type: ignore[no-untyped-def]
    long_recording(tmp_path / "rec.jsonl", hours=1)
    proc = start(argv_of(tmp_path), tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out[-500:], err[-2000:])
    assert "Traceback" not in err
    assert str(tmp_path / "no-such-folder") in err and "does not exist" in err, err
    assert not (tmp_path / "no-such-folder").exists()


def test_paper_with_a_missing_signals_file_is_exit_2_and_does_not_hang(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    proc = start(["paper", "--signals", "nope.jsonl", "--db", str(db), "--audit", str(tmp_path / "a.jsonl")], tmp_path)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            pytest.fail("paper with a missing --signals file hangs")
    assert proc.returncode == 2
    assert "nope.jsonl" in err and "Traceback" not in err
    assert not db.exists()                   # refused before the engine was built


@pytest.mark.parametrize("lines", [
    ["not json at all"],
    ['{"type":"signal","ts":"2026-11-20T00:10:00Z","ticker":"SIM-NBA-LACATDEN","side":"yes",'
     '"signal_type":"default","win_probability":"0.7"}',
     '{"type":"signal","ts":"2026-11-20T00:11:00Z","ticker":"SIM-NBA-LACATDEN","side":"maybe",'
     '"signal_type":"default","win_probability":"0.7"}'],
], ids=["every line bad", "one line bad of two"])
def test_paper_with_a_bad_signals_line_is_exit_2_naming_the_line_before_anything_runs(tmp_path: Path, lines) -> None:  # type: ignore[no-untyped-def]
    """A paper run reads its whole signals file first: a bad line is bad input (exit 2, the file,
    the line and what was expected), not a warning scrolled past while the session runs without
    the signal (before session 6: exit 0, "0 signals merged")."""
    signals = tmp_path / "s.jsonl"
    signals.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "p.db"
    proc = start(["paper", "--signals", str(signals), "--no-auto-signals", "--db", str(db),
                  "--audit", str(tmp_path / "a.jsonl")], tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out[-500:], err[-2000:])
    bad = len(lines)
    assert f"{signals}:{bad}:" in err and "Traceback" not in err, err
    assert not db.exists()                   # refused before the engine was built


# --- positions and quote take --db and --config ---------------------------------------------------

def engine_db(path: Path) -> Path:
    """A database with one open position, written through the Repository."""
    from decimal import Decimal as D

    from actors.clock import VirtualClock
    from adapters.storage.database import connect, migrate
    from adapters.storage.repository import Repository
    from models.market import Side
    from models.position import PositionState

    clock = VirtualClock(T0)
    db = connect(str(path))
    migrate(db, clock)
    Repository(db, clock).upsert_position(PositionState("pos-a", TICKER, Side.YES, "default", "nba", "G",
                                                        D("0.40"), 7, 7, D("0.10"), T0))
    db.close()
    return path


@pytest.mark.parametrize("command", [["positions"], ["quote", TICKER]], ids=["positions", "quote"])
def test_positions_and_quote_take_db_and_config(tmp_path: Path, capsys, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.yaml"
    config.write_text("monitoring:\n  max_api_calls_per_minute: 30\n", encoding="utf-8")
    db = engine_db(tmp_path / "engine.db")
    code = app.main([*command, "--venue", "paper", "--db", str(db), "--config", str(config)])
    out, err = capsys.readouterr()
    assert "unrecognized arguments" not in err
    assert code in (0, 1), err        # paper has no markets: quote answers 1, "no market"


@pytest.mark.parametrize("command", [["positions"], ["quote", TICKER]], ids=["positions", "quote"])
def test_positions_and_quote_refuse_a_bad_config_or_a_missing_db_with_exit_2(tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                                                             command: list[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("signal_types:\n  default:\n    stop_loss_pct: 0.12\n", encoding="utf-8")
    assert app.main([*command, "--venue", "paper", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "signal_types.default.stop_loss_pct" in err
    missing = tmp_path / "typo.db"
    assert app.main([*command, "--venue", "paper", "--db", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err and not missing.exists()


def test_positions_with_db_lists_what_the_engine_holds_beside_the_venue(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db_path = engine_db(tmp_path / "engine.db")
    assert app.main(["positions", "--venue", "paper", "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "Open positions on paper" in out
    engine_part = out[out.index("engine's database"):]
    assert "pos-a" in engine_part and TICKER in engine_part and " 7 " in engine_part
