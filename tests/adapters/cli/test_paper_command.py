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


def test_the_summary_says_whose_signals_made_the_pnl(tmp_path, monkeypatch, capsys):
    """The simulated games' model is the games' fair value plus a little noise, and the market lags
    it: the paper P&L shows the engine at work, not a strategy's edge, and the summary says so
    (session 6's review: "the bot trades with an oracle edge; the summary should say so")."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert app.main(["paper", "--sports", "nba"]) == 0
    out = capsys.readouterr().out
    assert "Signals: the simulated games' own model (their fair value plus noise" in out
    assert "not evidence of a strategy's edge" in out
    assert app.main(["paper", "--sports", "nba", "--no-auto-signals"]) == 0
    assert "Signals: the simulated games' own model" not in capsys.readouterr().out
