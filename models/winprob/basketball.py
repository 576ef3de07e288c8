"""Basketball (NBA, WNBA, men's college) win probability: Stern's Brownian motion model.

Stern (1994), "A Brownian motion model for the progress of sports scores", Journal of the
American Statistical Association 89(427):1128-1134, models the home lead as Brownian motion
with drift mu (points per game) and variance sigma**2 per game. With a fraction r of the game
left and a lead l:

    P(home wins) = Phi((l + v*s + mu*r) / (sigma*sqrt(r)))

- mu: the pre-game spread (positive = home favoured, home edge included). With no spread the
  league's `default_home_edge` is used; spread 0 is a neutral pick'em.
- sigma: Stern estimated 15.8 points per 48 minutes (1991-92 NBA, about the home drift alone).
  Given a spread most of the between-team variance is explained, so we use the spread error of
  today's game: about 13.5 points (NBA), 11 (men's college), 11.5 (WNBA); approximate values,
  checked against ESPN's probabilities by `python -m tests.bench_calibration`.
- v*s: the team with the ball is worth about half a possession more over the rest of the game
  (strict alternation gives it one extra possession half the time; ~1.1 points per possession),
  `possession_points` per league, s = +1 home ball, -1 away ball, 0 unknown.
- Overtime: r is measured in game time; an overtime period has its own clock. A tie when the
  clock reaches zero goes to a fresh overtime, which the model prices at Phi(mu*r_ot/(sigma*sqrt(r_ot))).
A tiny floor on the standard deviation keeps the formula finite in the last tenth of a second.
"""
from __future__ import annotations

from dataclasses import dataclass

from models.winprob.common import clamp01, normal_cdf


@dataclass(frozen=True, slots=True)
class BasketballParams:
    game_secs: float
    regulation_periods: int
    period_secs: float
    ot_secs: float
    sigma: float                 # points per game
    default_home_edge: float     # points, used only when no spread is known
    possession_points: float
    sd_floor: float = 0.2


NBA = BasketballParams(game_secs=2880.0, regulation_periods=4, period_secs=720.0, ot_secs=300.0,
                       sigma=13.5, default_home_edge=2.5, possession_points=0.6)
WNBA = BasketballParams(game_secs=2400.0, regulation_periods=4, period_secs=600.0, ot_secs=300.0,
                        sigma=11.5, default_home_edge=2.0, possession_points=0.5)
MENS_COLLEGE = BasketballParams(game_secs=2400.0, regulation_periods=2, period_secs=1200.0,
                                ot_secs=300.0, sigma=11.0, default_home_edge=3.5,
                                possession_points=0.5)


def remaining_secs(period: int, clock_secs: float | None, params: BasketballParams) -> float:
    """Seconds left in regulation, or in the current overtime period."""
    if period <= 0:
        return params.game_secs
    if period <= params.regulation_periods:
        clock = params.period_secs if clock_secs is None else min(float(clock_secs), params.period_secs)
        return (params.regulation_periods - period) * params.period_secs + max(0.0, clock)
    clock = params.ot_secs if clock_secs is None else min(float(clock_secs), params.ot_secs)
    return max(0.0, clock)


def win_probability(lead: float, secs_left: float, params: BasketballParams, *,
                    spread: float | None = None, possession: int = 0) -> float:
    """P(home wins) with `lead` = home - away, `secs_left` from remaining_secs, possession +1/-1/0."""
    mu = params.default_home_edge if spread is None else float(spread)
    if secs_left <= 0:
        if lead != 0:
            return 1.0 if lead > 0 else 0.0
        r_ot = params.ot_secs / params.game_secs
        return clamp01(normal_cdf(mu * r_ot / (params.sigma * r_ot ** 0.5)))
    r = secs_left / params.game_secs
    v = params.possession_points * possession
    sd = (params.sigma ** 2 * r + params.sd_floor ** 2) ** 0.5
    return clamp01(normal_cdf((lead + v + mu * r) / sd))
