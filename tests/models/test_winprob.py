"""Sanity of the per-sport win-probability models and of the dispatcher (models/winprob)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from models.game import GameState, GameStatus
from models.winprob import (
    NoWinProbability, home_win_probability, result_probabilities, sport_key,
)
from models.winprob import baseball, basketball, hockey, soccer, tennis

TS = datetime(2025, 1, 1, tzinfo=timezone.utc)
ZERO = Decimal(0)

# sport -> (period and clock at the start, a late period and clock, one score unit)
TIMED = {
    "nfl": ((1, 900), (4, 30), 3),
    "ncaaf": ((1, 900), (4, 30), 3),
    "nba": ((1, 720), (4, 20), 2),
    "wnba": ((1, 600), (4, 20), 2),
    "ncaab": ((1, 1200), (2, 20), 2),
    "nhl": ((1, 1200), (3, 20), 1),
    "soccer": ((1, 2700), (2, 20), 1),
}
ALL_SPORTS = ("nfl", "ncaaf", "nba", "wnba", "ncaab", "nhl", "mlb", "soccer", "tennis")


def live(sport: str, home: int = 0, away: int = 0, period: int = 1, clock: float | None = None,
         **kw) -> GameState:
    return GameState(game_id="g", sport=sport, ts=TS, status=kw.pop("status", GameStatus.IN_PROGRESS),
                     home_score=home, away_score=away, period=period,
                     clock_secs=None if clock is None else Decimal(str(clock)), **kw)


def start(sport: str, **kw) -> GameState:
    if sport in TIMED:
        (period, clock), _, _ = TIMED[sport]
        return live(sport, period=period, clock=clock, **kw)
    return live(sport, period=1, **kw)


def p(state: GameState, **kw) -> float:
    return home_win_probability(state, **kw)


# --- properties every sport shares -------------------------------------------------------------

@pytest.mark.parametrize("sport", ALL_SPORTS)
def test_equal_teams_tied_at_the_start_with_spread_zero_are_even(sport):
    prob = result_probabilities(start(sport, home_spread=ZERO))
    assert prob.home == pytest.approx(prob.away, abs=1e-9)
    if sport != "soccer":
        assert prob.home == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("sport", ALL_SPORTS)
def test_a_scheduled_game_is_priced_like_the_start(sport):
    scheduled = GameState(game_id="g", sport=sport, ts=TS, status=GameStatus.SCHEDULED, home_spread=ZERO)
    assert p(scheduled) == pytest.approx(0.5 if sport != "soccer" else p(start("soccer", home_spread=ZERO)))


@pytest.mark.parametrize("sport", ALL_SPORTS)
def test_the_spread_favourite_is_above_half_at_the_start_and_the_underdog_below(sport):
    unit = Decimal("1.5") if sport in ("nhl", "mlb", "soccer") else Decimal(6)
    fav = result_probabilities(start(sport, home_spread=unit))
    dog = result_probabilities(start(sport, home_spread=-unit))
    assert fav.home > 0.5 if sport != "soccer" else fav.home > fav.away
    assert dog.home < 0.5 if sport != "soccer" else dog.home < dog.away
    assert fav.home > p(start(sport, home_spread=unit / 2))


@pytest.mark.parametrize("sport", [s for s in ALL_SPORTS if s != "tennis"])
def test_no_spread_means_the_leagues_home_edge(sport):
    neutral = result_probabilities(start(sport, home_spread=ZERO))
    default = result_probabilities(start(sport))
    assert default.home > neutral.home


@pytest.mark.parametrize("sport", list(TIMED))
def test_probability_is_in_unit_interval_and_monotone_in_the_lead(sport):
    (p0, c0), (p1, c1), unit = TIMED[sport]
    for period, clock in ((p0, c0), (p0, c0 / 2), (p1, c1 * 10), (p1, c1), (p1, 1)):
        leads = range(-4 * unit, 4 * unit + 1)
        probs = [p(live(sport, 50 + lead, 50, period, clock, home_spread=ZERO)) for lead in leads]
        assert all(0.0 <= x <= 1.0 for x in probs)
        assert all(a <= b for a, b in zip(probs, probs[1:])), (period, clock, probs)
        assert probs[-1] > probs[0]


@pytest.mark.parametrize("sport", list(TIMED))
def test_a_lead_becomes_certain_as_the_clock_runs_out(sport):
    (p0, c0), (p1, _), unit = TIMED[sport]
    clocks = [c0, c0 / 2, c0 / 4, 60, 10, 1, 0]
    # Soccer's clock stops at 90:00; the whistle comes after the stoppage time.
    added = Decimal(900) if sport == "soccer" else None
    leading = [p(live(sport, 10 + unit, 10, p1, c, home_spread=ZERO)) for c in clocks]
    trailing = [p(live(sport, 10, 10 + unit, p1, c, home_spread=ZERO)) for c in clocks]
    if added is not None:
        leading.append(p(live(sport, 10 + unit, 10, p1, 0, home_spread=ZERO, added_time_secs=added)))
        trailing.append(p(live(sport, 10, 10 + unit, p1, 0, home_spread=ZERO, added_time_secs=added)))
    assert all(a <= b + 1e-12 for a, b in zip(leading, leading[1:])), leading
    assert all(a >= b - 1e-12 for a, b in zip(trailing, trailing[1:])), trailing
    assert leading[-1] > 0.99 and trailing[-1] < 0.01


def test_baseball_lead_grows_more_certain_inning_by_inning():
    innings = [p(live("mlb", 3, 2, i, possession="away", home_spread=ZERO)) for i in range(1, 10)]
    assert all(a < b for a, b in zip(innings, innings[1:]))
    assert p(live("mlb", 3, 2, 9, possession="away", home_spread=ZERO), outs=2) > innings[-1] > 0.8
    assert p(live("mlb", 2, 3, 9, possession="home", home_spread=ZERO), outs=2) < 0.1


@pytest.mark.parametrize("sport", ALL_SPORTS)
def test_probability_is_monotone_in_the_spread(sport):
    spreads = [Decimal(x) for x in (-10, -3, -1, 0, 1, 3, 10)]
    if sport in ("nhl", "mlb", "soccer"):
        spreads = [s / 5 for s in spreads]
    probs = [p(start(sport, home_spread=s)) for s in spreads]
    assert all(a < b for a, b in zip(probs, probs[1:])), probs


# --- football --------------------------------------------------------------------------------

def test_football_possession_and_field_position_are_worth_something():
    base = live("nfl", 10, 10, 3, 600, home_spread=ZERO)
    no_ball = p(base)
    own_25 = p(replace(base, possession="home", down=1, distance=10, yards_to_endzone=75))
    opp_10 = p(replace(base, possession="home", down=1, distance=10, yards_to_endzone=10))
    away_ball = p(replace(base, possession="away", down=1, distance=10, yards_to_endzone=75))
    assert away_ball < no_ball < own_25 < opp_10


def test_football_fourth_and_long_is_worse_than_first_and_ten():
    base = live("nfl", 10, 10, 2, 300, home_spread=ZERO, possession="home", yards_to_endzone=50)
    first = p(replace(base, down=1, distance=10))
    third_long = p(replace(base, down=3, distance=15))
    fourth_long = p(replace(base, down=4, distance=15))
    assert first > third_long > fourth_long


def test_football_end_game_field_goal_range_trailing_by_three_is_near_a_coin_flip():
    # Down 3, ball at the opponent's 20 with 10 seconds: a field goal ties, so ~P(FG) * 0.5.
    state = live("nfl", 17, 20, 4, 10, home_spread=ZERO, possession="home", down=1, distance=10,
                 yards_to_endzone=20)
    assert 0.2 < p(state) < 0.6
    assert p(replace(state, clock_secs=ZERO)) == 0.0


def test_football_opponent_stalling_leaves_the_trailing_side_a_chance():
    # nflfastR's example: home down 3, away ball at midfield, 1:52 left (vegas_home_wp 0.1455).
    state = live("nfl", 14, 17, 4, 112, home_spread=Decimal(-4), possession="away", down=2,
                 distance=4, yards_to_endzone=54)
    assert 0.01 < p(state) < 0.3


def test_college_overtime_has_a_clock_of_its_own():
    tied_ot = live("ncaaf", 28, 28, 5, None, home_spread=ZERO)
    assert p(tied_ot) == pytest.approx(0.5)
    assert p(replace(tied_ot, home_score=35)) > 0.7


# --- basketball, hockey, baseball, soccer ----------------------------------------------------

def test_basketball_follows_sterns_formula():
    # Phi((lead + mu*r) / (sigma*sqrt(r))) with r = 1/2, lead 5, spread 4, no possession.
    from models.winprob.common import normal_cdf
    expected = normal_cdf((5 + 4 * 0.5) / (basketball.NBA.sigma * 0.5 ** 0.5))
    got = basketball.win_probability(5, 1440, basketball.NBA, spread=4)
    assert got == pytest.approx(expected, abs=1e-3)


def test_basketball_clock_under_a_minute_with_tenths_and_a_tied_overtime():
    assert p(live("nba", 100, 99, 4, "20.2", home_spread=ZERO, possession="home")) > 0.8
    tied_end = p(live("nba", 100, 100, 4, 0, home_spread=ZERO))
    assert tied_end == pytest.approx(0.5)
    assert p(live("nba", 100, 100, 5, 300, home_spread=Decimal(5))) > 0.5


def test_hockey_overtime_is_sudden_death():
    assert p(live("nhl", 3, 3, 4, 1029, home_spread=ZERO)) == pytest.approx(0.5)
    assert p(live("nhl", 3, 3, 4, 1029, home_spread=Decimal("0.5"))) > 0.5
    assert hockey.win_probability(1, 4, 100) == 1.0


def test_baseball_bottom_of_the_ninth_with_the_lead_is_over():
    assert baseball.win_probability(1, 9, "bottom", 0) == 1.0
    assert baseball.win_probability(0, 10, "top", 0, spread=0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="outs"):
        baseball.win_probability(0, 3, "top", 4)


def test_soccer_three_way_sums_to_one_and_a_late_lead_is_nearly_won():
    for minute_left in (90, 45, 10, 1):
        tw = result_probabilities(live("soccer", 1, 0, 2, min(2700, minute_left * 60), home_spread=ZERO))
        assert tw.home + tw.draw + tw.away == pytest.approx(1.0)
    late = result_probabilities(live("soccer", 1, 0, 2, 0, home_spread=ZERO, added_time_secs=Decimal(300)))
    assert late.home > 0.95
    tied_late = result_probabilities(live("soccer", 1, 1, 2, 60, home_spread=ZERO))
    assert tied_late.draw > 0.8


def test_soccer_remaining_time_counts_stoppage():
    first_half = soccer.remaining_secs(1, 2700, None)
    assert first_half == 2 * 2700 + sum(soccer.SOCCER.stoppage_secs)
    assert soccer.remaining_secs(2, 0, Decimal(600)) == soccer.SOCCER.min_stoppage_left_secs


# --- tennis -----------------------------------------------------------------------------------

def test_tennis_best_of_five_amplifies_the_better_players_edge():
    for share in (0.51, 0.53, 0.56):
        a, b = tennis.serve_probabilities(share)
        bo3 = tennis.match_win_probability(a, b, 3)
        bo5 = tennis.match_win_probability(a, b, 5)
        assert 0.5 < bo3 < bo5 < 1.0
    a, b = tennis.serve_probabilities(0.47)
    assert tennis.match_win_probability(a, b, 5) < tennis.match_win_probability(a, b, 3) < 0.5


def test_tennis_game_formula_and_symmetry():
    assert tennis.game_win(0.5) == pytest.approx(0.5)
    # Closed form: p^4 (1 + 4q + 10q^2) + 20 p^3 q^3 * p^2 / (1 - 2pq).
    pp, q = 0.64, 0.36
    closed = pp ** 4 * (1 + 4 * q + 10 * q * q) + 20 * pp ** 3 * q ** 3 * pp * pp / (1 - 2 * pp * q)
    assert tennis.game_win(pp) == pytest.approx(closed)
    a, b = tennis.serve_probabilities(0.5)
    assert tennis.match_win_probability(a, b, 3) == pytest.approx(0.5)


def test_tennis_score_moves_the_probability():
    a, b = tennis.serve_probabilities(0.5)
    up_a_set = tennis.match_win_probability(a, b, 3, tennis.TennisScore(sets=(1, 0)))
    up_a_break = tennis.match_win_probability(a, b, 3, tennis.TennisScore((1, 0), (3, 1), (0, 0), False))
    match_point = tennis.match_win_probability(a, b, 3, tennis.TennisScore((1, 0), (5, 3), (3, 0), True))
    assert 0.5 < up_a_set < up_a_break < match_point < 1.0
    assert tennis.match_win_probability(a, b, 3, tennis.TennisScore(sets=(2, 1))) == 1.0
    in_tiebreak = tennis.match_win_probability(a, b, 3, tennis.TennisScore((0, 0), (6, 6), (6, 0), True))
    assert in_tiebreak > 0.6


def test_tennis_game_spread_inverts_to_the_point_share():
    share = tennis.p_from_game_spread(3.0, 3)
    assert tennis.expected_game_margin(share, 3) == pytest.approx(3.0, abs=1e-3)
    assert 0.5 < share < 0.6
    assert tennis.p_from_game_spread(0.0, 5) == pytest.approx(0.5, abs=1e-6)


def test_tennis_dispatch_uses_sets_and_best_of():
    two_sets_up = live("tennis", 2, 0, 3, home_spread=ZERO)
    assert p(two_sets_up, best_of=3) == 1.0
    assert 0.5 < p(two_sets_up, best_of=5) < 1.0
    with pytest.raises(ValueError, match="best_of"):
        p(live("tennis", 0, 0, 1), best_of=4)


# --- the dispatcher ----------------------------------------------------------------------------

def test_finished_games_are_certain_and_ties_count_half():
    final = GameStatus.FINAL
    assert p(live("nba", 101, 99, 4, 0, status=final)) == 1.0
    assert p(live("nfl", 17, 20, 4, 0, status=final)) == 0.0
    assert p(live("nfl", 20, 20, 5, 0, status=final)) == 0.5
    draw = result_probabilities(live("soccer", 1, 1, 2, 0, status=final))
    assert (draw.home, draw.draw, draw.away) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize("status", [GameStatus.POSTPONED, GameStatus.CANCELED, GameStatus.WALKOVER,
                                    GameStatus.RETIRED, GameStatus.UNKNOWN])
def test_games_that_are_off_have_no_probability(status):
    with pytest.raises(NoWinProbability, match=status.value):
        p(live("nba", 50, 40, 3, 100, status=status))


def test_a_timed_game_in_progress_needs_its_clock_but_a_break_does_not():
    with pytest.raises(NoWinProbability, match="clock unknown"):
        p(live("nba", 50, 40, 3, None))
    halftime = p(live("nfl", 14, 7, 2, None, status=GameStatus.HALFTIME, home_spread=ZERO))
    assert halftime == pytest.approx(p(live("nfl", 14, 7, 3, 900, home_spread=ZERO)))


def test_sport_keys_and_espn_slugs_are_accepted():
    assert sport_key("NFL") == "nfl"
    assert sport_key("college-football") == "ncaaf"
    assert sport_key("mens-college-basketball") == "ncaab"
    assert sport_key("eng.1") == "soccer"
    with pytest.raises(ValueError, match="unknown sport 'cricket'"):
        sport_key("cricket")

