"""American football (NFL and college) win probability: two drives, then a Brownian margin.

Model
-----
The final home margin is the current lead, plus the points of the drive in progress, plus the
points of the other team's next drive, plus a Brownian remainder (Stern 1991 for the margin;
the same idea as Stern 1994 for basketball):

    P(home wins) = sum over outcomes j of drive 1 and k of drive 2 of
                   p_j * q_k * Phi((lead + s*pts_j - s*pts_k + s*b + shift) / sd_rest)

- s = +1 when home has the ball, -1 for away. With no possession (unknown, or down 0: kickoffs
  and tries) there are no drive terms: Phi((lead + shift) / sd).
- Drive outcomes: touchdown (6.95 points: the extra point at 95%), field goal (3), no score.
  Their probabilities come from the yards to the end zone (interpolated in `DRIVE_TABLE`,
  approximate NFL rates for a first-and-10 by field position), scaled by `drive_scale`,
  adjusted for down and distance (`_down_factor`; on 4th down a kick inside `fg_range_yards`,
  otherwise a punt) and shrunk when the clock is too short to cover the ground (`_time_factor`,
  about `hurry_secs_per_yard` seconds per yard). A scoring drive uses ~2 s per yard of clock, a
  failed one `failed_drive_secs`. The second drive is the other team's, from
  `next_drive_yards` out, with whatever time the first left. Two explicit drives are what make
  the end game right: down 3 with the opponent's ball and 1:52 left, the trailing side still
  gets a chance if the opponent's drive stalls.
- b: after those two drives the first team has the ball again, worth about half a possession
  (`next_possession_points`), fading out when less than two minutes would remain.
- shift = spread * secs_left / T: the pre-game spread (positive = home favoured; it already
  holds the home-field edge) accrues evenly over the time left; the drive rates are league
  averages. With no spread the league's `default_home_edge` is used; spread 0 is a neutral
  pick'em, where equal teams tied at the start with no possession give exactly 0.5.
- sd_rest = sqrt(sigma^2 * t_rest / T + floor^2). Stern (1991), "On the probability of winning
  a football game", The American Statistician 45(3):179-183, found NFL margins about the spread
  roughly normal with a standard deviation of ~13.9 points: the NFL uses sigma = 13.86.

Parameters
----------
NFL: sigma from Stern; the drive table from public drive-outcome rates; checked against
nflfastR's vegas_wp snapshot (../shared/data/nflfastR): 1st and 10 at its own 25 at the start,
the team with the ball favoured by 1/3/4/7/14 points gets 0.543/0.598/0.626/0.703/0.849 here
against nflfastR's 0.515/0.596/0.638/0.737/0.866.
College: sigma 15.0, drive_scale 1.1, next_possession_points 0.5 were chosen by
`python -m tests.bench_fit_football`, a grid search minimising the Brier score on ESPN's
2019-2020 college-football plays (even game ids; held out: odd ids, Brier 0.1097 against
ESPN's own 0.1063). The Brier surface is flat near the optimum (differences < 0.0001).
Overtime: the NFL's 10-minute period is timed like the rest of the game; college overtime is
untimed, so each overtime period is given `untimed_ot_secs` of equivalent time.
"""
from __future__ import annotations

from dataclasses import dataclass

from models.winprob.common import clamp01, normal_cdf

# yards to end zone -> (P(touchdown), P(field goal)) for a drive at first and 10 (NFL-like rates).
DRIVE_TABLE: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.80, 0.14),
    (5.0, 0.70, 0.22),
    (10.0, 0.62, 0.28),
    (20.0, 0.53, 0.33),
    (30.0, 0.45, 0.33),
    (50.0, 0.33, 0.22),
    (75.0, 0.21, 0.13),
    (80.0, 0.19, 0.12),
    (99.0, 0.12, 0.07),
)

TD_POINTS = 6.95   # 6 + a 95% extra point
FG_POINTS = 3.0


@dataclass(frozen=True, slots=True)
class FootballParams:
    game_secs: float
    period_secs: float
    regulation_periods: int
    ot_period_secs: float            # 0 = untimed overtime (college)
    untimed_ot_secs: float           # equivalent time given to an untimed overtime period
    sigma: float                     # sd of the final margin about the spread, points per game
    default_home_edge: float         # points, used only when no spread is known
    drive_scale: float
    next_possession_points: float
    hurry_secs_per_yard: float = 1.2
    failed_drive_secs: float = 75.0
    next_drive_yards: float = 75.0
    fg_range_yards: float = 37.0
    sd_floor: float = 0.3


NFL = FootballParams(
    game_secs=3600.0, period_secs=900.0, regulation_periods=4, ot_period_secs=600.0,
    untimed_ot_secs=0.0, sigma=13.86, default_home_edge=1.5, drive_scale=1.0,
    next_possession_points=0.5,
)

# Fitted on ESPN college-football states 2019-2020 (tests/bench_fit_football.py).
COLLEGE = FootballParams(
    game_secs=3600.0, period_secs=900.0, regulation_periods=4, ot_period_secs=0.0,
    untimed_ot_secs=300.0, sigma=15.0, default_home_edge=2.5, drive_scale=1.1,
    next_possession_points=0.5,
)


