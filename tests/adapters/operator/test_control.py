"""Manual control of a running engine through its control socket: `exit` as a CRITICAL manual
exit, `entries pause|resume`, idempotent, answered, audited, only the user can connect."""
from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.cli import app
from adapters.audit.files import read_events
from adapters.operator.control import ControlError, ControlServer, control_paths, send_command
from models.signal import TradingSignal
from models.market import Side
from tests.paper_files import RunningPaper
from tests.paths import ROOT

ROOT = ROOT


@pytest.fixture
def engine():
    directory = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))
    paper = RunningPaper(directory)
    sock, marker = control_paths(str(paper.db), "unused.db")
    server = ControlServer.start(paper.engine.system, sock, marker)
    paper.server = server
    yield paper
    server.stop()
    paper.close()


def _cli(func_argv, paper):
    """A command as a person runs it: its own process (its database connection is its own)."""
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), *func_argv, "--db", str(paper.db),
                           "--audit", str(paper.audit)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    return done.returncode, done.stdout.strip(), done.stderr.strip()


def _controls(paper):
    return [r for r in read_events(paper.audit, ("CONTROL_COMMAND",))]


def test_exit_closes_the_position_now_as_a_critical_manual_exit(engine):
    (p,) = engine.engine.repository.load_open_positions()
    assert p.contracts == 43                       # stage 2 of its partial exit is resting
    code, out, _ = _cli(["exit", p.ticker, p.side.value], engine)
    assert code == 0 and out == f"done: {p.position_id}: CRITICAL manual exit sent for the 43 contracts held " \
                                f"({p.ticker} {p.side.value})"
    engine.advance(30)
    closed = engine.engine.repository.load_position(p.position_id)
    assert closed.status.value == "closed" and closed.contracts == 0 and closed.exit_reason == "manual"
    assert closed.exit_priority == "CRITICAL"
    events = [r for r in read_events(engine.audit, contains=(p.position_id,)) if r["event"] != "HEARTBEAT"]
    triggered = [r for r in events if r["event"] == "EXIT_TRIGGERED" and r["condition"] == "manual"]
    assert triggered and triggered[0]["priority"] == "CRITICAL"
    assert any(r["event"] == "EXIT_PREEMPTED" for r in events)         # the resting MEDIUM stage gave way
    assert events[-1]["event"] == "POSITION_CLOSED" and events[-1]["reason"] == "manual"
    # idempotent: asked again, it says so and does nothing
    code, out, _ = _cli(["exit", p.position_id], engine)
    assert code == 0 and "is already closed (manual); nothing to do" in out
    answers = [(c["ok"], c["answer"], c["position_id"]) for c in _controls(engine)]
    assert len(answers) == 2 and all(ok and pid == p.position_id for ok, _, pid in answers)
    code, out, _ = _cli(["timeline", p.position_id], engine)
    assert "CONTROL_COMMAND   CONTROL exit " in out


def test_exit_twice_while_running_is_one_exit(engine):
    (p,) = engine.engine.repository.load_open_positions()
    assert _cli(["exit", p.position_id], engine)[0] == 0
    code, out, _ = _cli(["exit", p.position_id], engine)
    # the engine does not wait for its clock to act: the exit may be done already
    assert code == 0 and ("a manual exit was already requested at" in out or "is already closed (manual)" in out), out
    engine.advance(30)
    routed = [r for r in read_events(engine.audit, ("EXIT_ROUTED",), contains=(p.position_id,))
              if r["condition"] == "manual"]
    assert len(routed) == 1


def test_an_unknown_position_is_refused_or_bad_input(engine):
    code, _, err = _cli(["exit", "pos-nope"], engine)
    assert code == 2 and "no position 'pos-nope'" in err
    reply = send_command(engine.server.socket_path, {"command": "exit", "position_id": "pos-nope"})
    assert reply == {"ok": False, "answer": "no position 'pos-nope'"}
    assert send_command(engine.server.socket_path, {"command": "rm -rf"})["ok"] is False
    assert [c["ok"] for c in _controls(engine)] == [False, False]


