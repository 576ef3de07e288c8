"""Soccer win / draw / loss probabilities: independent Poisson goals for the time left.

Maher (1982), "Modelling association football scores", Statistica Neerlandica 36(3):109-118,
models each side's goals as independent Poisson counts; Dixon & Coles (1997), Applied
Statistics 46(2):265-280, add a small low-score correction that we leave out. In play, the goals
still to come in the remaining fraction r of the match are Poisson(lam * r) for each side, and

    P(home) = P(lead + H - A > 0),  P(draw) = P(lead + H - A = 0),  P(away) = the rest.

- lam_h + lam_a = `goals_per_match` (2.7, an approximate top-league average) and
  lam_h - lam_a = the spread: the expected goal difference, home favoured positive (e.g. from an
  Asian handicap line). With no spread `default_home_edge` (0.3 goals, roughly the home edge in
  Europe's top leagues) is used; spread 0 is neutral, where P(home) = P(away).
- Time: 45-minute halves plus expected stoppage time (`stoppage_secs` per half). `clock_secs` is
  what is left of the half; once the half is in stoppage time (`added_time_secs` played so far)
  we assume `min_stoppage_left_secs` remain until the whistle, at least.
- The result is the one markets settle on: after 90 minutes and stoppage time. In extra time
  (periods 3 and 4, 15 minutes each) it is the result after extra time; a draw then goes to
  penalties and stays a draw here.
- Not modelled: red cards, the rise in scoring late in matches, game state effects.
"""
from __future__ import annotations

from dataclasses import dataclass

from models.winprob.common import poisson_pmf_table


@dataclass(frozen=True, slots=True)
class SoccerParams:
    half_secs: float = 2700.0
    extra_half_secs: float = 900.0
    stoppage_secs: tuple[float, float] = (150.0, 360.0)
    min_stoppage_left_secs: float = 30.0
    goals_per_match: float = 2.7
    default_home_edge: float = 0.3
    min_rate: float = 0.05


SOCCER = SoccerParams()


@dataclass(frozen=True, slots=True)
class ThreeWay:
    """Probabilities of the three results; they sum to 1."""

    home: float
    draw: float
    away: float


def _stoppage_left(half: int, added_secs: float | None, clock_secs: float, params: SoccerParams) -> float:
    expected = params.stoppage_secs[0] if half == 1 else params.stoppage_secs[1]
    if clock_secs > 0 or not added_secs:
        return expected
    return max(params.min_stoppage_left_secs, expected - added_secs)


def remaining_secs(period: int, clock_secs: float | None, added_secs: float | None,
                   params: SoccerParams = SOCCER) -> float:
    """Seconds of play left (stoppage included) until the end of regulation, or of extra time."""
    added = None if added_secs is None else float(added_secs)
    full_half = params.half_secs
    s1, s2 = params.stoppage_secs
    if period <= 0:
        return 2 * full_half + s1 + s2
    if period <= 2:
        clock = full_half if clock_secs is None else min(max(0.0, float(clock_secs)), full_half)
        left = clock + _stoppage_left(period, added, clock, params)
        return left + (full_half + s2 if period == 1 else 0.0)
    clock = params.extra_half_secs if clock_secs is None else min(max(0.0, float(clock_secs)),
                                                                   params.extra_half_secs)
    return clock + (params.extra_half_secs if period == 3 else 0.0)


def result_probabilities(lead: int, secs_left: float, params: SoccerParams = SOCCER, *,
                         spread: float | None = None) -> ThreeWay:
    """Home win / draw / away win, `lead` = home - away goals, `secs_left` from remaining_secs."""
    edge = params.default_home_edge if spread is None else float(spread)
    lam_h = max(params.min_rate, (params.goals_per_match + edge) / 2.0)
    lam_a = max(params.min_rate, (params.goals_per_match - edge) / 2.0)
    match_secs = 2 * params.half_secs + sum(params.stoppage_secs)
    r = max(0.0, secs_left) / match_secs
    home = poisson_pmf_table(lam_h * r, 20)
    away = poisson_pmf_table(lam_a * r, 20)
    win = draw = 0.0
    for h, ph in enumerate(home):
        for a, pa in enumerate(away):
            margin = lead + h - a
            if margin > 0:
                win += ph * pa
            elif margin == 0:
                draw += ph * pa
    win, draw = min(1.0, win), min(1.0, draw)
    return ThreeWay(home=win, draw=draw, away=max(0.0, 1.0 - win - draw))
