"""`live` start-up against bad input and an unreachable venue (issue 9 §6), on the wall clock
against the loopback fake Kalshi, each bounded by --duration-s:

- a `--signals` path that does not exist is exit 2 naming it, before anything is sent, unless it
  is a named pipe or `--signals-wait` says a producer will create it;
- with the venue unreachable at start, nothing trades until start-up reconciliation has compared
  the holdings: it is retried with back-off, each failure an ALERT, and a run that never gets
  there ends with exit 1 having sent no order.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pykka
import pytest

from adapters.cli import app
from actors.clock import WallClock
from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi, write_test_key
from adapters.paper.venue import PaperVenue
from models.market import Side

KEY_ID = "live-start-key-id"
TICKER = "KXNBAGAME-26JAN11LALBOS-BOS"
D = Decimal


@pytest.fixture(scope="module")
def key():
    return generate_test_key()


@pytest.fixture
def fake_kalshi(tmp_path, monkeypatch, key):
    clock = WallClock()
    paper = PaperVenue(clock, name="fake-kalshi-book", starting_balance=D("1000"))
    paper.set_book(TICKER, [(D("0.48"), 200)], [(D("0.50"), 200)], volume=1000)
    fake = FakeKalshi(paper, key.public_key(), KEY_ID, clock, max_clock_skew=timedelta(seconds=5))
    key_path = write_test_key(key, tmp_path / "kalshi.pem")
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


def signal_line() -> str:
    # dated now: the engine refuses signals older than signals.max_age_secs
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": "signal", "ts": now, "signal_id": "user-1", "ticker": TICKER,
                       "side": "yes", "signal_type": "default", "win_probability": "0.90", "market_price": "0.50",
                       "game_id": "G1", "sport": "nba", "contracts": 10})


def live(tmp_path, *extra: str, duration: str = "1") -> list[str]:  # type: ignore[no-untyped-def]
    return ["live", "--duration-s", duration, "--no-auto-signals", "--db", str(tmp_path / "live.db"),
            "--audit", str(tmp_path / "live-audit.jsonl"), *extra]


# --- --signals ------------------------------------------------------------------------------------

def test_a_missing_signals_file_is_exit_2_before_anything_is_sent(fake_kalshi, tmp_path, capsys) -> None:
    _, fake = fake_kalshi
    missing = tmp_path / "signals.jsonl"
    assert app.main(live(tmp_path, "--signals", str(missing))) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "--signals-wait" in err
    assert fake.exchanges == [] and not (tmp_path / "live.db").exists()


def test_signals_wait_accepts_a_file_that_does_not_exist_yet(fake_kalshi, tmp_path, capsys) -> None:
    assert app.main(live(tmp_path, "--signals", str(tmp_path / "later.jsonl"), "--signals-wait")) == 0


def test_a_named_pipe_is_followed_without_waiting_for_a_writer(fake_kalshi, tmp_path, capsys) -> None:
    pipe = tmp_path / "signals.fifo"
    os.mkfifo(pipe)
    assert app.main(live(tmp_path, "--signals", str(pipe))) == 0, capsys.readouterr().err


# --- the venue unreachable at start ---------------------------------------------------------------

def test_nothing_trades_until_reconciliation_has_compared_the_holdings(fake_kalshi, tmp_path, capsys) -> None:
    paper, fake = fake_kalshi
    signals = tmp_path / "signals.jsonl"
    signals.write_text(signal_line() + "\n", encoding="utf-8")
    fake.fail_next(503, times=12)        # the first reconcile fails outright, the second gets through
    code = app.main(live(tmp_path, "--signals", str(signals), duration="8"))
    out, err = capsys.readouterr()
    assert code == 0, err
    exchanges = list(fake.exchanges)
    compared = next(i for i, e in enumerate(exchanges)
                    if e.method == "GET" and e.route == "/portfolio/positions" and e.status == 200)
    posts = [i for i, e in enumerate(exchanges) if e.method == "POST"]
    assert posts and min(posts) > compared, "an order went out before the holdings were compared"
    assert all(e.status == 503 for e in exchanges[:compared])
    assert paper.holding(TICKER, Side.YES) == 10          # and then it traded
    events = [json.loads(line) for line in (tmp_path / "live-audit.jsonl").read_text(encoding="utf-8").splitlines()]
    alerts = [e for e in events if e["event"] == "ALERT" and "not trading" in e["message"]]
    assert alerts and "retry in" in alerts[0]["message"]


def test_a_venue_unreachable_for_the_whole_run_trades_nothing_and_exits_1(fake_kalshi, tmp_path, capsys) -> None:
    paper, fake = fake_kalshi
    signals = tmp_path / "signals.jsonl"
    signals.write_text(signal_line() + "\n", encoding="utf-8")
    fake.fail_next(503, times=100_000)
    code = app.main(live(tmp_path, "--signals", str(signals), duration="3"))
    out, err = capsys.readouterr()
    assert code == 1
    assert "holdings" in err and "nothing was traded" in err
    assert not [e for e in fake.exchanges if e.method == "POST"]
    assert paper.holding(TICKER, Side.YES) == 0


# --- the back-off itself, without waiting ---------------------------------------------------------

class _Report:
    def __init__(self, compared: bool) -> None:
        self.holdings_compared = compared


class _Audit:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def emit(self, event) -> None:  # type: ignore[no-untyped-def]
        self.events.append((event.event, event.text()))


class _VirtualWait:
    """stop.wait(seconds) that moves a virtual clock instead of sleeping."""

    def __init__(self) -> None:
        from datetime import datetime, timezone

        self.t = datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc)
        self.waits: list[float] = []

    def now(self):  # type: ignore[no-untyped-def]
        return self.t

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.t += timedelta(seconds=seconds)
        return False


def test_the_start_gate_backs_off_doubling_with_jitter_and_alerts_each_try() -> None:
    import random

    from adapters.engine.start_gate import reconcile_until_compared

    clock, audit = _VirtualWait(), _Audit()
    tries = iter([_Report(False)] * 8 + [_Report(True)])
    report = reconcile_until_compared(lambda: next(tries), audit, clock.now, stop=clock,  # type: ignore[arg-type]
                                      rng=random.Random(5))
    assert report is not None and report.holdings_compared
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60]
    assert len(clock.waits) == 8
    assert all(c / 2 <= w <= c for w, c in zip(clock.waits, ceilings)), clock.waits
    alerts = [m for e, m in audit.events if e == "ALERT"]
    assert sum("not trading; retry in" in m for m in alerts) == 8 and "after 8 failed tries" in alerts[-1]


def test_the_start_gate_gives_up_at_the_deadline() -> None:
    import random

    from adapters.engine.start_gate import reconcile_until_compared

    clock, audit = _VirtualWait(), _Audit()
    report = reconcile_until_compared(lambda: _Report(False), audit, clock.now, stop=clock,  # type: ignore[arg-type]
                                      deadline=clock.now() + timedelta(seconds=30), rng=random.Random(5))
    assert report is None
    assert sum(clock.waits) < 30
    assert "could not be compared before the run's end" in audit.events[-1][1]
