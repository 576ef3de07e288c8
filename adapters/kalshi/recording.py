"""Record Kalshi's live stream to a replay file (`python run.py record`).

The same MarketStream the engine uses (adapters/kalshi/stream.py: books from snapshot + deltas,
sequence checks, reconnects with back-off, re-snapshots) feeds a Recorder actor instead of the
engine: every change of a market's top of book becomes a `quote` line, a settlement a `settle`
line, in the replay format adapters/files/replay.py reads (see its docstring), so a recorded game
can be replayed (`python run.py replay FILE`). Lines are written in arrival order and flushed
as they are written; times never go backwards (the recorder's clock).

What a recording cannot hold: while a market is not streamed (the connection is down, or
after a gap until its new snapshot) nothing is written for it; the first quote after the
snapshot carries the book as it is then. Each such hole is counted (`holes`) and logged.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, TextIO

from loguru import logger

from actors.base import ArbeesActor
from actors.price_cache import quote_problem
from models.market import Quote
from models.commands import FeedMarketsTo, ForwardToMarket
from models.events import FillStreamed, MarketSettled, MarketsStreamed, QuotePushed


def quote_line(q: Quote) -> dict[str, Any]:
    """A replay `quote` event: dollar strings, whole sizes, null for an empty side."""
    line: dict[str, Any] = {"ts": q.ts.isoformat(), "type": "quote", "ticker": q.ticker,
                            "yes_bid": _dollars(q.yes_bid), "yes_ask": _dollars(q.yes_ask)}
    for name in ("yes_bid_size", "yes_ask_size", "volume"):
        if getattr(q, name) is not None:
            line[name] = getattr(q, name)
    if q.close_time is not None:
        line["close_time"] = q.close_time.isoformat()
    return line


def _dollars(v: Any) -> str | None:
    return None if v is None else format(v, "f")


class Recorder(ArbeesActor):
    """Stands where the PriceCache, the ExitRouter and the Supervisor stand for the stream.

    Receives: QuotePushed, MarketsStreamed and FeedMarketsTo (as the PriceCache would), FillStreamed
    (as the ExitRouter would) and ForwardToMarket(MarketSettled) (as the Supervisor would); it
    writes them to the replay file.

    Sends: nothing.

    Asks: nothing.
    """

    kind = "recorder"
    survives_errors = True

    def __init__(self, rt, out: TextIO) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "recorder")
        self.out = out
        self.quotes = 0
        self.settlements = 0
        self.holes = 0
        self._last: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def handle(self, message: Any) -> None:
        match message:
            case QuotePushed(quote=q) if quote_problem(q) is None:     # never a crossed halfway book
                key = (q.yes_bid, q.yes_ask, q.yes_bid_size, q.yes_ask_size, q.volume, q.close_time)
                if self._last.get(q.ticker) != key:
                    self._last[q.ticker] = key
                    self._write(quote_line(q))
                    self.quotes += 1
            case ForwardToMarket(message=MarketSettled(ticker=t, result=result, ts=ts)):
                self._write({"ts": ts.isoformat(), "type": "settle", "ticker": t, "result": result.value})
                self.settlements += 1
            case MarketsStreamed(tickers=tickers, streamed=False, reason=why):
                self.holes += len(tickers)
                logger.warning("record: {} not recorded until its next snapshot ({})", ", ".join(tickers), why)
            case QuotePushed() | MarketsStreamed() | FeedMarketsTo() | FillStreamed():
                pass
            case _:
                self.unknown(message)

    def _write(self, line: dict[str, Any]) -> None:
        with self._lock:
            self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
            self.out.flush()


def open_output(path: Path) -> TextIO:
    """The file to record into (created or appended to); a clear error for a bad path."""
    if path.exists() and path.is_dir():
        raise ValueError(f"--out {path}: is a directory, expected a file")
    if not path.parent.is_dir():
        raise ValueError(f"--out {path}: the directory {path.parent} does not exist")
    return path.open("a", encoding="utf-8")
