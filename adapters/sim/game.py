"""A seeded simulated game and its market, for paper trading on virtual time (no network).

SimulatedGame(...).events() yields SimEvents in time order: GameStates, BookUpdates of the
game's one market (YES = the home team wins), TradingSignals, and at the end a FINAL
GameState and a MarketSettled. The same seed gives the same event list.

How it works (see /work/notes/paper_venue.md):
- The score follows the sport's scoring process in adapters/sim/sports.py, which also gives
  the fair home-win probability in closed form (internal to the sim).
- The market mid follows fair value with a lag (exponential, ~40 s) plus a mean-reverting
  error (Ornstein-Uhlenbeck in log-odds, ~3c at 50c, ~150 s), so real, temporary edges
  exist. The spread is 1c until the final minutes of regulation, then widens to 3-5c;
  depth is 3-5 levels a side with sizes shrinking late; volume only grows. The book is
  redrawn every 3-7 s of virtual time.
- The market closes 30 s to 2 min after the final whistle, as a Kalshi game market closes early
  once the result is known; every book carries that close time.
- The sim's "model" is fair value plus a small slow noise; when it beats a side's ask by
  more than the threshold (4c), a TradingSignal for that side is emitted, at most one per
  side per cooldown (3 min), only while the game is in progress and the ask is in [5c, 95c].
"""
from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable, Iterator, Union

from adapters.sim.sports import PROCESSES, SportProcess
from models.game import GameState, GameStatus
from models.market import Quote, Side
from models.events import MarketSettled, ModelProbabilityUpdated
from models.signal import TradingSignal

SIGNAL_TYPES = ("model_edge", "momentum", "default")
TEAMS = {
    "nba": ("BOS", "LAL", "DEN", "MIA", "GSW", "NYK", "PHX", "DAL", "MIL", "OKC", "CHA", "LAC"),
    "nfl": ("KC", "BUF", "PHI", "SF", "DAL", "BAL", "DET", "GB", "MIA", "CIN", "NYJ", "SEA"),
    "nhl": ("BOS", "TOR", "NYR", "EDM", "COL", "VGK", "FLA", "DAL", "CAR", "TBL", "SEA", "MIN"),
}
LATE_WINDOW_SECS = {"nba": 480.0, "nfl": 600.0, "nhl": 600.0}   # game clock over which the spread widens


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """The whole book of one market, in YES terms, best level first."""

    ticker: str
    yes_bids: tuple[tuple[Decimal, int], ...]
    yes_asks: tuple[tuple[Decimal, int], ...]
    volume: int
    close_time: datetime
    last: Decimal | None = None

    def to_quote(self, ts: datetime) -> Quote:
        bid = self.yes_bids[0] if self.yes_bids else (None, None)
        ask = self.yes_asks[0] if self.yes_asks else (None, None)
        return Quote(ticker=self.ticker, ts=ts, yes_bid=bid[0], yes_ask=ask[0], yes_bid_size=bid[1],
                     yes_ask_size=ask[1], last=self.last, volume=self.volume, close_time=self.close_time)


SimPayload = Union[GameState, BookUpdate, TradingSignal, MarketSettled, ModelProbabilityUpdated]


@dataclass(frozen=True, slots=True)
class SimEvent:
    ts: datetime
    payload: SimPayload


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _cents(c: int) -> Decimal:
    return Decimal(c) / 100


