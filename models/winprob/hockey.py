"""Ice hockey (NHL) win probability: independent Poisson goal processes.

Goals in hockey arrive close to a Poisson process (Mullet 1977, "Simeon Poisson and the National
Hockey League", The American Statistician 31(1):8-12; Thomas 2007, "Inter-arrival times of
goals in ice hockey", Journal of Quantitative Analysis in Sports 3(3)). So with a fraction r of
regulation left, home and away add H ~ Poisson(lam_h*r) and A ~ Poisson(lam_a*r) goals and

    P(home wins) = P(lead + H - A > 0) + P(lead + H - A = 0) * p_ot.

- lam_h + lam_a = `goals_per_game` (about 6.1 goals per 60 minutes in recent NHL seasons, an
  approximate league average) and lam_h - lam_a = the spread: the expected goal margin, home
  favoured positive (not the +/-1.5 puck line). With no spread `default_home_edge` (0.2 goals,
  roughly the NHL's ~54% home win rate) is used; spread 0 is neutral.
- Overtime is sudden death: the next goal wins, so the home share is lam_h / (lam_h + lam_a).
  Regular-season overtime lasts 5 minutes of 3-on-3 (`ot_rate_multiplier` x the usual goal rate)
  and then a shootout taken as 50/50; playoff overtime (20-minute periods, or a second
  overtime) is played until a goal.
- Pulling the goalie: in the last `pull_goalie_secs` of regulation a team trailing by one or two
  goals scores at `pulled_goalie_multiplier` x its rate (a rough value: an extra attacker ties the
  game some 15% of the time in the final minute). Empty-net goals against it do not change the
  winner and are left out; penalties are not modelled.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from models.winprob.common import clamp01, poisson_pmf_table


@dataclass(frozen=True, slots=True)
class HockeyParams:
    game_secs: float = 3600.0
    period_secs: float = 1200.0
    regulation_periods: int = 3
    regular_ot_secs: float = 300.0
    goals_per_game: float = 6.1
    default_home_edge: float = 0.2
    ot_rate_multiplier: float = 1.6
    min_rate: float = 0.2          # goals per game, floor for a heavy underdog
    pull_goalie_secs: float = 120.0
    pulled_goalie_multiplier: float = 3.0


NHL = HockeyParams()


def rates(spread: float | None, params: HockeyParams) -> tuple[float, float]:
    """(home, away) goals per 60 minutes."""
    edge = params.default_home_edge if spread is None else float(spread)
    lam_h = max(params.min_rate, (params.goals_per_game + edge) / 2.0)
    lam_a = max(params.min_rate, (params.goals_per_game - edge) / 2.0)
    return lam_h, lam_a


def overtime_home_share(lam_h: float, lam_a: float, ot_secs_left: float | None,
                        playoff: bool, params: HockeyParams) -> float:
    """P(home wins from a tie in overtime) with `ot_secs_left` of the overtime period to play."""
    share = lam_h / (lam_h + lam_a)
    if playoff:
        return share
    secs = params.regular_ot_secs if ot_secs_left is None else min(ot_secs_left, params.regular_ot_secs)
    rate = (lam_h + lam_a) * params.ot_rate_multiplier / params.game_secs
    p_goal = 1.0 - math.exp(-rate * max(0.0, secs))
    return p_goal * share + (1.0 - p_goal) * 0.5


def _pulled_goalie_extra(secs_left: float, params: HockeyParams) -> float:
    """Extra game-fractions of scoring for a trailing team that will pull its goalie: the
    window's rate boost, faded out linearly before the window opens. The fade is slow enough
    (over 2 x (multiplier - 1) x window seconds) that the trailing team's expected goals still
    fall as the clock runs, so the leader's probability rises monotonically."""
    w = params.pull_goalie_secs
    boost = (params.pulled_goalie_multiplier - 1.0) * min(secs_left, w)
    if secs_left <= w:
        return boost / params.game_secs
    fade = 2.0 * (params.pulled_goalie_multiplier - 1.0) * w
    weight = max(0.0, 1.0 - (secs_left - w) / fade)
    return boost * weight / params.game_secs


def win_probability(lead: int, period: int, clock_secs: float | None, params: HockeyParams = NHL,
                    *, spread: float | None = None) -> float:
    """P(home wins). `period` 1-3 regulation, 4+ overtime; `clock_secs` left in the period."""
    lam_h, lam_a = rates(spread, params)
    if period > params.regulation_periods:
        if lead != 0:          # sudden death: a lead in overtime means the game is over
            return 1.0 if lead > 0 else 0.0
        playoff = period > params.regulation_periods + 1 or (
            clock_secs is not None and clock_secs > params.regular_ot_secs)
        return clamp01(overtime_home_share(lam_h, lam_a, clock_secs, playoff, params))
    if period <= 0:
        secs_left = params.game_secs
    else:
        clock = params.period_secs if clock_secs is None else min(float(clock_secs), params.period_secs)
        secs_left = (params.regulation_periods - period) * params.period_secs + max(0.0, clock)
    r = secs_left / params.game_secs
    p_ot = overtime_home_share(lam_h, lam_a, None, False, params)
    mean_h, mean_a = lam_h * r, lam_a * r
    if 1 <= abs(lead) <= 2:
        extra = _pulled_goalie_extra(secs_left, params)
        if lead > 0:
            mean_a += lam_a * extra
        else:
            mean_h += lam_h * extra
    max_k = 25
    home = poisson_pmf_table(mean_h, max_k)
    away = poisson_pmf_table(mean_a, max_k)
    win = tie = 0.0
    for h, ph in enumerate(home):
        if ph == 0.0:
            continue
        for a, pa in enumerate(away):
            margin = lead + h - a
            if margin > 0:
                win += ph * pa
            elif margin == 0:
                tie += ph * pa
    return clamp01(win + tie * p_ot)
