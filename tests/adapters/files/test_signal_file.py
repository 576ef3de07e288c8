"""SignalFollower: trading signals read from a JSON Lines file or a named pipe as they are appended.

poll() is called directly (no thread, no waiting): what is there now is read, complete lines
become signals, a partial last line waits for its end, malformed lines are reported with
their line number and skipped.
"""
from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from loguru import logger

from adapters.files.signals import SignalFollower
from models.market import Side
from models.signal import TradingSignal

TICKER = "KXNBAGAME-26JAN11LALBOS-BOS"


def line(**overrides) -> str:
    event = {"type": "signal", "ts": "2026-01-11T18:00:00Z", "ticker": TICKER, "side": "yes",
             "signal_type": "model_edge", "win_probability": "0.62", "market_price": "0.55"}
    event.update(overrides)
    return json.dumps({k: v for k, v in event.items() if v is not None}) + "\n"


@pytest.fixture
def warnings():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m).rstrip("\n")), level="WARNING", format="{message}")
    yield lines
    logger.remove(sink)


@pytest.fixture
def follow(tmp_path):
    made: list[SignalFollower] = []

    def make(path: Path, platform: str = "kalshi") -> tuple[SignalFollower, list[TradingSignal]]:
        got: list[TradingSignal] = []
        f = SignalFollower(path, got.append, platform=platform)
        made.append(f)
        return f, got

    yield make
    for f in made:
        f.stop()


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def test_lines_are_picked_up_as_they_are_appended(tmp_path, follow):
    path = tmp_path / "signals.jsonl"
    path.write_text(line(signal_id="a"), encoding="utf-8")
    f, got = follow(path)
    assert f.poll() == 1
    assert [s.signal_id for s in got] == ["a"]
    assert f.poll() == 0 and len(got) == 1           # nothing new: nothing passed on twice
    append(path, line(signal_id="b") + line(signal_id="c", side="no"))
    assert f.poll() == 2
    assert [(s.signal_id, s.side) for s in got] == [("a", Side.YES), ("b", Side.YES), ("c", Side.NO)]


def test_a_signal_is_passed_on_whole_with_the_platform_set(tmp_path, follow):
    path = tmp_path / "signals.jsonl"
    path.write_text(line(signal_id="u-7", game_id="401810123", sport="NBA", contracts=12), encoding="utf-8")
    f, got = follow(path, platform="kalshi")
    f.poll()
    assert got == [TradingSignal(
        signal_id="u-7", ts=datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc), game_id="401810123", sport="nba",
        ticker=TICKER, platform="kalshi", side=Side.YES, signal_type="model_edge", win_probability=Decimal("0.62"),
        market_price=Decimal("0.55"), source="signals-file", contracts=12)]
    assert (f.accepted, f.skipped) == (1, 0)


def test_a_file_that_appears_later_is_followed_from_its_first_line(tmp_path, follow):
    path = tmp_path / "later.jsonl"
    f, got = follow(path)
    assert f.poll() == 0
    path.write_text(line(signal_id="late"), encoding="utf-8")
    assert f.poll() == 1 and got[0].signal_id == "late"


def test_a_partial_last_line_waits_until_it_is_completed(tmp_path, follow):
    path = tmp_path / "signals.jsonl"
    whole = line(signal_id="split")
    path.write_text(line(signal_id="first") + whole[:25], encoding="utf-8")
    f, got = follow(path)
    assert f.poll() == 1 and [s.signal_id for s in got] == ["first"]
    append(path, whole[25:-1])                       # everything but the newline
    assert f.poll() == 0 and len(got) == 1
    append(path, "\n")
    assert f.poll() == 1 and [s.signal_id for s in got] == ["first", "split"]


def test_malformed_lines_are_reported_with_their_line_number_and_skipped(tmp_path, follow, warnings):
    path = tmp_path / "signals.jsonl"
    path.write_text(
        line(signal_id="ok-1")                                       # 1
        + '{"type": "signal", "ticker": \n'                          # 2 bad JSON
        + '["a", "list"]\n'                                          # 3 not an object
        + line(type="quote")                                         # 4 another event type
        + "\n"                                                       # 5 blank: ignored, still counted
        + line(ticker=None)                                          # 6 missing field
        + line(side="maybe")                                         # 7 bad side
        + line(win_probability="1.7")                                # 8 out of range
        + line(ts="yesterday")                                       # 9 bad time
        + line(contracts="Infinity")                                 # 10 a number that is no count
        + line(signal_id="ok-2"),                                    # 11
        encoding="utf-8")
    f, got = follow(path)
    assert f.poll() == 2
    assert [s.signal_id for s in got] == ["ok-1", "ok-2"]
    assert (f.accepted, f.skipped) == (2, 8)
    assert len(warnings) == 8
    for number, complaint in ((2, "not valid JSON"), (3, "expected a JSON object"), (4, "'type'"),
                              (6, "'ticker'"), (7, "'side'"), (8, "'win_probability'"), (9, "'ts'"),
                              (10, "skipped")):
        hits = [w for w in warnings if f"{path}:{number}:" in w]
        assert len(hits) == 1 and complaint in hits[0], (number, warnings)
    assert all("skipped" in w for w in warnings)


def test_line_numbers_keep_counting_across_polls(tmp_path, follow, warnings):
    path = tmp_path / "signals.jsonl"
    path.write_text(line(signal_id="x") + line(signal_id="y"), encoding="utf-8")
    f, _ = follow(path)
    f.poll()
    append(path, "not json\n")
    f.poll()
    assert len(warnings) == 1 and f"{path}:3:" in warnings[0]


def poll_within(f: SignalFollower, seconds: float = 5.0) -> int:
    """poll() on a helper thread: a poll that blocks (on a pipe) fails the test instead of hanging it."""
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(f.poll()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "poll() blocked on the named pipe"
    return result[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_a_named_pipe_is_read_as_lines_arrive_while_the_writer_keeps_it_open(tmp_path, follow):
    pipe = tmp_path / "signals.fifo"
    os.mkfifo(pipe)
    f, got = follow(pipe)
    assert poll_within(f) == 0                       # no writer yet: nothing, and no waiting
    with pipe.open("w", encoding="utf-8") as writer:
        writer.write(line(signal_id="p1"))
        writer.flush()
        assert poll_within(f) == 1                   # the writer is still there: no waiting for EOF
        writer.write(line(signal_id="p2")[:10])
        writer.flush()
        assert poll_within(f) == 0
        writer.write(line(signal_id="p2")[10:])
        writer.flush()
        assert poll_within(f) == 1
    assert poll_within(f) == 0                       # the writer went away
    with pipe.open("w", encoding="utf-8") as writer:  # ... and a new one comes along
        writer.write(line(signal_id="p3"))
    assert poll_within(f) == 1
    assert [s.signal_id for s in got] == ["p1", "p2", "p3"]
