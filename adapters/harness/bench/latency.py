"""Tick -> exit order latency with 1,000 open positions, and the raw pykka floor.

Setup: `markets` markets, `per_market` positions in each (default 200 x 5 = 1,000). In every
market one position (the target, YES bought at 0.60, stop loss 12%) sits next to bystanders
(YES at 0.57). The baseline quote is 0.60/0.61. A sample pushes 0.52/0.53 into one market: the
target is at -13.3% (stop_loss, CRITICAL, a marketable IOC), the bystanders at -8.8% (nothing
fires, but they receive and evaluate the quote too). The clock is the wall clock's
perf_counter at the push into the PriceCache and at the PaperVenue's place_order (wrapped);
the sample ends when every actor is idle again (the stamp is read then: under the inline
dispatcher the handlers run inside that wait). The market is then re-armed (a new target
and the baseline quote) so 1,000 positions are open at every sample. Virtual time does not
move, so the call budget and the daily loss limit are lifted (200 exit orders and stop losses
in one virtual minute would otherwise queue or trip the breaker; neither is on the measured
path, and the budget is measured on its own in budget.py).

The floor: three plain pykka actors passing one tell round a ring (A -> B -> C -> A), timed in A.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import pykka

from adapters.harness.bench.engine import without_guards
from adapters.harness.bench.fleet import Spec, open_positions, percentile, quote, settle
from config.schema import Config
from models.market import Side

BASE = ("0.60", "0.61")
CROSS = ("0.52", "0.53")
TARGET_ENTRY = Decimal("0.60")
BYSTANDER_ENTRY = Decimal("0.57")


@dataclass(frozen=True, slots=True)
class LatencyResult:
    positions: int
    markets: int
    samples: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    floor_p50_ms: float
    floor_p99_ms: float

    @property
    def ratio_p99(self) -> float:
        return self.p99_ms / self.floor_p99_ms if self.floor_p99_ms > 0 else float("inf")


class _OrderStamp:
    """Wraps the venue's place_order: the perf_counter of the first order since arm()."""

    def __init__(self, venue: Any) -> None:
        self._inner = venue.place_order
        self._event = threading.Event()
        self.at: float | None = None
        venue.place_order = self  # the RateLimiter looks the method up on the instance

    def arm(self) -> None:
        self.at = None
        self._event.clear()

    def __call__(self, request: Any) -> Any:
        if self.at is None:
            self.at = time.perf_counter()
            self._event.set()
        return self._inner(request)

    def wait(self, timeout_s: float) -> float:
        if not self._event.wait(timeout_s) or self.at is None:
            raise RuntimeError("bench: no exit order reached the venue")
        return self.at


def measure_tick_to_order(make_engine: Callable[..., Any], config: Config, *, markets: int = 200, per_market: int = 5,
                          samples: int = 200, floor_samples: int = 1000) -> LatencyResult:
    engine = make_engine("latency", config_override=without_guards(config))
    try:
        tickers = [f"LAT-M{m:03d}" for m in range(markets)]
        now = engine.clock.now()
        for t in tickers:
            engine.venue.set_quote(quote(t, now, *BASE))
        specs = []
        for m, t in enumerate(tickers):
            specs.append(Spec(f"lat-{m:03d}-t0", t, Side.YES, TARGET_ENTRY))
            specs.extend(Spec(f"lat-{m:03d}-b{k}", t, Side.YES, BYSTANDER_ENTRY) for k in range(1, per_market))
        open_positions(engine, specs, tag="lat")
        for t in tickers:
            engine.system.push_quote(quote(t, now, *BASE))
        settle(engine)

        stamp = _OrderStamp(engine.venue)
        lat_ms = []
        for k in range(samples):
            m = k % markets
            t = tickers[m]
            cross = quote(t, now, *CROSS)
            engine.venue.set_quote(cross)
            stamp.arm()
            t0 = time.perf_counter()
            engine.system.push_quote(cross)
            settle(engine)          # inline dispatch: the handlers run here; threads: they ran meanwhile
            t1 = stamp.wait(0.0)
            lat_ms.append((t1 - t0) * 1000)
            # re-arm: a new target in this market, then the baseline quote again
            engine.venue.set_quote(quote(t, now, *BASE))
            open_positions(engine, [Spec(f"lat-{m:03d}-t{k // markets + 1}", t, Side.YES, TARGET_ENTRY)],
                           tag=f"lat{k}")
            engine.system.push_quote(quote(t, now, *BASE))
            settle(engine)
    finally:
        engine.stop()
    f50, f99 = pykka_three_hop(floor_samples)
    return LatencyResult(markets * per_market, markets, samples, percentile(lat_ms, 50), percentile(lat_ms, 90),
                         percentile(lat_ms, 99), max(lat_ms), f50, f99)


# --- the floor: a ring of three plain pykka actors ---------------------------------------------

class _Ring(pykka.ThreadingActor):
    """One actor of the ring; the origin times the lap and tells the caller through `done`."""

    def __init__(self, done: threading.Event | None = None) -> None:
        super().__init__()
        self.next: Any = None
        self.done = done
        self.started_at = 0.0
        self.took: list[float] = []

    def on_receive(self, message: Any) -> Any:
        match message:
            case ("link", ref):
                self.next = ref
            case ("go",):
                self.started_at = time.perf_counter()
                self.next.tell(("lap",))
            case ("lap",) if self.done is not None:
                self.took.append(time.perf_counter() - self.started_at)
                self.done.set()
            case ("lap",):
                self.next.tell(("lap",))
            case ("laps",):
                return list(self.took)
        return None


def pykka_three_hop(samples: int) -> tuple[float, float]:
    """p50, p99 (ms) of one tell going A -> B -> C -> A between plain pykka actors."""
    done = threading.Event()
    a, b, c = _Ring.start(done), _Ring.start(), _Ring.start()
    try:
        a.tell(("link", b))
        b.tell(("link", c))
        c.tell(("link", a))
        for _ in range(samples):
            done.clear()
            a.tell(("go",))
            if not done.wait(5):
                raise RuntimeError("bench: the pykka ring lost a message")
        took = [s * 1000 for s in a.ask(("laps",), timeout=5)]
    finally:
        for ref in (a, b, c):
            ref.stop(block=True, timeout=5)
    return percentile(took, 50), percentile(took, 99)
