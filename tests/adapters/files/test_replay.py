"""Replays: the file format (strict, with line-numbered errors), `replay --json`, and the real
Kalshi NBA recording converted and replayed end to end (skipped when ../shared is absent)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.cli import app, running
from adapters.audit.log import read_audit
from adapters.files.replay import ReplayError, read_replay
from adapters.storage.repository import Repository
from models.market import Quote
from tests.paths import SHARED

SHARED = SHARED
NBA = SHARED / "data" / "kalshi-nba-2025-11-22-LAC-CHA"


def write(path: Path, lines: list) -> Path:
    path.write_text("".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines), encoding="utf-8")
    return path


def q(ts: str, bid: str, ask: str, **extra) -> dict:
    return {"ts": ts, "type": "quote", "ticker": "KX-T", "yes_bid": bid, "yes_ask": ask, **extra}


SCENARIO = [
    q("2026-01-10T18:00:00Z", "0.49", "0.50", volume=1000),
    {"ts": "2026-01-10T18:00:01Z", "type": "signal", "ticker": "KX-T", "side": "yes", "signal_type": "default",
     "win_probability": "0.70", "contracts": 10, "sport": "nba"},
    q("2026-01-10T18:00:30Z", "0.58", "0.59", volume=1100),     # +16%: stage 1 sells 5
    q("2026-01-10T18:02:00Z", "0.62", "0.63", volume=1200),     # peak 0.62
    q("2026-01-10T18:04:00Z", "0.56", "0.57", volume=1300),     # trailing stop: 0.62 - 5c = 0.57 >= 0.56
    {"ts": "2026-01-10T20:00:00Z", "type": "settle", "ticker": "KX-T", "result": "yes"},
    {"ts": "2026-01-10T20:00:01Z", "type": "future-kind", "whatever": 1},          # skipped, not an error
]


def test_replay_json_reports_each_exit_in_fill_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = write(tmp_path / "r.jsonl", SCENARIO)
    assert app.main(["replay", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (pos,) = out["positions"]
    assert (pos["ticker"], pos["side"], pos["contracts"], pos["status"]) == ("KX-T", "yes", 10, "closed")
    assert Decimal(pos["entry_price"]) == Decimal("0.50")
    reasons = [(e["reason"], e["priority"], e["contracts"]) for e in pos["exits"]]
    assert reasons == [("partial_exit_target", "MEDIUM", 5), ("trailing_stop", "HIGH", 5)]
    assert [e["ts"] for e in pos["exits"]] == sorted(e["ts"] for e in pos["exits"])
    assert all(isinstance(e["price"], str) for e in pos["exits"])
    realized = sum(Decimal(e["price"]) * e["contracts"] for e in pos["exits"]) - Decimal("0.50") * 10
    fees = Decimal(pos["entry_fees"]) + Decimal(pos["exit_fees"])
    assert Decimal(pos["realized_pnl"]) == realized - fees
    assert out["totals"]["exits_by_reason"] == {"partial_exit_target": 1, "trailing_stop": 1}
    # The database rows and the audit log tell the same story.
    events = read_audit(tmp_path / running.REPLAY_AUDIT)
    assert [e["event"] for e in events if e["event"] in ("TRADE_EXECUTED", "POSITION_CLOSED")] == [
        "TRADE_EXECUTED", "POSITION_CLOSED"]
    assert sum(e["contracts"] for e in events if e["event"] == "ORDER_FILLED") == 10


@pytest.mark.parametrize("line, field", [
    ('{"ts": "2026-01-10T18:00:00", "type": "quote", "ticker": "A", "yes_bid": "0.4", "yes_ask": "0.5"}', "ts"),
    ('{"ts": "2026-01-10T18:00:00Z", "type": "quote", "ticker": "A", "yes_bid": "1.4", "yes_ask": "0.5"}', "yes_bid"),
    ('{"ts": "2026-01-10T18:00:00Z", "type": "quote", "ticker": "A", "yes_bid": "0.6", "yes_ask": "0.5"}', "yes_bid"),
    ('{"ts": "2026-01-10T18:00:00Z", "type": "signal", "ticker": "A", "side": "maybe", "signal_type": "x", '
     '"win_probability": "0.6"}', "side"),
    ('{"ts": "2026-01-10T18:00:00Z", "type": "signal", "ticker": "A", "side": "yes", "signal_type": "x"}',
     "win_probability"),
    ('{"ts": "2026-01-10T18:00:00Z", "type": "game", "game_id": "g", "sport": "nba", "home_score": -1, '
     '"away_score": 0, "period": 1, "clock": 300}', "home_score"),
    ('{"ts": "2026-01-10T18:00:00Z", "type": "settle", "ticker": "A", "result": "draw"}', "result"),
    ('{"ts": "2026-01-10T18:00:00Z"}', "type"),
])
def test_a_malformed_line_names_the_file_line_and_field(tmp_path, line, field):
    path = write(tmp_path / "bad.jsonl", [q("2026-01-10T17:59:00Z", "0.4", "0.5"), line])
    with pytest.raises(ReplayError) as err:
        read_replay(path)
    message = str(err.value)
    assert f"{path}:2" in message and repr(field) in message and "expected" in message


def test_not_json_and_time_going_backwards_are_errors(tmp_path):
    with pytest.raises(ReplayError, match=r"bad\.jsonl:1: not valid JSON"):
        read_replay(write(tmp_path / "bad.jsonl", ["{oops"]))
    with pytest.raises(ReplayError, match=r":2: field 'ts': expected a time at or after"):
        read_replay(write(tmp_path / "back.jsonl", [q("2026-01-10T18:00:00Z", "0.4", "0.5"),
                                                    q("2026-01-10T17:00:00Z", "0.4", "0.5")]))


def test_a_bad_replay_file_changes_nothing_and_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "bad.jsonl", [q("2026-01-10T18:00:00Z", "0.4", "0.5"), "{oops"])
    assert app.main(["replay", str(path)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert not (tmp_path / running.REPLAY_DB).exists() and not (tmp_path / running.REPLAY_AUDIT).exists()


def test_empty_sides_are_read_as_no_market(tmp_path):
    events, _ = read_replay(write(tmp_path / "e.jsonl", [q("2026-01-10T18:00:00Z", "0", "1"),
                                                          q("2026-01-10T18:00:01Z", None, "0.5")]))
    (_, a), (_, b) = events
    assert isinstance(a, Quote) and (a.yes_bid, a.yes_ask) == (None, None)
    assert (b.yes_bid, b.yes_ask) == (None, Decimal("0.5"))


@pytest.mark.skipif(not NBA.exists(), reason="../shared/data/kalshi-nba-2025-11-22-LAC-CHA is absent")
def test_the_real_nba_recording_converts_and_replays_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert app.main(["convert-recording", str(NBA), "--out", "nba.jsonl"]) == 0
    assert "11442 quotes" in capsys.readouterr().out
    events, _ = read_replay(tmp_path / "nba.jsonl")
    assert sum(isinstance(p, Quote) for _, p in events) == 11442
    assert app.main(["replay", "nba.jsonl", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # six synthetic signals; the cheap one (NO at 0.07 with the bid at 0.06) is refused: the
    # spread alone is past its stop (models/entry_checks.py)
    assert out["totals"]["positions"] == 5 and out["totals"]["open"] == 0
    refused = [json.loads(line) for line in (tmp_path / running.REPLAY_AUDIT).read_text().splitlines()
               if '"SIGNAL_REJECTED"' in line]
    assert [e for e in refused if "the spread alone would stop it out" in e["reason"]]
    for pos in out["positions"]:                 # every contract bought was sold or settled
        assert sum(e["contracts"] for e in pos["exits"]) == pos["contracts"]
    from adapters.storage.database import connect
    repo = Repository(connect(str(tmp_path / running.REPLAY_DB)), None)
    assert sorted(p.position_id for p in repo.all_positions()) == sorted(p["position_id"] for p in out["positions"])


def _recording(path, ticker, rows):  # type: ignore[no-untyped-def]
    path.write_text("".join(json.dumps({"ts_iso": ts, "market_ticker": ticker, "yes_bid_prob": b, "yes_ask_prob": a,
                                        "volume": v}) + "\n" for ts, b, a, v in rows), encoding="utf-8")
    return path


def test_convert_recording_writes_the_close_time_on_every_quote_for_all_or_per_market(tmp_path, capsys):
    a = _recording(tmp_path / "A.jsonl", "KX-A", [("2025-11-22T18:00:00Z", 0.4, 0.41, 10),
                                                   ("2025-11-22T18:00:05Z", 0.42, 0.43, 20)])
    b = _recording(tmp_path / "B.jsonl", "KX-B", [("2025-11-22T18:00:01Z", 0.58, 0.6, 10)])
    out = tmp_path / "r.jsonl"
    assert app.main(["convert-recording", str(a), str(b), "--out", str(out), "--signals", "0",
                     "--close-time", "2025-11-22T20:25:28Z", "--close-time", "KX-B=2025-11-22T21:00:00+00:00"]) == 0
    quotes = [json.loads(x) for x in out.read_text().splitlines() if json.loads(x)["type"] == "quote"]
    assert {q["ticker"]: q["close_time"] for q in quotes} == {"KX-A": "2025-11-22T20:25:28Z",
                                                             "KX-B": "2025-11-22T21:00:00Z"}
    assert all("close_time" in q for q in quotes)
    events, _ = read_replay(out)
    assert {p.ticker: p.close_time for _, p in events if isinstance(p, Quote)}["KX-A"] == \
        datetime(2025, 11, 22, 20, 25, 28, tzinfo=timezone.utc)
    capsys.readouterr()
    assert app.main(["convert-recording", str(a), "--out", str(out), "--close-time", "20:25"]) == 2
    err = capsys.readouterr().err
    assert "--close-time" in err and "ISO-8601" in err
    assert app.main(["convert-recording", str(a), "--out", str(out), "--close-time", "KX-Z=2025-11-22T20:25:28Z"]) == 2
    assert "KX-Z" in capsys.readouterr().err          # a market that is not in the recording: a typo


@pytest.mark.skipif(not NBA.exists(), reason="../shared/data/kalshi-nba-2025-11-22-LAC-CHA is absent")
def test_the_nba_recording_with_its_close_time_exercises_time_based_urgent(tmp_path, monkeypatch, capsys):
    """The LAC-CHA book sits at 99/100 after the game and empties at 20:25:28Z: trading closed
    (Kalshi closes a game market early once the result is determined). Converted with that
    close time, a position still held five minutes before is exited by time_based_urgent, at
    most one cadence after 20:20:28, although the quotes barely change by then."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert app.main(["convert-recording", str(NBA), "--out", "nba.jsonl", "--signals", "0",
                     "--close-time", "2025-11-22T20:25:28Z"]) == 0
    signal = {"ts": "2025-11-22T19:56:17Z", "type": "signal", "ticker": "KXNBAGAME-25NOV22LACCHA-LAC",
              "side": "yes", "signal_type": "default", "win_probability": "0.99", "market_price": "0.94",
              "game_id": "KXNBAGAME-25NOV22LACCHA", "sport": "nba", "signal_id": "late-lac", "source": "test"}
    lines = (tmp_path / "nba.jsonl").read_text().splitlines()
    lines.append(json.dumps(signal))
    lines.sort(key=lambda x: json.loads(x)["ts"])
    (tmp_path / "nba.jsonl").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert app.main(["replay", "nba.jsonl", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (pos,) = out["positions"]
    assert [e["reason"] for e in pos["exits"]] == ["time_based_urgent"], pos["exits"]
    fired = [e for e in read_audit(tmp_path / running.REPLAY_AUDIT) if e["event"] == "EXIT_TRIGGERED"]
    assert [e["condition"] for e in fired] == ["time_based_urgent"]
    at = datetime.fromisoformat(fired[0]["ts"])
    boundary = datetime(2025, 11, 22, 20, 20, 28, tzinfo=timezone.utc)
    assert boundary <= at <= boundary + timedelta(seconds=30)