def _signal(n: int) -> TradingSignal:
    return TradingSignal(f"op-sig-{n}", START_TS + timedelta(seconds=n), "sim-nfl-nyj-at-buf-8", "nfl",
                         "SIM-NFL-NYJATBUF", "paper", Side.YES, "model_edge", Decimal("0.97"), source="test",
                         contracts=5)


START_TS = datetime(2026, 11, 20, 1, 56, tzinfo=timezone.utc)


def test_entries_pause_refuses_new_signals_keeps_exits_and_outlives_a_restart(engine):
    code, out, _ = _cli(["entries", "pause", "--reason", "lunch"], engine)
    assert code == 0 and out.startswith("done: new entries paused (lunch, since ")
    assert _cli(["entries", "pause"], engine)[1].startswith("done: entries were already paused (lunch")
    marker = engine.server.pause_marker
    assert marker.exists() and stat.S_IMODE(marker.stat().st_mode) == 0o600
    engine.engine.system.push_signal(_signal(1))
    engine.advance(1)
    rejected = [r for r in read_events(engine.audit, ("SIGNAL_REJECTED",)) if r["signal_id"] == "op-sig-1"]
    assert rejected and rejected[0]["reason"].startswith("entries paused (lunch")
    # a restarted control channel (a restarted engine) pauses again from the marker
    engine.server.stop()
    engine.server = ControlServer.start(engine.engine.system, engine.server.socket_path, marker)
    assert engine.server.entries_paused.startswith("lunch")
    code, out, _ = _cli(["entries", "resume"], engine)
    assert code == 0 and out == "done: new entries resumed" and not marker.exists()
    assert _cli(["entries", "resume"], engine)[1] == "done: entries were not paused"
    # the session holds NYJATBUF NO, and Kalshi nets the two sides: out of it first
    for p in engine.engine.repository.load_open_positions():
        assert _cli(["exit", p.position_id], engine)[0] == 0
    engine.advance(30)
    engine.engine.system.push_signal(_signal(2))
    engine.advance(1)
    assert not [r["reason"] for r in read_events(engine.audit, ("SIGNAL_REJECTED",)) if r["signal_id"] == "op-sig-2"]
    assert any(r.get("signal_id") == "op-sig-2" for r in read_events(engine.audit, ("TRADE_EXECUTED",)))
    engine.advance(31)
    beat = list(read_events(engine.audit, ("HEARTBEAT",)))[-1]
    assert beat["entries_paused"] == ""


def test_only_the_user_can_connect_and_a_second_engine_is_refused(engine):
    mode = stat.S_IMODE(os.stat(engine.server.socket_path).st_mode)
    assert mode == 0o600
    with pytest.raises(ControlError, match="another engine is already listening"):
        ControlServer.start(engine.engine.system, engine.server.socket_path, engine.server.pause_marker)


def test_no_engine_listening_is_exit_2(tmp_path):
    db = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp")) / "none.db"
    out, err = io.StringIO(), io.StringIO()
    args = app.build_parser().parse_args(["entries", "pause", "--db", str(db)])
    assert args.func(args, out=out, err=err) == 2
    assert "no engine is listening at" in err.getvalue()


def test_a_position_no_actor_trades_is_refused_not_pretended(engine):
    import dataclasses

    (p,) = engine.engine.repository.load_open_positions()
    ghost = dataclasses.replace(p, position_id="pos-ghost", ticker=p.ticker + "-GHOST")   # open in the database only (another market: one open position per market and side)
    engine.engine.repository.upsert_position(ghost)
    code, out, _ = _cli(["exit", "pos-ghost"], engine)
    assert code == 1 and out.startswith("refused: pos-ghost is open in the database but no actor trades it")
    code, out, _ = _cli(["exit", "--all"], engine)
    assert code == 1 and "CRITICAL manual exit sent for the 43 contracts" in out and "pos-ghost is open" in out
