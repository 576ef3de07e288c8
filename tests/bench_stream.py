"""Live market data over the WebSocket, measured over the loopback fake Kalshi (issue 13); a
benchmark, not a test (tests/adapters/harness/test_bench_stream.py only checks it measures):

    python -m tests.bench_stream [--quick] [--json]

1. Latency, wall clock: 1,000 open positions over 200 markets (one target, YES at 0.60 with a
   12% stop, beside four bystanders at 0.57, in each market), their books streamed. A sample
   moves one market's book at the fake to 0.52/0.53 and publishes it (the clock starts as the
   fake sends the deltas) and stops when the stop loss's exit order reaches the fake's venue:
   socket -> MarketStream -> PriceCache -> positions -> ExitRouter -> executor -> RateLimiter
   -> signed HTTP create -> the fake. The market is then re-armed (the book back, a new target).
2. REST reads a minute with 200 positions over 50 markets, streamed and then polled only, over
   the same virtual minutes, a fifth of the books moving every 10 s (and the fake pinging).

It lives beside the tests, not in `python run.py bench`, because it runs over the fake Kalshi of
tests/fakes (a test double, not shipped code; the dependency rule keeps adapters/ from importing
tests/).
"""
from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable, Iterator

from adapters.harness.bench.engine import without_guards
from adapters.harness.bench.latency import _OrderStamp
from adapters.harness.bench.fleet import Spec, buy_holdings, percentile, save_states, settle, state_of
from config.schema import Config
from models.market import Side
from models.commands import StartPosition

D = Decimal


@dataclass(frozen=True, slots=True)
class StreamLatency:
    positions: int
    markets: int
    samples: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class StreamReads:
    positions: int
    markets: int
    minutes: int
    streamed_reads_per_minute: float
    polled_reads_per_minute: float
    streamed_other_calls_per_minute: float


def _fake_stream() -> Any:
    from tests.fakes.kalshi_ws import FakeKalshiStream

    return FakeKalshiStream


class _Link:
    """The engine, the fake (REST + WebSocket) and the stream between them (None: polled only)."""

    def __init__(self, engine: Any, paper: Any, fake: Any, ws: Any, stream: Any) -> None:
        self.engine, self.paper, self.fake, self.ws, self.stream = engine, paper, fake, ws, stream
        self.conn = stream.proxy().connection.get(timeout=10) if stream is not None else None

    def quiet(self, timeout_s: float = 5.0) -> None:
        """Every frame sent was read, every command received, and the actors are idle."""
        for _ in range(50):
            settle(self.engine)
            if self.conn is None:
                return
            before = (self.ws.frames_out, self.conn.sent, len(self.ws.commands))
            deadline = time.monotonic() + timeout_s
            while not self.ws.in_step_with(self.conn):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            settle(self.engine)
            if before == (self.ws.frames_out, self.conn.sent, len(self.ws.commands)):
                return

    def streamed(self) -> int:
        return len(self.stream.proxy().streamed.get(timeout=10))


@contextlib.contextmanager
def _linked(make: Callable[..., Any], config: Config, name: str, *, stream: bool = True) -> Iterator[_Link]:
    from adapters.kalshi.auth import KalshiCredentials
    from adapters.kalshi.client import KalshiClient
    from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi
    from adapters.kalshi.market_data import start_market_stream
    from adapters.kalshi.venue import KalshiVenue
    from adapters.paper.venue import PaperVenue

    fake_ws = _fake_stream()
    key = generate_test_key()
    parts: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        def on(clock: Any) -> Any:       # everything on the engine's clock, as live has one clock
            paper = PaperVenue(clock, name="fake-kalshi-book", starting_balance=D("10000000"))
            fake = FakeKalshi(paper, key.public_key(), "bench-key", clock)
            ws = fake_ws(fake)
            running = stack.enter_context(serve_fake_kalshi(fake))
            venue = KalshiVenue(KalshiClient(running.base_url, KalshiCredentials("bench-key", key), clock),
                                call_timeout_secs=30)
            stack.callback(venue.close)
            parts.update(paper=paper, fake=fake, ws=ws, venue=venue)
            return venue

        engine = make(name, config_override=config, venue_factory=on, inline=False)   # threads, as live
        try:
            ws = parts["ws"]
            link = _Link(engine, parts["paper"], parts["fake"], ws,
                         start_market_stream(engine.system, parts["venue"]) if stream else None)
            if stream:
                deadline = time.monotonic() + 10
                while not ws.live() and time.monotonic() < deadline:
                    time.sleep(0.005)
                link.quiet()
            yield link
        finally:
            engine.stop()


def _book(paper: Any, ticker: str, bid: str, ask: str) -> None:
    paper.set_book(ticker, [(D(bid), 1_000_000)], [(D(ask), 1_000_000)], volume=1_000_000)


def _start(link: _Link, specs: list[Spec], tag: str) -> None:
    buy_holdings(link.paper, specs, tag)
    now = link.engine.clock.now()
    states = [state_of(s, now) for s in specs]
    save_states(link.engine.repository, states)
    for state in states:
        link.engine.system.rt.send(link.engine.system.refs.supervisor, StartPosition(state))
    settle(link.engine)


