"""The simulated game: deterministic, ordered, sane books and signals, and a settlement that matches the score."""
from __future__ import annotations

import functools
import statistics
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from actors.clock import VirtualClock
from adapters.paper.venue import PaperVenue
from models.events import MarketSettled
from adapters.sim.game import BookUpdate, SimEvent, SimulatedGame, make_session, merge_events
from adapters.sim.sports import margin_win_probability
from models.game import GameState, GameStatus
from models.market import Side
from models.orders import Action, OrderRequest, OrderStatus, TimeInForce
from models.signal import TradingSignal

START = datetime(2025, 11, 22, 0, 0, tzinfo=timezone.utc)
SPORTS = ("nba", "nfl", "nhl")
SEEDS = range(10)


@functools.lru_cache(maxsize=None)
def events(sport: str, seed: int) -> tuple[SimEvent, ...]:
    return tuple(SimulatedGame(sport, seed, START, "BOS", "LAL").events())


def of_type(evs, kind):
    return [e.payload for e in evs if isinstance(e.payload, kind)]


def books_with_state(evs):
    """(book, latest game state) pairs, in order."""
    state, out = None, []
    for e in evs:
        if isinstance(e.payload, GameState):
            state = e.payload
        elif isinstance(e.payload, BookUpdate):
            out.append((e.ts, e.payload, state))
    return out


def regulation_secs_left(state: GameState) -> float:
    periods, period_secs = (3, 1200) if state.sport == "nhl" else (4, 720 if state.sport == "nba" else 900)
    if state.period > periods:
        return 0.0
    return (periods - state.period) * period_secs + float(state.clock_secs)


@pytest.mark.parametrize("sport", SPORTS)
def test_the_same_seed_gives_the_same_events_and_another_seed_does_not(sport):
    a = list(SimulatedGame(sport, 7, START, "BOS", "LAL").events())
    b = list(SimulatedGame(sport, 7, START, "BOS", "LAL").events())
    c = list(SimulatedGame(sport, 8, START, "BOS", "LAL").events())
    assert a == b
    assert a != c


@pytest.mark.parametrize("sport", SPORTS)
def test_events_are_in_time_order_and_the_game_lasts_two_to_three_hours(sport):
    spans = []
    for seed in SEEDS:
        evs = events(sport, seed)
        assert all(x.ts <= y.ts for x, y in zip(evs, evs[1:]))
        assert evs[0].ts == START and 500 < len(evs) < 5000
        final = [s for s in of_type(evs, GameState) if s.status is GameStatus.FINAL]
        assert len(final) == 1
        spans.append((final[0].ts - START) / timedelta(hours=1))
    assert 2.0 <= statistics.median(spans) <= 3.0
    assert max(spans) < 4.5


@pytest.mark.parametrize("sport", SPORTS)
def test_books_are_valid_ladders_inside_1_to_99_cents(sport):
    for seed in SEEDS:
        for _, book, _ in books_with_state(events(sport, seed)):
            bids, asks = [p for p, _ in book.yes_bids], [p for p, _ in book.yes_asks]
            assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
            assert len(set(bids)) == len(bids) and len(set(asks)) == len(asks)
            assert all(D("0.01") <= p <= D("0.99") and p == p.quantize(D("0.01")) for p in bids + asks)
            assert bids[0] < asks[0]
            assert 1 <= len(bids) <= 5 and 1 <= len(asks) <= 5
            assert all(isinstance(n, int) and n > 0 for _, n in book.yes_bids + book.yes_asks)


