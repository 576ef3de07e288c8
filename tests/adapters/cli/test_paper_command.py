"""`python run.py paper --signals FILE`: outside signals merged into the simulation by time."""
from __future__ import annotations

import json

from adapters.cli import app, running
from adapters.audit.log import read_audit


def test_paper_mode_takes_signals_from_a_file(tmp_path, monkeypatch, capsys):
    """(A malformed line is exit 2 before the run: tests/adapters/cli/test_bad_input.py.)"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    good = {"ts": "2026-11-20T00:40:00Z", "type": "signal", "ticker": "SIM-NBA-LACATDEN", "side": "yes",
            "signal_type": "model_edge", "win_probability": "0.95", "sport": "nba", "signal_id": "mine-1",
            "contracts": 7}
    (tmp_path / "sigs.jsonl").write_text(json.dumps(good) + "\n\n", encoding="utf-8")   # (a blank line is no signal)
    assert app.main(["paper", "--signals", "sigs.jsonl", "--no-auto-signals"]) == 0
    events = read_audit(tmp_path / running.SIM_AUDIT)
    received = [e for e in events if e["event"] == "SIGNAL_RECEIVED"]
    assert [e["signal_id"] for e in received] == ["mine-1"]          # the simulation's own are dropped
    (opened,) = [e for e in events if e["event"] == "TRADE_EXECUTED"]
    assert opened["contracts"] == 7
    assert opened["ts"].startswith("2026-11-20T00:40:00")


def test_paper_mode_with_a_missing_signals_file_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert app.main(["paper", "--signals", "nope.jsonl"]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
