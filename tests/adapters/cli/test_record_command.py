"""`python run.py record` writes the live stream (over the loopback fake Kalshi's WebSocket) in the
replay format, which `replay` reads back; bad input exits 2."""
from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pykka
import pytest

from adapters.cli import app
from actors.clock import WallClock
from adapters.paper.venue import PaperVenue
from adapters.files.replay import read_replay
from models.events import MarketSettled
from models.market import Quote, Side
from tests.fakes.kalshi_ws import kalshi_on_this_machine
from tests.live_stream_rig import wait_until

A, B = "KXNBAGAME-25NOV22LACCHA-LAC", "KXNBAGAME-25NOV22LACCHA-CHA"
D = Decimal


@pytest.fixture
def fake(tmp_path, monkeypatch):
    paper = PaperVenue(WallClock(), name="fake-kalshi-book", starting_balance=D("1000"))
    paper.set_book(A, [(D("0.45"), 100)], [(D("0.46"), 50)], volume=80998)
    paper.set_book(B, [(D("0.54"), 50)], [(D("0.55"), 100)], volume=80998)
    with kalshi_on_this_machine(paper, tmp_path, monkeypatch, "record-key") as ws:
        yield paper, ws
    assert not pykka.ActorRegistry.get_all()


def test_record_writes_the_stream_as_a_replay_that_replay_reads(fake, tmp_path, capsys):
    paper, ws = fake
    out = tmp_path / "game.jsonl"
    stop = threading.Event()
    codes: list[int] = []
    args = app.build_parser().parse_args(["record", "--markets", A, B, "--out", str(out)])
    worker = threading.Thread(target=lambda: codes.append(args.func(args, stop=stop)))
    worker.start()
    try:
        assert wait_until(lambda: len(ws.subscriptions("orderbook_delta")) == 1
                          and ws.subscriptions("orderbook_delta")[0].tickers == {A, B}, 10)
        assert wait_until(lambda: out.exists() and len(out.read_text().splitlines()) >= 2, 10)
        paper.set_book(A, [(D("0.47"), 80)], [(D("0.49"), 40)], volume=81500)
        ws.publish(A)
        assert wait_until(lambda: len(out.read_text().splitlines()) >= 3, 10)
        ws.lifecycle(A, "determined", result="yes")
        assert wait_until(lambda: '"settle"' in out.read_text(), 10)
    finally:
        stop.set()
        worker.join(20)
    assert codes == [0]
    events, _ = read_replay(out)
    quotes = [p for _, p in events if isinstance(p, Quote)]
    summary = capsys.readouterr().out
    assert f"recorded {len(quotes)} quotes and 1 settlements of 2 markets to {out}" in summary
    first = {q.ticker: (q.yes_bid, q.yes_ask, q.yes_bid_size, q.yes_ask_size, q.volume) for q in quotes[:2]}
    assert first == {A: (D("0.45"), D("0.46"), 100, 50, None), B: (D("0.54"), D("0.55"), 50, 100, None)}
    last = [q for q in quotes if q.ticker == A][-1]
    assert (last.yes_bid, last.yes_ask, last.yes_bid_size, last.yes_ask_size, last.volume) == \
        (D("0.47"), D("0.49"), 80, 40, 81500)
    assert all(q.yes_bid < q.yes_ask for q in quotes)              # never a crossed halfway book
    assert [(p.ticker, p.result) for _, p in events if isinstance(p, MarketSettled)] == [(A, Side.YES)]
    times = [ts for ts, _ in events]
    assert times == sorted(times)
    code = app.main(["replay", str(out), "--json", "--db", str(tmp_path / "r.db"), "--audit", str(tmp_path / "r.jsonl")])
    assert code == 0


def test_record_refuses_bad_input_with_exit_2(fake, tmp_path, capsys):
    assert app.main(["record", "--markets", "not a ticker", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "--markets 'not a ticker'" in capsys.readouterr().err
    assert app.main(["record", "--markets", A, "--out", str(tmp_path / "missing" / "x.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert app.main(["record", "--markets", A, "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_record_without_credentials_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KALSHI_KEY_ID", raising=False)
    monkeypatch.delenv("KALSHI_PRIVATE_KEY_PATH", raising=False)
    out: Path = tmp_path / "x.jsonl"
    assert app.main(["record", "--markets", A, "--out", str(out), "--duration-s", "0.1"]) == 2
    assert "credentials missing" in capsys.readouterr().err