@pytest.mark.parametrize("sport", SPORTS)
def test_the_spread_is_one_cent_early_and_widens_to_3_to_5_cents_late_while_depth_thins(sport):
    for seed in SEEDS:
        early, late, early_size, late_size = [], [], [], []
        for _, book, state in books_with_state(events(sport, seed)):
            if state is None or state.status is not GameStatus.IN_PROGRESS:
                continue
            spread = book.yes_asks[0][0] - book.yes_bids[0][0]
            if state.period == 1:
                early.append(spread)
                early_size.append(book.yes_bids[0][1])
            elif regulation_secs_left(state) < 60:
                late.append(spread)
                late_size.append(book.yes_bids[0][1])
        assert set(early) == {D("0.01")}
        assert late and D("0.03") <= max(late) <= D("0.05")
        assert statistics.mean(late_size) < statistics.mean(early_size) / 2


@pytest.mark.parametrize("sport", SPORTS)
def test_volume_only_grows(sport):
    evs = events(sport, 3)
    books = of_type(evs, BookUpdate)
    assert all(a.volume <= b.volume for a, b in zip(books, books[1:]))
    assert books[-1].volume > books[0].volume


@pytest.mark.parametrize("sport", SPORTS)
def test_the_market_closes_shortly_after_the_final_whistle_and_before_settlement(sport):
    """As a Kalshi game market does (it closes early once the result is known): so the
    5-minute time_based_urgent rule is reached in the last minutes of every game."""
    for seed in SEEDS:
        game = SimulatedGame(sport, seed, START, "BOS", "LAL")
        books = of_type(list(game.events()), BookUpdate)
        assert len({b.close_time for b in books}) == 1 and books[0].close_time == game.close_time
        assert timedelta(seconds=30) <= game.close_time - game.final_time <= timedelta(minutes=3)
        assert game.close_time < game.settle_time


@pytest.mark.parametrize("sport", SPORTS)
def test_settlement_comes_last_and_matches_the_final_score(sport):
    for seed in SEEDS:
        evs = events(sport, seed)
        settled = evs[-1].payload
        assert isinstance(settled, MarketSettled) and settled.ticker == f"SIM-{sport.upper()}-LALATBOS"
        final = [s for s in of_type(evs, GameState) if s.status is GameStatus.FINAL][0]
        assert final.home_score != final.away_score
        assert settled.result is (Side.YES if final.home_score > final.away_score else Side.NO)
        assert of_type(evs, MarketSettled) == [settled]


def test_scores_are_plausible_for_each_sport():
    ranges = {"nba": (70, 180), "nfl": (0, 80), "nhl": (0, 15)}
    for sport, (lo, hi) in ranges.items():
        for seed in SEEDS:
            final = of_type(events(sport, seed), GameState)[-1]
            assert final.status is GameStatus.FINAL
            assert lo <= final.home_score <= hi and lo <= final.away_score <= hi


@pytest.mark.parametrize("sport", SPORTS)
def test_signals_follow_the_rules(sport):
    for seed in SEEDS:
        evs = events(sport, seed)
        state, book, last_ts = None, None, {}
        sigs = []
        for e in evs:
            p = e.payload
            if isinstance(p, GameState):
                state = p
            elif isinstance(p, BookUpdate):
                book = p
            elif isinstance(p, TradingSignal):
                sigs.append(p)
                assert state.status is GameStatus.IN_PROGRESS and p.ts == e.ts
                ask = book.yes_asks[0][0] if p.side is Side.YES else 1 - book.yes_bids[0][0]
                assert p.market_price == ask and p.edge > D("0.04")
                assert (p.sport, p.platform, p.ticker) == (sport, "paper", book.ticker)
                if p.side in last_ts:
                    assert p.ts - last_ts[p.side] >= timedelta(minutes=3)
                last_ts[p.side] = p.ts
        assert len({s.signal_id for s in sigs}) == len(sigs)
        assert [s.signal_type for s in sigs[:3]] == ["model_edge", "momentum", "default"][:len(sigs[:3])]


@pytest.mark.parametrize("sport", SPORTS)
def test_both_sides_are_signalled_across_ten_seeds(sport):
    sides = {s.side for seed in SEEDS for s in of_type(events(sport, seed), TradingSignal)}
    assert sides == {Side.YES, Side.NO}


