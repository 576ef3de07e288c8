"""`python run.py audit`: every position rebuilt from the audit log alone, compared with the database.

A real `python run.py` simulated session (run once per module, as a subprocess) must agree
with its own database; doctoring the database or the log must be reported, naming the
position and the field; unreadable input exits 2 naming the file (and the line)."""
from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import sys
from argparse import Namespace
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.audit.check import compare, read_database
from adapters.audit.history import lines_of, rebuild_positions
from adapters.cli import audit as audit_cmd
from models.commands import ForwardToPosition
from models.events import ModelProbabilityUpdated
from tests.paths import ROOT

REPO = ROOT


def cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "run.py"), *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory) -> tuple[Path, Path]:
    """One clean simulated session: (database, audit log)."""
    where = tmp_path_factory.mktemp("sim")
    done = cli("--db", "sim.db", "--audit", "sim-audit.jsonl", cwd=where)
    assert done.returncode == 0, done.stderr[-2000:]
    log = where / "sim-audit.jsonl"
    assert log.exists(), "python run.py printed 'Audit log: sim-audit.jsonl' but left no such file"
    return where / "sim.db", log


@pytest.fixture
def copy(sim_run, tmp_path) -> tuple[Path, Path]:
    """A private copy of the session's database and log, to doctor."""
    db, log = sim_run
    for src in (db, *db.parent.glob(db.name + "-*"), log):
        shutil.copy(src, tmp_path / src.name)
    return tmp_path / db.name, tmp_path / log.name


def audit(*argv: str) -> tuple[int, str, str]:
    """The command in-process (as run.py calls it), with its output captured."""
    import argparse

    parser = argparse.ArgumentParser(prog="run.py")
    audit_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["audit", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, out=out, err=err, environ={})
    return code, out.getvalue(), err.getvalue()


def rows(out: str) -> list[list[str]]:
    """The difference table's rows, split on runs of 2+ spaces: [position, field, audit, database]."""
    import re

    lines = out.split("\n\n")[0].splitlines()[1:] if out.startswith("POSITION") else []
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


def lines(log: Path) -> list[dict]:
    return [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines() if x.strip()]


def sql(db: Path, statement: str, *params) -> None:
    con = sqlite3.connect(db)
    try:
        con.execute(statement, params)
        con.commit()
    finally:
        con.close()


# ---- a clean run agrees -----------------------------------------------------------------------

def test_a_clean_simulated_run_agrees_with_its_database(sim_run):
    db, log = sim_run
    done = cli("audit", "--log", str(log), "--db", str(db), cwd=db.parent)
    opened = sum(1 for e in lines(log) if e["event"] == "TRADE_EXECUTED")
    assert opened > 10, "the simulated session should trade"
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"agree on {opened} positions" in done.stdout


def test_the_rebuilt_history_has_the_opening_every_exit_fill_and_the_close(sim_run):
    db, log = sim_run
    records = lines(log)
    history = rebuild_positions(lines_of(records))
    partial = next(h for h in history.values() if len({f.exit_id for f in h.fills}) >= 2)
    assert partial.opened and partial.closed and partial.contracts == 0
    assert sum(f.contracts for f in partial.fills) == partial.initial_contracts
    closed = next(e for e in records if e["event"] == "POSITION_CLOSED" and e["position_id"] == partial.position_id)
    assert partial.close_reason == closed["reason"] and partial.realized_pnl == Decimal(closed["realized_pnl"])
    assert partial.realized_pnl_from_fills == partial.realized_pnl


# ---- doctored database or log -----------------------------------------------------------------

def test_changed_contracts_in_the_database_are_reported_with_position_and_field(copy):
    db, log = copy
    pid = next(e["position_id"] for e in lines(log) if e["event"] == "POSITION_CLOSED")
    sql(db, "UPDATE positions SET contracts = 3 WHERE position_id = ?", pid)
    code, out, _ = audit("--log", str(log), "--db", str(db))
    assert code == 1
    assert [pid, "contracts", "0", "3"] in rows(out)
    assert "1 difference in 1 position" in out


def test_a_changed_realized_pnl_in_the_database_is_reported(copy):
    db, log = copy
    closed = next(e for e in lines(log) if e["event"] == "POSITION_CLOSED")
    sql(db, "UPDATE positions SET realized_pnl = '12.340000' WHERE position_id = ?", closed["position_id"])
    code, out, _ = audit("--log", str(log), "--db", str(db))
    assert code == 1
    expected = format(Decimal(closed["realized_pnl"]).normalize(), "f")
    assert [closed["position_id"], "realized_pnl", expected, "12.34"] in rows(out)


def test_a_deleted_order_filled_line_is_reported(copy):
    db, log = copy
    text = log.read_text(encoding="utf-8").splitlines(keepends=True)
    k = next(i for i, x in enumerate(text) if json.loads(x)["event"] == "ORDER_FILLED")
    fill = json.loads(text[k])
    log.write_text("".join(text[:k] + text[k + 1:]), encoding="utf-8")
    code, out, _ = audit("--log", str(log), "--db", str(db))
    assert code == 1
    found = {(r[0], r[1]): r for r in rows(out)}
    pid = fill["position_id"]
    assert found[(pid, "contracts")][2:] == [str(fill["contracts"]), "0"]
    assert found[(pid, f"fills of order {fill['order_id']}")][2] == "none"
    assert {r[0] for r in rows(out)} == {pid}


