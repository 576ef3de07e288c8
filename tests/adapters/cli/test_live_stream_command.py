"""`python run.py live` streams market data by default (REST the fallback), `--poll-only` keeps
pure polling, and `status` shows the stream's state from the heartbeat and the audit log."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from adapters.cli import app
from adapters.cli import status as status_command
from tests.fakes.kalshi_server import generate_test_key
from adapters.operator.status_view import format_status
from tests.fakes.kalshi_ws import kalshi_on_this_machine
from tests.live_stream_rig import stream_rig
from tests.adapters.cli.test_live_command import TICKER, signal_line

M = "KXNBAGAME-26JAN11LALBOS-BOS"


def test_live_streams_by_default_and_poll_only_does_not(tmp_path, monkeypatch):
    """Both runs against the same fake; the WebSocket is attached before the fake is served."""
    from actors.clock import WallClock
    from adapters.paper.venue import PaperVenue

    paper = PaperVenue(WallClock(), name="fake-kalshi-book", starting_balance=Decimal("1000"))
    paper.set_book(TICKER, [(Decimal("0.48"), 200)], [(Decimal("0.50"), 200)], volume=1000)
    with kalshi_on_this_machine(paper, tmp_path, monkeypatch, "live-ws-key") as ws:
        signals = tmp_path / "signals.jsonl"
        signals.write_text(signal_line() + "\n", encoding="utf-8")
        audit = tmp_path / "a.jsonl"
        code = app.main(["live", "--duration-s", "2", "--signals", str(signals), "--no-auto-signals",
                         "--db", str(tmp_path / "a.db"), "--audit", str(audit)])
        assert code == 0
        assert ws.handshakes and ws.refused == 0
        books = [c for c in ws.commands if c["cmd"] == "subscribe" and c["params"]["channels"] == ["orderbook_delta"]]
        assert books and books[0]["params"]["market_tickers"] == [TICKER]
        events = [json.loads(line)["event"] for line in audit.read_text().splitlines()]
        assert "STREAM_CONNECTED" in events and "MARKET_STREAMED" in events

        shaken = len(ws.handshakes)
        code = app.main(["live", "--duration-s", "1", "--poll-only", "--no-auto-signals",
                         "--db", str(tmp_path / "b.db"), "--audit", str(tmp_path / "b.jsonl")])
        assert code == 0 and len(ws.handshakes) == shaken          # no WebSocket at all


def test_the_heartbeat_carries_the_streams_state(tmp_path):
    with stream_rig(tmp_path, generate_test_key()) as rig:
        rig.paper.set_book(M, [(Decimal("0.48"), 200)], [(Decimal("0.50"), 200)], volume=1000)
        rig.enter(M)
        rig.run(31)
        beat = [e for e in rig.audit if e["event"] == "HEARTBEAT"][-1]
    assert beat["market_data"] == {"connection": "up", "streamed": 1, "wanted": 1, "polled": {},
                                   "polled_count": 0, "reconnect_attempts": 0}


def test_status_shows_the_market_data_line_and_the_last_change(tmp_path, capsys):
    audit = tmp_path / "audit.jsonl"
    now = datetime(2026, 1, 11, 18, 0, 40, tzinfo=timezone.utc)
    beat = {"ts": "2026-01-11T18:00:30+00:00", "event": "HEARTBEAT", "state": "running", "pid": 1, "clock": "wall",
            "interval_secs": 30, "market_data": {"connection": "up", "streamed": 11, "wanted": 12,
                                                 "polled": {M: "sequence gap on subscription 3: expected 8, got 10"},
                                                 "polled_count": 1, "reconnect_attempts": 0}}
    change = {"ts": "2026-01-11T18:00:35+00:00", "event": "MARKET_POLLED", "markets": [M],
              "reason": "sequence gap", "message": "market data: 1 market(s) polled from REST: sequence gap"}
    audit.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in (beat, change)), encoding="utf-8")
    from actors.clock import VirtualClock
    from adapters.storage.database import connect, migrate

    db = connect(str(tmp_path / "s.db"))
    migrate(db, VirtualClock(now))
    db.close()
    args = type("A", (), {"db": str(tmp_path / "s.db"), "audit": str(audit), "config": None, "json": False})()
    assert status_command.run(args, now=now) == 0
    out = capsys.readouterr().out
    assert f"Market data: WebSocket up, 11 of 12 markets streamed, polled from REST: {M}: sequence gap" in out
    assert "last change 2026-01-11T18:00:35+00:00: market data: 1 market(s) polled from REST" in out
    assert "Market data: REST polling only (--poll-only)" in format_status(
        {"engine": {"text": "alive"}, "breaker": None, "calls_last_minute": None, "positions": [],
         "market_data": {"connection": "off"}})