class SimulatedGame:
    """One seeded game and its market. `events()` replays the same precomputed list each time."""

    def __init__(self, sport: str, seed: int, start: datetime, home: str, away: str, *,
                 pregame: timedelta = timedelta(minutes=5), signal_threshold: Decimal = Decimal("0.04"),
                 signal_cooldown: timedelta = timedelta(minutes=3),
                 platform: str = "paper") -> None:
        if sport not in PROCESSES:
            raise ValueError(f"sport: expected one of {sorted(PROCESSES)}, found {sport!r}")
        if start.tzinfo is None:
            raise ValueError("start: expected a timezone-aware datetime (UTC)")
        self.sport, self.seed, self.start, self.home, self.away = sport, seed, start, home, away
        self.platform = platform
        self.ticker = f"SIM-{sport.upper()}-{away.upper()}AT{home.upper()}"
        self.game_id = f"sim-{sport}-{away.lower()}-at-{home.lower()}-{seed}"
        self.tipoff = start + pregame
        self.signal_threshold = signal_threshold
        self.signal_cooldown = signal_cooldown
        key = f"{seed}:{sport}:{away}@{home}"
        self._game_rng = random.Random(f"{key}:game")
        self._rng = random.Random(f"{key}:market")
        self._rng_close = random.Random(f"{key}:close")   # its own stream: the game and book draws stay as they were
        rules = PROCESSES[sport].rules
        self.home_spread = Decimal(round(self._game_rng.gauss(rules.spread_mean, rules.spread_sd) * 2)) / 2
        self._process: SportProcess = PROCESSES[sport](self._game_rng, float(self.home_spread))
        self._states = self._play()
        self._events = tuple(self._build())

    # -- public -------------------------------------------------------------------------------
    def events(self) -> Iterator[SimEvent]:
        return iter(self._events)

    @property
    def result(self) -> Side:
        final = self._states[-1][1]
        return Side.YES if final.home_score > final.away_score else Side.NO

    # -- the game -----------------------------------------------------------------------------
    def _state(self, ts: datetime, status: GameStatus) -> GameState:
        p = self._process
        clock = Decimal(f"{max(p.clock, 0.0):.1f}")
        return GameState(
            game_id=self.game_id, sport=self.sport, ts=ts, status=status, home_team=self.home,
            away_team=self.away, home_score=p.home, away_score=p.away, period=p.period, clock_secs=clock,
            possession=p.possession if status is GameStatus.IN_PROGRESS else None,
            down=p.down if self.sport == "nfl" else None, distance=p.distance if self.sport == "nfl" else None,
            yards_to_endzone=p.ytg if self.sport == "nfl" else None, home_spread=self.home_spread,
            detail=self._detail(status),
        )

    def _detail(self, status: GameStatus) -> str:
        p, periods = self._process, self._process.rules.periods
        name = "OT" if p.period > periods else f"{'P' if self.sport == 'nhl' else 'Q'}{p.period}"
        if status is GameStatus.IN_PROGRESS:
            return f"{name} {int(p.clock) // 60}:{int(p.clock) % 60:02d}"
        return {GameStatus.SCHEDULED: "Scheduled", GameStatus.HALFTIME: "Halftime",
                GameStatus.FINAL: "Final"}.get(status, f"End of {name}")

    def _play(self) -> list[tuple[datetime, GameState, float]]:
        """The whole game as (ts, state, fair home-win probability), and the market close time."""
        p = self._process
        states = [(self.start, self._state(self.start, GameStatus.SCHEDULED), p.fair_home())]
        t = self.tipoff
        for real, status in p.run():
            t += timedelta(seconds=round(real, 1))
            states.append((t, self._state(t, status), p.fair_home()))
        t += timedelta(seconds=round(self._game_rng.uniform(5, 30), 1))
        states.append((t, self._state(t, GameStatus.FINAL), 1.0 if p.home > p.away else 0.0))
        self.final_time = t
        self.settle_time = t + timedelta(seconds=round(self._game_rng.uniform(120, 360)))
        # A Kalshi game market closes early once the result is known: trading stops shortly
        # after the final whistle (its API close_time is only a backstop weeks later). The sim's
        # quotes carry that real close, 30 s to 2 min after the final, before settlement.
        self.close_time = t + timedelta(seconds=round(self._rng_close.uniform(30, 120)))
        return states

    # -- the market ---------------------------------------------------------------------------
    def _build(self) -> Iterator[SimEvent]:
        rng, states = self._rng, self._states
        widen_to = rng.choice((2, 3, 4))          # extra cents of spread at the end: 3-5c in all
        volume = rng.randint(300, 2000)
        fair0 = states[0][2]
        lagged, err, noise = fair0, rng.gauss(0, 0.12), rng.gauss(0, 0.05)
        last_mid, last_price = fair0, None
        last_signal: dict[Side, datetime] = {}
        last_model: float | None = None
        n_signals, i, t, prev_t = 0, 0, self.start, self.start
        while t < self.final_time:
            while i < len(states) and states[i][0] <= t:
                yield SimEvent(states[i][0], states[i][1])
                i += 1
            _, state, fair = states[i - 1]
            dt = (t - prev_t).total_seconds()
            lagged += (1 - math.exp(-dt / 40.0)) * (fair - lagged)
            decay = math.exp(-dt / 150.0)
            err = err * decay + 0.12 * math.sqrt(1 - decay * decay) * rng.gauss(0, 1)
            nd = math.exp(-dt / 300.0)
            noise = noise * nd + 0.05 * math.sqrt(1 - nd * nd) * rng.gauss(0, 1)
            mid = _sigmoid(_logit(lagged) + err)
            late = self._lateness(state)
            spread = 1 + round(late * widen_to)
            bid_c = min(max(math.floor(mid * 100 - spread / 2 + 0.5), 1), 99 - spread)
            volume += int(abs(mid - last_mid) * 30000 * rng.uniform(0.5, 1.5)) + rng.randint(0, 20)
            if rng.random() < 0.6:
                last_price = _cents(bid_c if rng.random() < 0.5 else bid_c + spread)
            last_mid = mid
            book = self._book(bid_c, spread, late, volume, last_price)
            yield SimEvent(t, book)
            if state.status is GameStatus.IN_PROGRESS:
                model = _sigmoid(_logit(fair) + noise)
                if last_model is None or abs(model - last_model) >= 0.005:
                    # The model's view, so open positions judge their edge by the model that
                    # signalled them (early_exit / edge_disappeared as the market catches up).
                    last_model = model
                    yield SimEvent(t, ModelProbabilityUpdated(self.ticker, Decimal(f"{model:.4f}"), t))
                for side in (Side.YES, Side.NO):
                    ask = book.yes_asks[0][0] if side is Side.YES else 1 - book.yes_bids[0][0]
                    p_side = model if side is Side.YES else 1 - model
                    since = last_signal.get(side)
                    if (Decimal(f"{p_side:.4f}") - ask > self.signal_threshold
                            and Decimal("0.05") <= ask <= Decimal("0.95")
                            and (since is None or t - since >= self.signal_cooldown)):
                        last_signal[side] = t
                        yield SimEvent(t, self._signal(n_signals, t, side, p_side, ask))
                        n_signals += 1
            prev_t = t
            t += timedelta(seconds=round(rng.uniform(3, 7), 1))
        for ts, state, _ in states[i:]:
            yield SimEvent(ts, state)
        yes_won = self.result is Side.YES
        bid_c = 98 if yes_won else 1
        yield SimEvent(self.final_time, self._book(bid_c, 1, 1.0, volume, _cents(99 if yes_won else 1)))
        yield SimEvent(self.settle_time, MarketSettled(self.ticker, self.result, self.settle_time))

    def _lateness(self, state: GameState) -> float:
        """0 until the final LATE_WINDOW_SECS of regulation game clock, rising to 1 (and 1 in OT)."""
        if state.status is GameStatus.SCHEDULED or state.period == 0:
            return 0.0
        left = self._process.rules.period_secs * (self._process.rules.periods - state.period)
        if state.period > self._process.rules.periods:
            return 1.0
        left += float(state.clock_secs or 0)
        return min(max(1 - left / LATE_WINDOW_SECS[self.sport], 0.0), 1.0)

    def _book(self, bid_c: int, spread: int, late: float, volume: int, last: Decimal | None) -> BookUpdate:
        rng = self._rng
        top = max(5, int(rng.uniform(150, 600) * (1 - 0.9 * late)))

        def levels(best: int, direction: int) -> tuple[tuple[Decimal, int], ...]:
            out, price = [], best
            for k in range(rng.randint(3, 5)):
                if not 1 <= price <= 99:
                    break
                out.append((_cents(price), max(1, int(top * (1 + 0.6 * k) * rng.uniform(0.7, 1.3)))))
                price += direction * (1 + (rng.random() < late))
            return tuple(out)

        return BookUpdate(self.ticker, levels(bid_c, -1), levels(bid_c + spread, +1), volume, self.close_time, last)

    def _signal(self, n: int, ts: datetime, side: Side, p_side: float, ask: Decimal) -> TradingSignal:
        return TradingSignal(
            signal_id=f"{self.game_id}-sig-{n + 1:03d}", ts=ts, game_id=self.game_id, sport=self.sport,
            ticker=self.ticker, platform=self.platform, side=side, signal_type=SIGNAL_TYPES[n % len(SIGNAL_TYPES)],
            win_probability=Decimal(f"{p_side:.4f}"), market_price=ask, source="sim",
        )


def make_session(seed: int, start: datetime, sports: Iterable[str] = ("nba", "nfl"), *,
                 stagger: timedelta = timedelta(minutes=20)) -> list[SimulatedGame]:
    """One game per sport, teams drawn from the seed, starts staggered by `stagger`."""
    games = []
    for k, sport in enumerate(sports):
        home, away = random.Random(f"session:{seed}:{sport}").sample(TEAMS[sport], 2)
        games.append(SimulatedGame(sport, seed + k, start + k * stagger, home, away))
    return games


def merge_events(games: Iterable[SimulatedGame]) -> Iterator[SimEvent]:
    """All games' events in time order (ties keep each game's own order, earlier game first)."""
    return heapq.merge(*(g.events() for g in games), key=lambda e: e.ts)
