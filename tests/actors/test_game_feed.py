"""GameFeed on virtual time: polling through its own RateLimiter, game state -> model probability
for the positions of the game's markets, and the built-in edge detector's signals.

The game source is a fake with ESPN's synchronous interface (fetch_summary(league, event_id) ->
GameState) that stamps every answer with the time it was asked, as ESPN's client does. The
supervisor, price cache and entry manager are recording actors, except in the last test, which
runs the feed beside a whole paper engine.
"""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pykka
import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.game_feed import GameFeed
from models.commands import WatchGame
from actors.rate_limiter import RateLimiter
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from adapters.espn.client import EspnClient
from adapters.espn.source import EspnSource
from models.venue import MalformedPayload, VenueUnavailable
from models.game import GameState, GameStatus
from models.market import Quote, Side
from models.commands import ForwardToMarket, GetQuote, VenueCall
from models.events import ModelProbabilityUpdated, QuoteUpdated, SignalReceived, VenueResult

T0 = datetime(2026, 1, 11, 19, 0, tzinfo=timezone.utc)
GAME = "401810123"
HOME = "KXNBAGAME-26JAN11LALBOS-BOS"      # YES = Boston (home) wins
AWAY = "KXNBAGAME-26JAN11LALBOS-LAL"      # YES = the Lakers (away) win
OTHER = "KXNBAGAME-26JAN11LALBOS-TIE"     # names neither team: not this feed's business
D = Decimal


def by_lead(state: GameState) -> float:
    """A fake model: 0.5 plus 5 points per point of home lead."""
    return 0.5 + 0.05 * (state.home_score - state.away_score)