def _interp(y: float, col: int) -> float:
    table = DRIVE_TABLE
    if y <= table[0][0]:
        return table[0][col]
    for lo, hi in zip(table, table[1:]):
        if y <= hi[0]:
            w = (y - lo[0]) / (hi[0] - lo[0])
            return lo[col] + w * (hi[col] - lo[col])
    return table[-1][col]


def _down_factor(down: int | None, distance: int | None) -> float:
    """How much a drive's scoring chances shrink on later downs and longer distances."""
    if down is None or down <= 1:
        return 1.0
    dist = 10.0 if distance is None else float(distance)
    if down == 2:
        f = 0.92 - 0.01 * (dist - 7.0)
    else:  # 3rd down (4th handled by the caller)
        f = 0.80 - 0.025 * (dist - 5.0)
    return min(1.1, max(0.3, f))


def _time_factor(yards: float, secs: float, hurry: float) -> float:
    """1 when there is time to cover `yards`; falls off as (secs / needed)**1.5 when there is not."""
    if yards <= 0:
        return 1.0
    need = hurry * yards + 5.0
    if secs >= need:
        return 1.0
    return max(0.0, secs / need) ** 1.5


def drive_outcomes(yards_to_endzone: float, down: int | None, distance: int | None,
                   secs_left: float, params: FootballParams) -> tuple[float, float]:
    """(P(touchdown), P(field goal)) for the drive in progress."""
    y = min(99.0, max(1.0, float(yards_to_endzone)))
    p_td = _interp(y, 1) * params.drive_scale
    p_fg = _interp(y, 2) * params.drive_scale
    if down == 4:
        short = distance is not None and distance <= 2
        if y <= params.fg_range_yards:
            p_td, p_fg = (0.35 if short and y <= 5 else 0.08), 0.78 - 0.006 * y
        else:
            p_td, p_fg = (0.12 if short else 0.03), 0.0
    else:
        f = _down_factor(down, distance)
        p_td, p_fg = p_td * f, p_fg * f
    p_td *= _time_factor(y, secs_left, params.hurry_secs_per_yard)
    p_fg *= _time_factor(max(0.0, y - (params.fg_range_yards - 2.0)), secs_left,
                         params.hurry_secs_per_yard)
    total = p_td + p_fg
    if total > 0.97:
        p_td, p_fg = p_td * 0.97 / total, p_fg * 0.97 / total
    return p_td, p_fg


def drive_secs(yards_to_endzone: float) -> float:
    """Time a scoring drive from here uses (about 2 seconds per yard, at least 30 s)."""
    return max(30.0, 2.0 * float(yards_to_endzone))


def _outcomes(yards: float, down: int | None, distance: int | None, secs_left: float,
              params: FootballParams) -> tuple[tuple[float, float, float], ...]:
    """(probability, points, seconds used) for touchdown, field goal and no score."""
    p_td, p_fg = drive_outcomes(yards, down, distance, secs_left, params)
    scoring = min(secs_left, drive_secs(yards))
    return ((p_td, TD_POINTS, scoring), (p_fg, FG_POINTS, scoring),
            (1.0 - p_td - p_fg, 0.0, min(secs_left, params.failed_drive_secs)))


def remaining_secs(period: int, clock_secs: float | None, params: FootballParams) -> float:
    """Game seconds left (regulation), or the time left in overtime."""
    clock = params.period_secs if clock_secs is None else max(0.0, float(clock_secs))
    if period <= 0:
        return params.game_secs
    if period <= params.regulation_periods:
        return (params.regulation_periods - period) * params.period_secs + min(clock, params.period_secs)
    if params.ot_period_secs > 0:
        return min(clock, params.ot_period_secs)
    return params.untimed_ot_secs


def win_probability(lead: float, secs_left: float, params: FootballParams, *,
                    spread: float | None = None, possession: int = 0,
                    yards_to_endzone: float | None = None, down: int | None = None,
                    distance: int | None = None) -> float:
    """P(home wins). `lead` = home - away points; `secs_left` of game time (see remaining_secs);
    `possession` +1 home, -1 away, 0 unknown; `spread` in points, positive = home favoured."""
    edge = params.default_home_edge if spread is None else float(spread)
    T = params.game_secs
    if secs_left <= 0:
        if lead > 0:
            return 1.0
        if lead < 0:
            return 0.0
        return 0.5
    if possession == 0 or down == 0:
        mu = lead + edge * secs_left / T
        sd = (params.sigma ** 2 * secs_left / T + params.sd_floor ** 2) ** 0.5
        return clamp01(normal_cdf(mu / sd))
    y = 75.0 if yards_to_endzone is None else float(yards_to_endzone)
    s = float(possession)
    shift = edge * secs_left / T
    p = 0.0
    for w1, pts1, used1 in _outcomes(y, down, distance, secs_left, params):
        t1 = secs_left - used1
        lead1 = lead + s * pts1
        for w2, pts2, used2 in _outcomes(params.next_drive_yards, None, None, t1, params):
            t2 = max(0.0, t1 - used2)
            b = params.next_possession_points * min(1.0, t2 / 120.0)
            sd = (params.sigma ** 2 * t2 / T + params.sd_floor ** 2) ** 0.5
            p += w1 * w2 * normal_cdf((lead1 - s * pts2 + s * b + shift) / sd)
    return clamp01(p)