def measure_stream_latency(make: Callable[..., Any], config: Config, *, markets: int = 200, per_market: int = 5,
                           samples: int = 200) -> StreamLatency:
    with _linked(make, without_guards(config), "stream-latency") as link:
        tickers = [f"WS-M{m:03d}" for m in range(markets)]
        for t in tickers:
            _book(link.paper, t, "0.60", "0.61")
        specs = []
        for m, t in enumerate(tickers):
            specs.append(Spec(f"ws-{m:03d}-t0", t, Side.YES, D("0.60")))
            specs.extend(Spec(f"ws-{m:03d}-b{k}", t, Side.YES, D("0.57")) for k in range(1, per_market))
        _start(link, specs, "ws")
        link.quiet()
        deadline = time.monotonic() + 60
        while link.streamed() < markets and time.monotonic() < deadline:
            link.engine.scheduler.run_for(timedelta(seconds=1))
            link.quiet()
        stamp = _OrderStamp(link.paper)         # at the fake: the first order since arm() (the exit)
        took = []
        for k in range(samples):
            m = k % markets
            t = tickers[m]
            _book(link.paper, t, "0.52", "0.53")
            stamp.arm()
            t0 = time.perf_counter()
            link.ws.publish(t)
            took.append((stamp.wait(30.0) - t0) * 1000)
            link.quiet()
            _book(link.paper, t, "0.60", "0.61")
            link.ws.publish(t)
            _start(link, [Spec(f"ws-{m:03d}-t{k // markets + 1}", t, Side.YES, D("0.60"))], f"ws{k}")
            link.quiet()
    return StreamLatency(markets * per_market, markets, samples, percentile(took, 50), percentile(took, 90),
                         percentile(took, 99), max(took))


def measure_stream_reads(make: Callable[..., Any], config: Config, *, positions: int = 200, markets: int = 50,
                         minutes: int = 3) -> StreamReads:
    per = {}
    others = 0.0
    for mode in ("streamed", "polled"):
        with _linked(make, config, f"stream-reads-{mode}", stream=mode == "streamed") as link:
            rng = random.Random(7)
            tickers = [f"RD-M{m:03d}" for m in range(markets)]
            for t in tickers:
                _book(link.paper, t, "0.50", "0.51")
            _start(link, [Spec(f"rd-{i:04d}", tickers[i % markets], Side.YES, D("0.50")) for i in range(positions)],
                   "rd")
            streamed = mode == "streamed"
            if streamed:
                link.quiet()
            warm = 60
            start_count = None
            for second in range(warm + minutes * 60):
                if second == warm:
                    start_count = len(link.fake.exchanges)
                    start_reads = len(link.fake.requests_to("GET", "/markets"))
                if second % 10 == 0:
                    for t in rng.sample(tickers, max(1, markets // 5)):   # a steady session: a fifth of the books move
                        bid = D(rng.choice(("0.49", "0.50", "0.51")))
                        _book(link.paper, t, str(bid), str(bid + D("0.01")))
                        if streamed:
                            link.ws.publish(t)
                    if streamed:
                        link.ws.ping()
                link.engine.scheduler.run_for(timedelta(seconds=1))
                if streamed:
                    link.quiet()
            reads = len(link.fake.requests_to("GET", "/markets")) - start_reads
            per[mode] = reads / minutes
            if streamed:
                others = (len(link.fake.exchanges) - start_count - reads) / minutes
    return StreamReads(positions, markets, minutes, per["streamed"], per["polled"], others)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import tempfile
    from dataclasses import asdict
    from pathlib import Path

    from adapters.harness.bench.engine import engine_factory
    from config.loader import load_config

    parser = argparse.ArgumentParser(prog="python -m tests.bench_stream", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (10 markets, 10 samples, 1 minute)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    sizes = dict(markets=10, per_market=5, samples=10, read_positions=20, read_markets=5, minutes=1) if args.quick \
        else dict(markets=200, per_market=5, samples=200, read_positions=200, read_markets=50, minutes=3)
    config = load_config(None)
    with tempfile.TemporaryDirectory(prefix="arbees-bench-stream-") as tmp:
        make = engine_factory(config, Path(tmp))
        lat = measure_stream_latency(make, config, markets=sizes["markets"], per_market=sizes["per_market"],
                                     samples=sizes["samples"])
        reads = measure_stream_reads(make, config, positions=sizes["read_positions"], markets=sizes["read_markets"],
                                     minutes=sizes["minutes"])
    if args.json:
        print(json.dumps({"latency": asdict(lat), "reads": asdict(reads)}, indent=2, default=str))
    else:
        print(f"book change at the fake -> exit order at the fake, {lat.positions} positions over {sizes['markets']} "
              f"markets, {lat.samples} samples: p50 {lat.p50_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, max {lat.max_ms:.1f} ms")
        print(f"REST market reads a minute, {reads.positions} positions over {reads.markets} markets: "
              f"streamed {reads.streamed_reads_per_minute:.1f}, polled {reads.polled_reads_per_minute:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