class ScriptedGames:
    """The game source: answers from `states`, stamped with the time of asking (like ESPN);
    `fail` makes the next calls raise as an unreachable ESPN would."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.states: dict[str, GameState] = {}
        self.calls: list[tuple[datetime, str, str]] = []
        self.fail = 0

    def set(self, **changes: Any) -> None:
        base = self.states.get(GAME) or GameState(GAME, "nba", T0, GameStatus.IN_PROGRESS, home_team="BOS",
                                                  away_team="LAL", period=2, clock_secs=D("600"))
        self.states[GAME] = dataclasses.replace(base, **changes)

    def fetch_summary(self, league: str, event_id: str) -> GameState:
        self.calls.append((self.clock.now(), league, event_id))
        if self.fail:
            self.fail -= 1
            raise VenueUnavailable("espn: GET summary: HTTP 503")
        return dataclasses.replace(self.states[event_id], ts=self.clock.now())


class Inbox(ArbeesActor):
    """Records what it is sent; as a price cache it answers GetQuote from `quotes`."""

    kind = "inbox"

    def __init__(self, rt: Runtime, name: str, received: list, quotes: dict[str, Quote] | None = None) -> None:
        super().__init__(rt, name)
        self.received = received
        self.quotes = quotes

    def handle(self, message: Any) -> None:
        self.received.append(message)
        if isinstance(message, GetQuote) and self.quotes is not None:
            self.send(message.reply_to, QuoteUpdated(message.ticker, self.quotes.get(message.ticker),
                                                     message.request_id))


@dataclasses.dataclass
class Feed:
    rt: Runtime
    clock: VirtualClock
    scheduler: VirtualScheduler
    games: ScriptedGames
    feed: Any
    gateway: Any
    to_positions: list
    to_cache: list
    to_entries: list
    quotes: dict[str, Quote]

    def run(self, seconds: float = 0) -> None:
        self.scheduler.run_for(timedelta(seconds=seconds))

    def watch(self, *tickers: str) -> None:
        self.rt.send(self.feed, WatchGame(GAME, "nba", tickers))
        self.run(0)

    def probabilities(self) -> list[tuple[str, Decimal]]:
        out = []
        for m in list(self.to_positions):
            assert isinstance(m, ForwardToMarket) and isinstance(m.message, ModelProbabilityUpdated)
            assert m.ticker == m.message.ticker
            out.append((m.ticker, m.message.yes_probability))
        return out

    def signals(self):  # type: ignore[no-untyped-def]
        assert all(isinstance(m, SignalReceived) for m in self.to_entries)
        return [m.signal for m in list(self.to_entries)]

    def quote(self, ticker: str, bid: str, ask: str) -> None:
        self.quotes[ticker] = Quote(ticker, self.clock.now(), D(bid), D(ask), 100, 100, None, 1000, None)


@pytest.fixture
def make_feed():
    def make(*, calls_per_minute: int = 60, model=by_lead, **options: Any) -> Feed:  # type: ignore[no-untyped-def]
        clock = VirtualClock(T0)
        activity = ActivityTracker()
        scheduler = VirtualScheduler(clock, activity, idle_timeout_s=10)
        rt = Runtime(clock, scheduler, activity, Audit(clock, []))
        games = ScriptedGames(clock)
        games.set()
        to_positions: list = []
        to_cache: list = []
        to_entries: list = []
        quotes: dict[str, Quote] = {}
        supervisor = Inbox.start(rt, "supervisor", to_positions)
        cache = Inbox.start(rt, "cache", to_cache, quotes)
        entries = Inbox.start(rt, "entries", to_entries)
        gateway = RateLimiter.start(rt, games, calls_per_minute, None)
        options.setdefault("poll_secs", 15.0)
        feed = GameFeed.start(rt, gateway, supervisor, cache, entries, model, **options)
        return Feed(rt, clock, scheduler, games, feed, gateway, to_positions, to_cache, to_entries, quotes)

    yield make
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


def test_a_watched_game_is_fetched_at_once_and_then_every_poll_interval(make_feed):
    f = make_feed(poll_secs=15)
    f.watch(HOME)
    assert f.games.calls == [(T0, "nba", GAME)]
    f.run(45)
    assert [t for t, _, _ in f.games.calls] == [T0, T0 + timedelta(seconds=15), T0 + timedelta(seconds=30),
                                                T0 + timedelta(seconds=45)]


def test_polls_go_through_the_rate_limiter_budget(make_feed):
    f = make_feed(poll_secs=5, calls_per_minute=3)
    f.watch(HOME)
    f.run(180)
    times = [t for t, _, _ in f.games.calls]
    # Three polls, then the budget is spent until the first call leaves the one-minute window.
    assert [int((t - T0).total_seconds()) for t in times] == [0, 5, 10, 60, 65, 70, 120, 125, 130, 180]
    assert [m for _, m in f.gateway.proxy().call_log.get(timeout=5)] == ["fetch_summary"] * len(times)


class HeldGateway(ArbeesActor):
    """A gateway that answers only when sent "release": a fetch waiting for budget."""

    kind = "held_gateway"

    def __init__(self, rt: Runtime, source: ScriptedGames, calls: list) -> None:
        super().__init__(rt, "held")
        self.source = source
        self.calls = calls
        self.held: list[VenueCall] = []

    def handle(self, message: Any) -> None:
        if isinstance(message, VenueCall):
            self.calls.append(message)
            self.held.append(message)
        elif message == "release":
            for call in self.held:
                self.send(call.reply_to, VenueResult(call.request_id, call.method,
                                                     value=self.source.fetch_summary(*call.args)))
            self.held.clear()


def test_a_game_is_not_asked_for_again_while_its_fetch_waits(make_feed):
    f = make_feed(poll_secs=15, auto_signals=False)
    calls: list = []
    held = HeldGateway.start(f.rt, f.games, calls)
    feed = GameFeed.start(f.rt, held, None, None, None, by_lead, poll_secs=15, auto_signals=False)
    f.rt.send(feed, WatchGame(GAME, "nba", (HOME,)))
    f.run(60)                                   # four rounds while the first fetch waits
    assert len(calls) == 1
    f.rt.send(held, "release")
    f.run(15)                                   # answered: the next round asks again
    assert len(calls) == 2 and calls[1].args == ("nba", GAME)


class CannedSession:
    """An aiohttp session stand-in for EspnClient: every GET times out, or answers `body`."""

    def __init__(self, body: Any = None, *, times_out: bool = False) -> None:
        self.body = body
        self.times_out = times_out

    def get(self, url: str, params: Any = None) -> "CannedSession":
        if self.times_out:
            raise asyncio.TimeoutError()
        return self

    async def __aenter__(self) -> "CannedSession":
        self.status = 200
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def json(self, content_type: Any = None) -> Any:
        return self.body

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("session, error", [
    (CannedSession(times_out=True), VenueUnavailable),
    (CannedSession({"header": 5}), MalformedPayload),
])
def test_espn_failures_reach_the_gateway_as_venue_errors(session, error):
    source = EspnSource(EspnClient(VirtualClock(T0), session_factory=lambda: session), timeout_secs=5)
    try:
        with pytest.raises(error, match="espn nba 401810123"):
            source.fetch_summary("nba", GAME)
        with pytest.raises(VenueUnavailable, match="unknown ESPN league"):
            source.fetch_summary("curling", GAME)
    finally:
        source.close()


def test_a_new_state_moves_the_model_probability_of_each_market_of_the_game(make_feed):
    f = make_feed(auto_signals=False)
    f.games.set(home_score=52, away_score=50)                 # home by 2: 0.60
    f.watch(HOME, AWAY, OTHER)
    assert f.probabilities() == [(HOME, D("0.6")), (AWAY, D("0.4"))]
    ts = [m.message.ts for m in f.to_positions]
    assert ts == [T0, T0]
    f.games.set(home_score=52, away_score=53)                 # away by 1: 0.45
    f.run(15)
    assert f.probabilities()[2:] == [(HOME, D("0.45")), (AWAY, D("0.55"))]
    assert f.to_cache == [] and f.to_entries == []            # auto signals off: no quotes asked for


def test_an_unchanged_state_sends_nothing_however_often_it_is_fetched(make_feed):
    f = make_feed(auto_signals=False)
    f.games.set(home_score=10, away_score=10)
    f.watch(HOME)
    f.run(60)
    assert len(f.games.calls) == 5                            # fetched 5 times, each stamped anew
    assert f.probabilities() == [(HOME, D("0.5"))]
    f.games.set(home_score=12)
    f.run(15)
    assert f.probabilities() == [(HOME, D("0.5")), (HOME, D("0.6"))]


def test_a_game_that_is_not_in_progress_moves_nothing(make_feed):
    f = make_feed()
    f.quote(HOME, "0.40", "0.42")
    f.games.set(status=GameStatus.HALFTIME, home_score=52, away_score=50)
    f.watch(HOME)
    f.run(15)
    assert f.probabilities() == [] and f.to_cache == [] and f.to_entries == []
    f.games.set(status=GameStatus.IN_PROGRESS, period=3)
    f.run(15)
    assert f.probabilities() == [(HOME, D("0.6"))] and len(f.signals()) == 1


def test_a_source_error_skips_one_round_and_polling_goes_on(make_feed):
    f = make_feed(auto_signals=False)
    f.games.fail = 1
    f.games.set(home_score=3, away_score=1)
    f.watch(HOME)
    assert f.probabilities() == []                          # the first fetch failed: nothing sent
    f.run(15)
    assert f.probabilities() == [(HOME, D("0.6"))]
    assert len(f.games.calls) == 2 and f.feed.is_alive() and f.gateway.is_alive()


def test_a_model_that_cannot_price_the_state_skips_it(make_feed):
    def fussy(state: GameState) -> float:
        if state.clock_secs is None:
            raise ValueError("clock unknown")
        return by_lead(state)

    f = make_feed(auto_signals=False, model=fussy)
    f.games.set(clock_secs=None)
    f.watch(HOME)
    assert f.probabilities() == [] and f.feed.is_alive()
    f.games.set(clock_secs=D("300"))
    f.run(15)
    assert f.probabilities() == [(HOME, D("0.5"))]


def test_an_edge_over_the_ask_becomes_one_signal_per_market_and_side(make_feed):
    f = make_feed(min_edge=D("0.05"), signal_cooldown_secs=300, platform="kalshi")
    f.quote(HOME, "0.47", "0.50")        # BOS yes: model 0.60 vs ask 0.50: edge 0.10
    f.quote(AWAY, "0.48", "0.52")        # LAL yes: model 0.40 vs ask 0.52; LAL no: 0.60 vs 0.52: edge 0.08
    f.games.set(home_score=52, away_score=50)
    f.watch(HOME, AWAY)
    assert {(m.ticker, m.request_id) for m in f.to_cache} == {(HOME, f"edge:{GAME}"), (AWAY, f"edge:{GAME}")}
    sigs = sorted(f.signals(), key=lambda s: s.ticker)
    assert [(s.ticker, s.side, s.win_probability, s.market_price, s.edge) for s in sigs] == [
        (HOME, Side.YES, D("0.6"), D("0.50"), D("0.10")),
        (AWAY, Side.NO, D("0.6"), D("0.52"), D("0.08")),
    ]
    s = sigs[0]
    assert (s.game_id, s.sport, s.platform, s.signal_type, s.ts, s.contracts) == (
        GAME, "nba", "kalshi", "model_edge", T0, None)
    assert len({x.signal_id for x in sigs}) == 2


def test_an_edge_below_the_minimum_sends_no_signal(make_feed):
    f = make_feed(min_edge=D("0.05"))
    f.quote(HOME, "0.54", "0.56")        # model 0.60 vs ask 0.56: edge 0.04; NO: 0.40 vs 0.46
    f.games.set(home_score=52, away_score=50)
    f.watch(HOME)
    assert f.to_cache and f.signals() == []


def test_a_lasting_edge_is_signalled_at_most_once_per_cooldown(make_feed):
    f = make_feed(min_edge=D("0.05"), signal_cooldown_secs=120, poll_secs=15)
    f.quote(HOME, "0.47", "0.50")
    for second in range(0, 241, 15):          # the state changes every poll; the edge stays
        f.games.set(home_score=52, away_score=50, clock_secs=D(600 - second))
        f.quote(HOME, "0.47", "0.50")
        if second == 0:
            f.watch(HOME)
        else:
            f.run(15)
    times = [s.ts for s in f.signals()]
    assert times == [T0, T0 + timedelta(seconds=120), T0 + timedelta(seconds=240)]
    assert len(f.probabilities()) == 17      # the positions still saw every new state


def test_the_feed_drives_a_paper_engine_from_signal_to_edge_exit(make_engine):
    h = make_engine()
    rt = h.system.rt
    games = ScriptedGames(h.clock)
    games.states[GAME] = GameState(GAME, "nba", h.now(), GameStatus.IN_PROGRESS, home_team="BOS", away_team="LAL",
                                   home_score=54, away_score=50, period=3, clock_secs=D("400"))
    gateway = RateLimiter.start(rt, games, 60, None)
    feed = GameFeed.start(rt, gateway, h.system.refs.supervisor, h.system.refs.price_cache,
                          h.system.refs.entry_manager, by_lead, poll_secs=15, min_edge=D("0.05"), platform="paper")
    h.market(HOME, "0.48", "0.50", push=True)             # the venue's book (polled from now on)
    rt.send(feed, WatchGame(GAME, "nba", (HOME,)))
    h.run(0)

    (opened,) = h.events("TRADE_EXECUTED")                  # model 0.70 vs ask 0.50: the engine bought
    assert opened["market"] == HOME and opened["side"] == "yes"
    pid = opened["position_id"]
    assert h.position(pid).model_probability == D("0.7")

    games.states[GAME] = dataclasses.replace(games.states[GAME], away_score=55, clock_secs=D("300"))
    h.run(15)                                               # the Lakers lead: model 0.45
    # The model moved while the position's quote was stale: it asks for a fresh one (the book's
    # bid 0.48) and finds its edge gone at once (0.45 < 0.48).
    assert len(games.calls) == 2
    (trigger,) = h.events("EXIT_TRIGGERED", position_id=pid)
    assert (trigger["condition"], trigger["priority"]) == ("edge_disappeared", "LOW")
    assert h.position(pid).model_probability == D("0.45")
    assert feed.is_alive()


def test_the_feed_follows_the_game_of_every_position_the_supervisor_starts(make_engine):
    from models.commands import FollowGames

    h = make_engine()
    rt = h.system.rt
    games = ScriptedGames(h.clock)
    games.states["401999"] = GameState("401999", "nba", h.now(), GameStatus.IN_PROGRESS, home_team="BOS",
                                       away_team="LAL", home_score=50, away_score=50, period=3,
                                       clock_secs=D("400"))
    gateway = RateLimiter.start(rt, games, 60, None)
    feed = GameFeed.start(rt, gateway, h.system.refs.supervisor, h.system.refs.price_cache,
                          h.system.refs.entry_manager, by_lead, poll_secs=15, auto_signals=False, platform="paper")
    h.market("KXNBAGAME-X-BOS", "0.49", "0.50", push=True)
    h.market("KXNBAGAME-X-LAL", "0.49", "0.50", push=True)
    h.enter("KXNBAGAME-X-BOS", game_id="401999", sport="nba", contracts=3)   # before the feed is known
    rt.send(h.system.refs.supervisor, FollowGames(feed))
    h.enter("KXNBAGAME-X-LAL", game_id="401999", sport="nba", contracts=3)   # after
    h.market("KXNBAGAME-Y-LAL", "0.49", "0.50", push=True)
    h.enter("KXNBAGAME-Y-LAL", "no", game_id=None, sport="nba", contracts=3)  # no game: not followed
    h.run(0)
    watched = feed.proxy().games.get(timeout=10)
    assert list(watched) == ["401999"]
    assert watched["401999"].league == "nba"
    assert set(watched["401999"].tickers) == {"KXNBAGAME-X-BOS", "KXNBAGAME-X-LAL"}
    assert games.calls and games.calls[0][1:] == ("nba", "401999")
