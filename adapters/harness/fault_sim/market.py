"""A short seeded market for the fault simulation: a random walk with signals, on virtual time.

One to three markets, 6-12 virtual minutes of events, so one seed runs in well under a second
of wall time. Each market's fair YES probability walks in log-odds (with rare jumps, so stop
losses and trailing stops fire); the book follows fair value with a lag, 1-3c wide (now and
then wider, which trips liquidity_dried_up), 3 levels a side, redrawn every 2-6 s. The model
probability (fair plus slow noise) is pushed every 15-40 s. Signals arrive every couple of
minutes per market with an edge large enough to pass the entry checks; some repeat a market
and side that is already open (the entry manager must refuse them). Some markets close soon
after the session (time_based_urgent fires) and some settle at the end.

Everything is drawn from random.Random(f"market:{seed}"): the same seed gives the same events.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from adapters.sim.game import BookUpdate
from models.market import Side
from models.events import MarketSettled, ModelProbabilityUpdated
from models.signal import TradingSignal

START = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)
SIGNAL_TYPES = ("default", "momentum", "model_edge")
SPORTS = ("nba", "nfl", "nhl")


@dataclass(frozen=True, slots=True)
class Scenario:
    """The market side of one seed: timestamped payloads in time order."""

    seed: int
    start: datetime
    end: datetime
    tickers: tuple[str, ...]
    events: tuple[tuple[datetime, Any], ...]   # BookUpdate | TradingSignal | ModelProbabilityUpdated | MarketSettled


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _cents(c: int) -> Decimal:
    return Decimal(c) / 100


def book_levels(bid_c: int, spread_c: int, sizes: list[int]) -> tuple[tuple, tuple]:
    """YES bids and asks (3 levels each when the tick range allows) from a best bid in cents."""
    bids = tuple((_cents(bid_c - k), sizes[k]) for k in range(3) if 1 <= bid_c - k <= 99)
    asks = tuple((_cents(bid_c + spread_c + k), sizes[3 + k]) for k in range(3) if 1 <= bid_c + spread_c + k <= 99)
    return bids, asks


def make_scenario(seed: int, start: datetime = START) -> Scenario:
    rng = random.Random(f"market:{seed}")
    n_markets = rng.choice((1, 2, 2, 3))
    length = timedelta(seconds=rng.uniform(360, 720))
    end = start + length
    tickers = tuple(f"FSIM{seed}-M{k + 1}" for k in range(n_markets))
    events: list[tuple[datetime, int, Any]] = []
    order = 0
    for k, ticker in enumerate(tickers):
        mrng = random.Random(f"market:{seed}:{k}")
        sport = mrng.choice(SPORTS)
        game_id = f"fsim-{seed}-g{k + 1}"
        closes_soon = mrng.random() < 0.25
        close_time = end + (timedelta(minutes=mrng.uniform(2, 8)) if closes_soon else timedelta(hours=2))
        settles = mrng.random() < 0.35
        x = math.log((p := mrng.uniform(0.2, 0.8)) / (1 - p))
        lagged, noise = x, mrng.gauss(0, 0.1)
        base_spread = mrng.choice((1, 1, 2, 3))
        volume = mrng.randint(500, 3000)
        t = start
        next_model = start + timedelta(seconds=mrng.uniform(5, 20))
        next_signal = start + timedelta(seconds=mrng.uniform(15, 90))
        n_signals = 0
        last_side: Side | None = None
        stop_at = end - timedelta(seconds=mrng.uniform(0, 60)) if settles else end
        while t < stop_at:
            dt = mrng.uniform(2, 6)
            t += timedelta(seconds=round(dt, 1))
            x += mrng.gauss(0, 0.05 * math.sqrt(dt / 4))
            if mrng.random() < 0.012:
                x += mrng.gauss(0, 0.5)                       # news: a jump
            x = max(min(x, 4.0), -4.0)
            lagged += (1 - math.exp(-dt / 20.0)) * (x - lagged)
            noise = noise * math.exp(-dt / 200.0) + mrng.gauss(0, 0.01)
            spread = base_spread + (mrng.randint(2, 4) if mrng.random() < 0.03 else 0)
            mid_c = _sigmoid(lagged) * 100
            bid_c = min(max(int(round(mid_c - spread / 2)), 1), 99 - spread)
            volume += mrng.randint(0, 40)
            sizes = [mrng.randint(20, 150) for _ in range(6)]
            bids, asks = book_levels(bid_c, spread, sizes)
            events.append((t, order, BookUpdate(ticker, bids, asks, volume, close_time, _cents(bid_c))))
            order += 1
            model = _sigmoid(x + noise)
            if t >= next_model:
                next_model = t + timedelta(seconds=mrng.uniform(15, 40))
                events.append((t, order, ModelProbabilityUpdated(ticker, Decimal(f"{model:.4f}"), t)))
                order += 1
            if t >= next_signal and asks and bids and t < end - timedelta(seconds=45):
                next_signal = t + timedelta(seconds=mrng.expovariate(1 / 110))
                # Now and then the same side again (a duplicate the entry manager must refuse).
                side = last_side if last_side is not None and mrng.random() < 0.3 else mrng.choice((Side.YES, Side.NO))
                last_side = side
                ask = asks[0][0] if side is Side.YES else 1 - bids[0][0]
                if Decimal("0.05") <= ask <= Decimal("0.90"):
                    edge = Decimal(f"{mrng.uniform(0.05, 0.14):.4f}")
                    n_signals += 1
                    sig = TradingSignal(
                        signal_id=f"fsim{seed}-m{k + 1}-s{n_signals}", ts=t, game_id=game_id, sport=sport,
                        ticker=ticker, platform="paper", side=side, signal_type=mrng.choice(SIGNAL_TYPES),
                        win_probability=min(ask + edge, Decimal("0.99")), market_price=ask, source="fault-sim",
                        contracts=mrng.choice((None, mrng.randint(2, 60))))
                    events.append((t, order, sig))
                    order += 1
        if settles:
            result = Side.YES if _sigmoid(x) >= 0.5 else Side.NO
            events.append((t + timedelta(seconds=1), order, MarketSettled(ticker, result, t + timedelta(seconds=1))))
            order += 1
    events.sort(key=lambda e: (e[0], e[1]))
    return Scenario(seed, start, end, tickers, tuple((ts, payload) for ts, _, payload in events))
