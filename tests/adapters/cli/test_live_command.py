"""`python run.py live` wired end to end against the loopback fake Kalshi (wall clock, bounded
by --duration-s): credentials and environment checks, a signals file with one good and one
malformed line, the position opened on the fake venue, the summary printed."""
from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pykka
import pytest

from adapters.cli import app, live
from actors.clock import WallClock
from adapters.storage.database import connect
from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi, write_test_key
from adapters.paper.venue import PaperVenue
from adapters.storage.repository import Repository
from models.market import Side

KEY_ID = "live-command-key-id"
TICKER = "KXNBAGAME-26JAN11LALBOS-BOS"
D = Decimal


def _now_iso() -> str:
    """Signals are dated when written: a live run refuses one older than signals.max_age_secs."""
    return datetime.now(timezone.utc).isoformat()


@pytest.fixture
def fake_kalshi(tmp_path, monkeypatch):
    """A fake Kalshi on the wall clock with one market, and the environment that reaches it."""
    key = generate_test_key()
    clock = WallClock()
    paper = PaperVenue(clock, name="fake-kalshi-book", starting_balance=D("1000"))
    paper.set_book(TICKER, [(D("0.48"), 200)], [(D("0.50"), 200)], volume=1000)
    fake = FakeKalshi(paper, key.public_key(), KEY_ID, clock, max_clock_skew=timedelta(seconds=5))
    key_path = write_test_key(key, tmp_path / "kalshi.pem")
    assert key_path.stat().st_mode & 0o777 == 0o600
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with serve_fake_kalshi(fake) as running:
        monkeypatch.setenv("KALSHI_API_BASE", running.base_url)
        monkeypatch.setenv("KALSHI_KEY_ID", KEY_ID)
        monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_path))
        yield paper, fake
    leaked = pykka.ActorRegistry.get_all()
    if leaked:
        pykka.ActorRegistry.stop_all(block=True, timeout=10)
        pytest.fail(f"pykka actors left running: {sorted({r.actor_class.__name__ for r in leaked})}")


def signal_line(**overrides) -> str:
    event = {"type": "signal", "ts": _now_iso(), "signal_id": "user-1", "ticker": TICKER,
             "side": "yes", "signal_type": "default", "win_probability": "0.90", "market_price": "0.50",
             "game_id": "G1", "sport": "nba", "contracts": 10}
    event.update(overrides)
    return json.dumps(event)


def test_live_opens_the_signalled_position_on_kalshi_and_skips_a_malformed_line(fake_kalshi, tmp_path, capsys):
    paper, fake = fake_kalshi
    signals = tmp_path / "signals.jsonl"
    signals.write_text(signal_line() + "\n" + '{"type": "signal", "ticker": ' + "\n", encoding="utf-8")
    db, audit = tmp_path / "live.db", tmp_path / "live-audit.jsonl"
    sigint_before = signal.getsignal(signal.SIGINT)

    code = app.main(["live", "--duration-s", "2", "--signals", str(signals), "--no-auto-signals",
                     "--db", str(db), "--audit", str(audit)])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert signal.getsignal(signal.SIGINT) is sigint_before, "the live command left its SIGINT handler behind"
    # On the venue: one signed IOC buy of 10 at the ask, filled.
    (create,) = fake.requests_to("POST", "/portfolio/orders")
    assert create.status == 201 and create.request_json["client_order_id"] == "en-user-1"
    assert (create.request_json["action"], create.request_json["count"], create.request_json["yes_price"],
            create.request_json["time_in_force"]) == ("buy", 10, 50, "immediate_or_cancel")
    assert paper.holding(TICKER, Side.YES) == 10
    assert all(e.status < 400 for e in fake.exchanges)
    # The malformed line is reported with its line number, and nothing stopped.
    assert f"{signals}:2: skipped" in err
    # The summary: the position stays open on the venue (it resumes on the next start).
    assert "SUMMARY" in out and "Positions: 1 (0 closed, 1 open)" in out
    assert TICKER in out
    (position,) = Repository(connect(str(db)), WallClock()).load_open_positions()
    assert (position.ticker, position.contracts, position.entry_price) == (TICKER, 10, D("0.50"))
    assert position.position_id == "pos-user-1"
    events = [json.loads(line)["event"] for line in audit.read_text(encoding="utf-8").splitlines()]
    assert "TRADE_EXECUTED" in events


def test_a_second_live_engine_with_the_same_kalshi_key_exits_2_before_anything_is_sent(fake_kalshi, tmp_path,
                                                                                       capsys):
    from adapters.engine.lock import lock_kalshi_key

    _, fake = fake_kalshi
    held = lock_kalshi_key(KEY_ID)           # the first engine, on another database
    try:
        code = app.main(["live", "--duration-s", "0", "--db", str(tmp_path / "second.db"),
                         "--audit", str(tmp_path / "second.jsonl")])
    finally:
        held.release()
    _, err = capsys.readouterr()
    assert code == 2
    assert "another Arbees engine is already running on the same Kalshi key" in err and KEY_ID not in err
    assert not fake.requests_to("POST", "/portfolio/orders") and not (tmp_path / "second.db").exists()


def test_missing_credentials_exit_2_with_a_clear_message(fake_kalshi, tmp_path, monkeypatch, capsys):
    _, fake = fake_kalshi
    monkeypatch.delenv("KALSHI_KEY_ID")
    code = app.main(["live", "--duration-s", "0", "--db", str(tmp_path / "x.db"), "--audit", str(tmp_path / "x.jsonl")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Kalshi credentials missing: set KALSHI_KEY_ID" in err
    assert fake.exchanges == [] and not (tmp_path / "x.db").exists()


def test_prod_without_confirmation_exits_2_before_anything_is_sent(fake_kalshi, tmp_path, capsys):
    _, fake = fake_kalshi
    code = app.main(["live", "--env", "prod", "--duration-s", "0", "--db", str(tmp_path / "x.db")])
    out, err = capsys.readouterr()
    assert code == 2 and "--confirm-prod" in err and "real money" in err
    assert fake.exchanges == []


@pytest.mark.parametrize("game, complaint", [
    ("nba:401810123", "expected LEAGUE:ESPN_EVENT_ID:TICKER"),
    ("nba:401810123: , ", "expected LEAGUE:ESPN_EVENT_ID:TICKER"),
    ("curling:401810123:KXA-B", "unknown ESPN league"),
    ("nba:40181/0123:KXA-B", "event id"),
])
def test_a_bad_game_argument_exits_2(fake_kalshi, tmp_path, capsys, game, complaint):
    _, fake = fake_kalshi
    code = app.main(["live", "--game", game, "--duration-s", "0", "--db", str(tmp_path / "x.db")])
    assert code == 2 and complaint in capsys.readouterr().err
    assert fake.exchanges == []


def test_a_game_argument_is_split_into_league_event_and_tickers():
    assert live.parse_game_arg("NBA:401810123:KXNBAGAME-25NOV22LACCHA-LAC, KXNBAGAME-25NOV22LACCHA-CHA") == (
        "nba", "401810123", ("KXNBAGAME-25NOV22LACCHA-LAC", "KXNBAGAME-25NOV22LACCHA-CHA"))
