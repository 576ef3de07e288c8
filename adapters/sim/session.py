"""Drive the actor system through a stream of timestamped market events on virtual time.

Used by `python run.py` (the simulated game), `replay` and the tests. For each event in time
order: fire every timer due before it (waiting for all actors to go idle between steps),
move the clock to it, apply it, and wait again. After the last event the session keeps
running for `tail` so resting exits time out and walk as they would live.

Event payloads: a Quote (replay quotes: top of book, sizes may be unknown), a BookUpdate (the
simulated game's full book), a TradingSignal, a GameState (moves the model probability of
the markets linked to that game, through `model`), a ModelProbabilityUpdated (a model's
estimate given directly: the simulated game's), a MarketSettled (the one settlement type).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable

from loguru import logger

from adapters.engine import fail_safe
from actors.clock import VirtualClock
from actors.scheduler import VirtualScheduler
from actors.system import System
from models.game import GameState, GameStatus
from models.market import Quote
from models.events import MarketSettled, ModelProbabilityUpdated
from models.signal import TradingSignal


@dataclass(frozen=True, slots=True)
class MarketLink:
    """A market of a game: its ticker and whether YES means the home team wins."""
    ticker: str
    yes_is_home: bool


class VirtualSession:
    def __init__(self, system: System, venue: Any, scheduler: VirtualScheduler, clock: VirtualClock, *,
                 links: dict[str, list[MarketLink]] | None = None, model: Any = None) -> None:
        self.system = system
        self.venue = venue
        self.scheduler = scheduler
        self.clock = clock
        self.links = links or {}
        self.model = model
        self.events = 0
        self.first_ts: datetime | None = None
        self.last_ts: datetime | None = None
        self.interrupted = False

    def link(self, game_id: str, link: MarketLink) -> None:
        existing = self.links.setdefault(game_id, [])
        if link not in existing:
            existing.append(link)

    def run(self, events: Iterable[tuple[datetime, Any]], *, tail: timedelta = timedelta(minutes=15),
            stop: Callable[[], bool] | None = None) -> None:
        """Feed `events` in time order, then run on for `tail`. When `stop()` turns true (Ctrl-C)
        no further event is taken and the tail is skipped: what is in flight at this instant is
        finished (every actor goes idle) and `interrupted` is set."""
        for ts, payload in events:
            if stop is not None and stop():
                self.interrupted = True
                self.scheduler.run_until(self.clock.now())
                return
            if self.first_ts is None:
                self.first_ts = ts
            self.last_ts = ts
            self.scheduler.run_until(ts)
            fail_safe.check(self.system)       # the Watchdog failed the engine safe: stop driving it
            self.apply(ts, payload)
            self.events += 1
        if stop is not None and stop():
            self.interrupted = True
            self.scheduler.run_until(self.clock.now())
            return
        self.scheduler.run_until(self.clock.now() + tail)
        fail_safe.check(self.system)

    def apply(self, ts: datetime, payload: Any) -> None:
        if isinstance(payload, Quote):
            self.venue.set_quote(payload)
            self.system.push_quote(payload)
        elif hasattr(payload, "yes_bids") and hasattr(payload, "to_quote"):      # a full book
            self.venue.set_book(payload.ticker, payload.yes_bids, payload.yes_asks, volume=payload.volume,
                                close_time=payload.close_time, last=payload.last)
            self.system.push_quote(payload.to_quote(ts))
        elif isinstance(payload, TradingSignal):
            self.system.push_signal(payload)
        elif isinstance(payload, GameState):
            self._game(payload)
        elif isinstance(payload, ModelProbabilityUpdated):
            self.system.push_model_probability(payload)
        elif isinstance(payload, MarketSettled):
            self.venue.settle(payload.ticker, payload.result)
            self.system.settle(payload)
        else:
            logger.warning("session: ignored an event of type {}", type(payload).__name__)

    def _game(self, state: GameState) -> None:
        if self.model is None or state.status is not GameStatus.IN_PROGRESS:
            return
        links = self.links.get(state.game_id)
        if not links:
            return
        try:
            home = Decimal(str(round(self.model(state), 4)))
        except (ValueError, TypeError, ArithmeticError) as exc:
            logger.warning("session: no model probability for {}: {}", state.game_id, exc)
            return
        for link in links:
            yes = home if link.yes_is_home else 1 - home
            self.system.push_model_probability(ModelProbabilityUpdated(link.ticker, yes, state.ts))
