"""GameFeed: polls the games that positions depend on and turns game state into model edges.

For every watched game it asks its own gateway (a RateLimiter over ESPN, with its own budget,
so game polling never spends the venue's) for the game's state every `poll_secs`. A new state
becomes the model's home-win probability (models.winprob), sent to every position of the
game's markets (YES = the team the ticker names). With `auto_signals`, it also compares the
model with the market (a quote from the PriceCache) and, when a side's edge reaches
`min_edge`, sends a TradingSignal to the EntryManager (at most one per market and side per
`signal_cooldown_secs`; the EntryManager still applies every risk check).
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from loguru import logger

from actors.base import ArbeesActor
from models.game import GameState, GameStatus
from models.market import Side
from models.commands import CallKind, FollowGames, ForwardToMarket, GetQuote, Rebuild, VenueCall, WatchGame
from models.events import ModelProbabilityUpdated, QuoteUpdated, SignalReceived, VenueResult
from models.money import ONE
from models.signal import TradingSignal


@dataclass(frozen=True, slots=True)
class PollGames:
    generation: int


class GameFeed(ArbeesActor):
    """Follows the games positions depend on (see the module docstring).

    Receives: WatchGame (from the Supervisor), VenueResult (fetch_summary, from its own ESPN
    RateLimiter), QuoteUpdated (its edge look-ups), Rebuild, and its own timer PollGames.

    Sends: VenueCall (CallKind.READ) to its ESPN gateway; ModelProbabilityUpdated to the
    positions of a market (ForwardToMarket via the Supervisor); GetQuote to the PriceCache;
    SignalReceived to the EntryManager; FollowGames to a restarted Supervisor; WatchGame to
    itself (a second market of a followed game).

    Asks: nothing.
    """

    kind = "game_feed"
    survives_errors = True

    def __init__(self, rt, gateway, supervisor, price_cache, entry_manager, model: Callable[[GameState], float], *,
                 poll_secs: float = 15.0, auto_signals: bool = True, min_edge: Decimal = Decimal("0.05"),
                 signal_cooldown_secs: float = 300.0, platform: str = "kalshi", handle=None) -> None:
        super().__init__(rt, "games", supervisor, handle=handle)
        self.gateway = gateway
        self.price_cache = price_cache
        self.entry_manager = entry_manager
        self.model = model
        self.poll = timedelta(seconds=poll_secs)
        self.auto_signals = auto_signals
        self.min_edge = min_edge
        self.cooldown = timedelta(seconds=signal_cooldown_secs)
        self.platform = platform
        self.games: dict[str, WatchGame] = {}
        self.states: dict[str, GameState] = {}
        self.home_prob: dict[str, Decimal] = {}          # ticker -> model probability that YES wins
        self._last_signal: dict[tuple[str, Side], datetime] = {}
        self._ids = itertools.count(1)
        self._in_flight: set[str] = set()                # games with a fetch queued or under way
        self._gen = 0

    def on_start(self) -> None:
        self._arm()

    def _arm(self) -> None:
        self._gen += 1
        self.rt.scheduler.call_later(self.poll, self.actor_ref, PollGames(self._gen))

    def handle(self, message: Any) -> None:
        match message:
            case WatchGame():
                self.retain()       # kept in the handle's journal: a restarted feed follows it again
                known = self.games.get(message.game_id)
                if known is not None:     # another market of a game already followed
                    tickers = tuple(dict.fromkeys(known.tickers + message.tickers))
                    self.games[message.game_id] = WatchGame(known.game_id, known.league, tickers)
                    return
                self.games[message.game_id] = message
                self._fetch(message)
            case PollGames(generation=g) if g == self._gen:
                for game in self.games.values():
                    self._fetch(game)
                self._arm()
            case PollGames():
                pass
            case VenueResult(method="fetch_summary"):
                self._on_state(message)
            case QuoteUpdated():
                self._on_quote(message)
            case Rebuild():
                pass          # the Supervisor follows every position's game again (PeerRestarted)
            case _:
                self.unknown(message)

    def on_peer_restarted(self, name: str) -> None:
        if name == "supervisor":              # a new Supervisor must tell this feed of new positions
            self.send(self.supervisor, FollowGames(self.me))

    def _fetch(self, game: WatchGame) -> None:
        # One fetch per game at a time: when the budget is short, rounds are skipped rather than
        # queued without end behind the gateway.
        if game.game_id in self._in_flight:
            return
        self._in_flight.add(game.game_id)
        self.send(self.gateway, VenueCall(f"game:{game.game_id}:{next(self._ids)}", CallKind.READ, "fetch_summary",
                                          (game.league, game.game_id), self.me))

    def _on_state(self, r: VenueResult) -> None:
        game_id = r.request_id.split(":")[1]
        self._in_flight.discard(game_id)
        if not r.ok:
            logger.warning("game {}: no state this round ({})", game_id, type(r.error).__name__)
            return
        state: GameState = r.value
        before = self.states.get(game_id)
        if before is not None and dataclasses.replace(before, ts=state.ts) == state:
            return          # the same game state, only observed again (ESPN stamps each fetch)
        self.states[game_id] = state
        game = self.games.get(game_id)
        if game is None or state.status is not GameStatus.IN_PROGRESS:
            return
        try:
            home = Decimal(str(round(self.model(state), 4)))
        except (ValueError, TypeError, ArithmeticError) as exc:
            logger.warning("game {}: no model probability: {}", game_id, exc)
            return
        for ticker in game.tickers:
            team = ticker.rsplit("-", 1)[-1].upper()
            if team == state.home_team.upper():
                yes = home
            elif team == state.away_team.upper():
                yes = ONE - home
            else:
                continue
            self.home_prob[ticker] = yes
            self.send(self.supervisor, ForwardToMarket(ticker, ModelProbabilityUpdated(ticker, yes, state.ts)))
            if self.auto_signals:
                self.send(self.price_cache, GetQuote(ticker, self.me, f"edge:{game_id}"))

    def _on_quote(self, msg: QuoteUpdated) -> None:
        q = msg.quote
        yes = self.home_prob.get(msg.ticker)
        if q is None or yes is None or not msg.request_id.startswith("edge:"):
            return
        game_id = msg.request_id.split(":", 1)[1]
        state = self.states.get(game_id)
        now = self.rt.clock.now()
        for side, prob in ((Side.YES, yes), (Side.NO, ONE - yes)):
            ask = q.ask(side)
            if ask is None or prob - ask < self.min_edge:
                continue
            last = self._last_signal.get((msg.ticker, side))
            if last is not None and now - last < self.cooldown:
                continue
            self._last_signal[(msg.ticker, side)] = now
            sig = TradingSignal(
                signal_id=f"auto-{msg.ticker}-{side.value}-{int(now.timestamp())}", ts=now, game_id=game_id,
                sport=state.sport if state else "default", ticker=msg.ticker, platform=self.platform, side=side,
                signal_type="model_edge", win_probability=prob, market_price=ask, source="espn-model")
            self.send(self.entry_manager, SignalReceived(sig))


# Our sport keys (GameState.sport, TradingSignal.sport) -> ESPN league slugs.
LEAGUE_OF_SPORT = {"nfl": "nfl", "ncaaf": "college-football", "nba": "nba", "wnba": "wnba",
                   "ncaab": "mens-college-basketball", "nhl": "nhl", "mlb": "mlb"}


def watch_for_position(game_id: str | None, sport: str, ticker: str) -> WatchGame | None:
    """What to follow for a position: its game on ESPN, when the game and sport are known."""
    league = LEAGUE_OF_SPORT.get(sport.lower()) if sport else None
    if not game_id or league is None:
        return None
    return WatchGame(game_id, league, (ticker,))