def test_a_position_missing_from_either_side_is_reported(copy):
    db, log = copy
    records = lines(log)
    gone_from_log, gone_from_db = [e["position_id"] for e in records if e["event"] == "TRADE_EXECUTED"][:2]
    log.write_text("".join(json.dumps(e) + "\n" for e in records if e.get("position_id") != gone_from_log),
                   encoding="utf-8")
    sql(db, "DELETE FROM positions WHERE position_id = ?", gone_from_db)
    code, out, _ = audit("--log", str(log), "--db", str(db))
    assert code == 1
    assert [gone_from_log, "position", "absent", "closed, 0 held"] in rows(out)
    assert [r[:3] for r in rows(out) if r[0] == gone_from_db][0][1] == "position"
    assert [r for r in rows(out) if r[0] == gone_from_db][0][3] == "absent"


# ---- unreadable input -------------------------------------------------------------------------

def test_a_malformed_audit_line_exits_2_naming_the_file_and_line(copy):
    db, log = copy
    text = log.read_text(encoding="utf-8").splitlines(keepends=True)
    text[4] = '{"ts": "2026-11-20T00:05:00Z", "event": "ORDER_FILLED", "position_id": \n'
    log.write_text("".join(text), encoding="utf-8")
    done = cli("audit", "--log", str(log), "--db", str(db), cwd=db.parent)
    assert done.returncode == 2 and done.stdout == ""
    assert f"{log}:5: not valid JSON" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("field, value, complaint", [
    ("contracts", "many", "field 'contracts': expected a whole number >= 0, found 'many'"),
    ("entry_price", [1], "field 'entry_price': expected a decimal amount"),
    ("side", "maybe", "field 'side': expected \"yes\" or \"no\""),
])
def test_an_opening_line_with_a_wrong_field_exits_2_naming_line_and_field(copy, field, value, complaint):
    db, log = copy
    records = lines(log)
    k = next(i for i, e in enumerate(records) if e["event"] == "TRADE_EXECUTED")
    records[k][field] = value
    log.write_text("".join(json.dumps(e) + "\n" for e in records), encoding="utf-8")
    code, out, err = audit("--log", str(log), "--db", str(db))
    assert code == 2 and out == ""
    assert f"{log}:{k + 1}: TRADE_EXECUTED {complaint}" in err


def test_missing_or_foreign_files_exit_2_naming_them(copy, tmp_path):
    db, log = copy
    code, _, err = audit("--log", str(tmp_path / "nope.jsonl"), "--db", str(db))
    assert code == 2 and "nope.jsonl: cannot read the audit log" in err
    code, _, err = audit("--log", str(log), "--db", str(tmp_path / "nope.db"))
    assert code == 2 and "nope.db: no such database file" in err
    assert not (tmp_path / "nope.db").exists(), "checking must not create a database"
    (tmp_path / "text.db").write_text("not a database", encoding="utf-8")
    code, _, err = audit("--log", str(log), "--db", str(tmp_path / "text.db"))
    assert code == 2 and "text.db: cannot read the database" in err
    sqlite3.connect(tmp_path / "empty.db").close()
    code, _, err = audit("--log", str(log), "--db", str(tmp_path / "empty.db"))
    assert code == 2 and "not an Arbees database" in err
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00garbage\n")
    code, _, err = audit("--log", str(tmp_path / "binary.jsonl"), "--db", str(db))
    assert code == 2 and "binary.jsonl:1: not UTF-8 text" in err


def test_the_default_paths_are_the_configured_storage_paths(copy, tmp_path):
    db, log = copy
    config = tmp_path / "paths.yaml"
    config.write_text(f"storage:\n  database_path: {db}\n  audit_path: {log}\n", encoding="utf-8")
    code, out, err = audit("--config", str(config))
    assert (code, err) == (0, "") and f"({log} vs {db})" in out
    args = Namespace(audit=str(log))            # run.py's shared --audit given before the command name
    args.db = str(db)
    assert audit_cmd.run(args, out=io.StringIO(), err=io.StringIO(), environ={}) == 0


# ---- settlement and supervision, through the engine ---------------------------------------------

def test_a_settled_position_and_a_restarted_one_agree_and_a_changed_settlement_does_not(make_engine, tmp_path):
    h = make_engine()
    h.market("KXAUD-SETTLE", "0.49", "0.50", push=True)
    settled = h.enter("KXAUD-SETTLE", "yes", contracts=6, win_probability="0.70", market_price="0.50")
    h.settle("KXAUD-SETTLE", "yes")
    h.market("KXAUD-CRASH", "0.49", "0.50", push=True)
    crashed = h.enter("KXAUD-CRASH", "no", contracts=10, win_probability="0.70", market_price="0.51")
    h.market("KXAUD-CRASH", "0.40", "0.41", push=True)             # NO bid 0.59: stage 1 sells half
    h.run_until(lambda: h.position(crashed).partial_stages_done == 1, limit=600)
    h.system.rt.send(h.system.refs.supervisor,
                     ForwardToPosition(crashed, ModelProbabilityUpdated("KXAUD-CRASH", "bad", h.now())))
    h.run(30)
    assert h.events("ACTOR_RESTARTED", position_id=crashed)
    h.system.flush()
    history = rebuild_positions(lines_of(h.audit))
    assert (history[settled].settled_contracts, history[settled].settlement_payout) == (6, Decimal(1))
    assert history[crashed].restarts == 1 and history[crashed].contracts == 5
    assert compare(history, read_database(h.repo, history)).differences == ()
    h.stop()

    log = tmp_path / "engine-audit.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in h.audit), encoding="utf-8")
    code, out, _ = audit("--log", str(log), "--db", str(h.db_path))
    assert code == 0, out
    sql(h.db_path, "UPDATE position_exits SET contracts = 4 WHERE position_id = ? AND reason = 'settlement'", settled)
    code, out, _ = audit("--log", str(log), "--db", str(h.db_path))
    assert code == 1 and [settled, "settlement", "6 at 1", "4 at 1"] in rows(out)
