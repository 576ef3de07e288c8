"""A live engine with streamed market data, end to end over the loopback fake Kalshi.

engine (virtual time) -> KalshiVenue -> signed HTTP and a signed WebSocket -> FakeKalshi +
FakeKalshiStream -> a PaperVenue. The engine is built like the live one (positions polled at
their cadence, the PriceCache streamed per market) with the MarketStream started on it.

Frames cross a real socket, so after each action the rig waits for the network (the client has
read every frame the fake sent and the fake every command the client sent) and then lets the
actors go idle; timing that matters (silence, back-off, cadences) runs on the virtual clock.
"""
from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import pykka
import pytest

from adapters.kalshi.auth import KalshiCredentials
from adapters.kalshi.client import KalshiClient, RetryPolicy
from tests.fakes.kalshi_server import FakeKalshi, RunningFake, serve_fake_kalshi
from adapters.kalshi.market_data import StreamSettings, start_market_stream
from adapters.kalshi.stream import MarketStream
from adapters.kalshi.venue import KalshiVenue
from adapters.paper.venue import PaperVenue
from config.loader import load_config
from models.market import Side
from models.signal import TradingSignal
from adapters.cli.running import PaperEngine, build_paper_engine
from tests.fakes.kalshi_ws import FakeKalshiStream

KEY_ID = "stream-key-id"
T0 = datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc)
D = Decimal


def _connecting(conn: Any) -> bool:
    """A connect is in flight (the handshake not yet answered): its outcome, a WsOpened or a
    refusal, must reach the stream before virtual time moves on, however loaded the machine."""
    task = conn._task
    return task is not None and not task.done() and conn._ws is None


def _quiet(ws: Any, conn: Any) -> bool:
    """Nothing in flight between the fake and the client: no handshake awaiting its answer, a
    connection the fake dropped noticed by the client, every frame and command of a live one read."""
    if _connecting(conn) or conn.sending:
        return False                      # a connect, or a command the stream sent, not yet on the socket
    if not ws.live():
        return conn._ws is None
    return ws.in_step_with(conn)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """A network wait (frames in flight on 127.0.0.1), never a timing assertion."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


@dataclass
class StreamRig:
    engine: PaperEngine
    paper: PaperVenue
    fake: FakeKalshi
    ws: FakeKalshiStream
    venue: KalshiVenue
    stream: Any
    audit: list[dict[str, Any]] = field(default_factory=list)

    @property
    def system(self):  # type: ignore[no-untyped-def]
        return self.engine.system

    @property
    def conn(self):  # type: ignore[no-untyped-def]
        return self.stream.proxy().connection.get(timeout=5)

    def now(self) -> datetime:
        return self.engine.clock.now()

    def settle(self) -> None:
        """Until quiet: every frame sent was read and every command received, actors idle."""
        conn = self.conn
        for _ in range(40):
            self.engine.scheduler.run_for(timedelta(0))
            before = (self.ws.frames_out, conn.sent, len(self.ws.commands), conn.frames, len(self.ws.handshakes))
            wait_until(lambda: _quiet(self.ws, conn), 5.0)
            self.engine.scheduler.run_for(timedelta(0))
            if _quiet(self.ws, conn) and \
                    before == (self.ws.frames_out, conn.sent, len(self.ws.commands), conn.frames, len(self.ws.handshakes)):
                return                  # (quiet again after the actors ran: nothing they sent is in flight)

    def run(self, seconds: float, *, ping_every: float | None = 10) -> None:
        """Move virtual time, the fake pinging every `ping_every` seconds of it (as Kalshi does)."""
        left = seconds
        while left > 0:
            step = min(left, ping_every or left, 1.0)
            self.engine.scheduler.run_for(timedelta(seconds=step))
            left -= step
            if ping_every and int((seconds - left) * 1000) % int(ping_every * 1000) == 0:
                self.ws.ping()
            self.settle()
        self.settle()

    def book(self, ticker: str, bid: str | None, ask: str | None, *, size: int = 200, publish: bool = True) -> None:
        self.paper.set_book(ticker, [(D(bid), size)] if bid else [], [(D(ask), size)] if ask else [], volume=1000)
        if publish:
            self.ws.publish(ticker)
            self.settle()

    def enter(self, ticker: str, *, contracts: int = 20, ask: str = "0.50") -> str:
        sig = TradingSignal(f"sig-{ticker}-{len(self.audit)}", self.now(), f"G-{ticker}", "nba", ticker, "kalshi",
                            Side.YES, "default", D("0.90"), D(ask), source="test", contracts=contracts)
        self.system.push_signal(sig)
        self.settle()
        self.ws.publish(ticker)          # the entry took from the book: Kalshi sends that change too
        self.settle()
        self.run(1)
        opened = self.events("TRADE_EXECUTED", signal_id=sig.signal_id)
        assert opened, f"the signal opened nothing: {self.events('SIGNAL_REJECTED')}"
        return opened[-1]["position_id"]

    def events(self, name: str, **fields: Any) -> list[dict[str, Any]]:
        return [e for e in list(self.audit) if e["event"] == name and all(e.get(k) == v for k, v in fields.items())]

    def posts(self, ticker: str) -> list[Any]:
        return [e for e in self.fake.requests_to("POST", "/portfolio/orders") if e.request_json["ticker"] == ticker]

    def reads(self) -> list[Any]:
        return self.fake.requests_to("GET", "/markets")

    def position(self, pid: str):  # type: ignore[no-untyped-def]
        self.system.flush()
        return self.engine.repository.load_position(pid)


@contextlib.contextmanager
def stream_rig(tmp_path: Path, key: Any, *, settings: StreamSettings = StreamSettings(),
               config_text: str = "partial_exits:\n  enabled: false\nliquidity:\n  min_volume: 0\n",
               key_for_client: Any = None) -> Iterator[StreamRig]:
    audit: list[dict[str, Any]] = []
    parts: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        def kalshi_on(clock):  # type: ignore[no-untyped-def]
            paper = PaperVenue(clock, name="fake-kalshi-book", starting_balance=D("1000"))
            fake = FakeKalshi(paper, key.public_key(), KEY_ID, clock)
            ws = FakeKalshiStream(fake)
            running: RunningFake = stack.enter_context(serve_fake_kalshi(fake))
            client = KalshiClient(running.base_url, KalshiCredentials(KEY_ID, key_for_client or key), clock,
                                  retry=RetryPolicy(), rng=random.Random(1))
            venue = KalshiVenue(client, call_timeout_secs=10)
            stack.callback(venue.close)
            parts.update(paper=paper, fake=fake, ws=ws, venue=venue)
            return venue

        config_file = tmp_path / "stream.yaml"
        config_file.write_text(config_text, encoding="utf-8")
        engine = build_paper_engine(load_config(config_file), T0, db_path=str(tmp_path / "stream.db"), audit_path=None,
                                    recorder=audit, venue_factory=kalshi_on, inline=False)   # threads, as live
        try:
            stream = start_market_stream(engine.system, parts["venue"], settings=settings, seed=1)
            rig = StreamRig(engine, stream=stream, audit=audit, **parts)
            wait_until(lambda: rig.ws.live() or rig.ws.refused, 5)
            rig.settle()
            yield rig
        finally:
            engine.stop()
            leaked = pykka.ActorRegistry.get_all()
            if leaked:
                pykka.ActorRegistry.stop_all(block=True, timeout=10)
                pytest.fail(f"pykka actors left running: {sorted({r.actor_class.__name__ for r in leaked})}")


__all__ = ["MarketStream", "StreamRig", "stream_rig", "wait_until", "T0", "D", "KEY_ID"]
