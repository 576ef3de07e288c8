"""`python run.py` end to end, in process: a simulated game paper-traded on virtual time; the
summary it prints, the database rows and the audit JSONL agree."""
from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime, timezone
from decimal import Decimal

import pykka
import pytest
from loguru import logger

from adapters.cli import app, running
from actors.clock import VirtualClock
from adapters.storage.database import Repository, connect
from adapters.storage.tables import SignalRow
from models.records import ExitStatus
SIGNAL_FIELDS = ("game_id", "platform", "direction", "signal_type", "expected_price", "market_price", "edge",
                 "win_probability", "signal_ts", "ts")
TRADE_FIELDS = ("trade_id", "status", "entry_price", "contracts", "cost", "platform", "ts")


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory):
    """Run `python run.py` (no arguments) once in a fresh directory; restore logging after."""
    workdir = tmp_path_factory.mktemp("sim")
    mp = pytest.MonkeyPatch()
    mp.chdir(workdir)
    mp.delenv("DATABASE_URL", raising=False)
    out_path = workdir / "stdout.txt"
    real_stdout = sys.stdout
    try:
        with out_path.open("w", encoding="utf-8") as out:
            sys.stdout = out
            try:
                code = app.main([])
            finally:
                sys.stdout = real_stdout
    finally:
        mp.undo()
        logger.remove()                      # app.main configured loguru for its run
        logger.add(sys.stderr, level="WARNING")
    assert pykka.ActorRegistry.get_all() == []
    db = connect(str(workdir / running.SIM_DB))
    repo = Repository(db, VirtualClock(datetime(2026, 1, 1, tzinfo=timezone.utc)))
    return code, out_path.read_text(encoding="utf-8"), workdir, db, repo


def test_run_py_exits_0_and_prints_a_summary_that_matches_the_database(sim_run):
    code, out, _, _, repo = sim_run
    assert code == 0
    assert "SUMMARY" in out
    positions = repo.all_positions()
    assert len(positions) >= 5, "the simulated game should trade"
    closed = [p for p in positions if p.status.value == "closed"]
    m = re.search(r"Positions: (\d+) \((\d+) closed, (\d+) open\)", out)
    assert m and tuple(map(int, m.groups())) == (len(positions), len(closed), len(positions) - len(closed))
    realized = sum((p.realized_pnl for p in positions), Decimal(0))
    assert f"Realized P&L (net of fees): {'+' if realized >= 0 else '-'}${abs(realized).quantize(Decimal('0.01'))}" \
        in out


def test_every_closed_position_exits_sum_to_its_contracts(sim_run):
    _, _, _, _, repo = sim_run
    positions = repo.all_positions()
    reasons = Counter()
    for p in positions:
        sold = [x for x in repo.exits_for(p.position_id) if x.status is not ExitStatus.TRIGGERED and x.contracts > 0]
        assert sum(x.contracts for x in sold) == p.initial_contracts - p.contracts, p.position_id
        if p.status.value == "closed":
            assert p.contracts == 0 and p.closed_at is not None
            assert p.exit_reason in {x.reason for x in sold}
        reasons.update(x.reason for x in sold)
        for x in sold:
            assert x.price is not None and Decimal(0) <= x.price <= Decimal(1)
    assert reasons, "some exits happened"


def test_the_audit_file_agrees_with_the_database(sim_run):
    _, out, workdir, _, repo = sim_run
    audit_path = workdir / running.SIM_AUDIT
    assert f"Audit log: {running.SIM_AUDIT}" in out
    assert audit_path.exists(), "the summary names an audit file that was not written"
    events = [json.loads(line) for line in audit_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_name = defaultdict(list)
    for e in events:
        by_name[e["event"]].append(e)

    for e in by_name["SIGNAL_RECEIVED"]:
        missing = [f for f in SIGNAL_FIELDS if f not in e]
        assert not missing, (missing, e)
        assert e["direction"] in ("buy_yes", "buy_no") and e["platform"] == "paper"
        assert Decimal(e["edge"]) == Decimal(e["win_probability"]) - Decimal(e["market_price"])
    signal_rows = {r.signal_id for r in SignalRow.select()}
    assert {e["signal_id"] for e in by_name["SIGNAL_RECEIVED"]} == signal_rows

    positions = {p.position_id: p for p in repo.all_positions()}
    trades = {e["position_id"]: e for e in by_name["TRADE_EXECUTED"]}
    assert set(trades) == set(positions)
    for pid, e in trades.items():
        missing = [f for f in TRADE_FIELDS if f not in e]
        assert not missing, (missing, e)
        p = positions[pid]
        assert (Decimal(e["entry_price"]), e["contracts"]) == (p.entry_price, p.initial_contracts)
        assert Decimal(e["cost"]) == p.entry_price * p.initial_contracts
        # An IOC entry is executed in full, or canceled after a partial fill: either way it bought.
        assert e["status"] in ("executed", "canceled") and e["contracts"] > 0 and e["platform"] == "paper"

    sold = Counter()
    for e in by_name["ORDER_FILLED"]:
        sold[e["position_id"]] += e["contracts"]
    for e in by_name["POSITION_SETTLED"]:
        sold[e["position_id"]] += e["contracts"]
    closes = {e["position_id"]: e for e in by_name["POSITION_CLOSED"]}
    for pid, p in positions.items():
        assert sold[pid] == p.initial_contracts - p.contracts, pid
        if p.status.value == "closed":
            assert closes[pid]["reason"] == p.exit_reason
            assert Decimal(closes[pid]["realized_pnl"]) == p.realized_pnl
    for e in by_name["EXIT_TRIGGERED"]:
        assert {"condition", "priority", "value", "threshold"} <= set(e) or e["condition"] in (
            "circuit_breaker",), e
    assert not by_name["ORDER_REJECTED"]