def test_prices_swing_enough_for_stops_and_targets_to_fire():
    """Most NBA games move the mid 10c or more, and after a signal the held side's bid later
    reaches both -12% (a stop loss) and +20% (a profit target) for a good share of signals."""
    ranges, stop, target, n = [], 0, 0, 0
    for seed in SEEDS:
        pairs = books_with_state(events("nba", seed))
        mids = [(b.yes_bids[0][0] + b.yes_asks[0][0]) / 2 for _, b, s in pairs
                if s is not None and s.status is GameStatus.IN_PROGRESS]
        ranges.append(max(mids) - min(mids))
        for sig in of_type(events("nba", seed), TradingSignal):
            later = [b.yes_bids[0][0] if sig.side is Side.YES else 1 - b.yes_asks[0][0]
                     for ts, b, _ in pairs if ts > sig.ts]
            n += 1
            stop += any(bid <= sig.market_price * D("0.88") for bid in later)
            target += any(bid >= sig.market_price * D("1.20") for bid in later)
    assert sum(r >= D("0.10") for r in ranges) >= 8
    assert n > 50 and stop / n > 0.3 and target / n > 0.3


def test_a_game_replays_through_the_paper_venue_and_settles():
    """Every book is accepted by PaperVenue; buying 1 contract on each signal at its market
    price fills at once; settlement pays out by the final score."""
    game = SimulatedGame("nba", 1, START, "BOS", "LAL")
    clock = VirtualClock(START)
    venue = PaperVenue(clock)
    bought = {Side.YES: 0, Side.NO: 0}
    for e in game.events():
        clock.advance_to(e.ts)
        p = e.payload
        if isinstance(p, BookUpdate):
            venue.set_book(p.ticker, p.yes_bids, p.yes_asks, volume=p.volume, close_time=p.close_time, last=p.last)
        elif isinstance(p, TradingSignal):
            snap = venue.place_order(OrderRequest(p.signal_id, p.ticker, p.side, Action.BUY, 1,
                                                  p.market_price, TimeInForce.IOC))
            assert snap.status is OrderStatus.EXECUTED
            bought[p.side] += 1
        elif isinstance(p, MarketSettled):
            venue.settle(p.ticker, p.result)
    assert sum(bought.values()) > 0
    fills = venue.get_fills()
    cost = sum((f.price * f.count + f.fee for f in fills), D(0))
    assert venue.get_balance() == D("1000") - cost + bought[game.result]


def test_make_session_and_merge_events_interleave_games_in_time_order():
    games = make_session(5, START, sports=("nba", "nfl", "nhl"))
    assert [g.sport for g in games] == ["nba", "nfl", "nhl"]
    assert len({g.ticker for g in games}) == 3
    merged = list(merge_events(games))
    assert len(merged) == sum(len(list(g.events())) for g in games)
    assert all(a.ts <= b.ts for a, b in zip(merged, merged[1:]))
    assert merged == list(merge_events(make_session(5, START, sports=("nba", "nfl", "nhl"))))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="sport"):
        SimulatedGame("curling", 1, START, "A", "B")
    with pytest.raises(ValueError, match="timezone"):
        SimulatedGame("nba", 1, datetime(2025, 1, 1), "A", "B")


@pytest.mark.parametrize("lead, units, expected", [
    (0, 100, 0.5), (10, 0, 1.0), (-1, 0, 0.0), (0, 0, 0.5),
])
def test_the_closed_form_fair_value_at_its_corners(lead, units, expected):
    assert margin_win_probability(lead, units, 0.0, 1.4) == pytest.approx(expected, abs=1e-9)


def test_the_fair_value_grows_with_the_lead_and_shrinks_with_time_left():
    assert margin_win_probability(5, 100, 0, 1.4) > margin_win_probability(2, 100, 0, 1.4) > 0.5
    assert margin_win_probability(5, 20, 0, 1.4) > margin_win_probability(5, 100, 0, 1.4)
