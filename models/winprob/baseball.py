"""Baseball (MLB) win probability: runs per half-inning, convolved over the innings left.

The classic approach of Lindsey (1963), "An investigation of strategies in baseball",
Operations Research 11(4):477-501: take the distribution of runs a team scores in a half-inning,
treat half-innings as independent, and add up the ones each team has left. With H and A the
runs still to come,

    P(home wins) = P(lead + H - A > 0) + P(lead + H - A = 0) * p_extra.

- `RUNS_PER_HALF_INNING`: P(0), P(1), ... runs in a half-inning, approximate modern MLB values
  (about 0.51 runs per half-inning, 72-73% scoreless innings).
- The half-inning in progress: with `outs` known, its non-zero probabilities are scaled by the run
  expectancy left with that many outs and the bases empty (about 0.50, 0.27, 0.10 runs for 0, 1,
  2 outs; RE24 tables, e.g. Tango, Lichtman & Dolphin, "The Book", 2007). Runners on base are
  not modelled. Without outs the whole half-inning is assumed to be left.
- Team strength: the spread is the expected run margin over nine innings (positive = home
  favoured; not the +/-1.5 run line). Each team's scoring chances are scaled by
  1 +/- spread / (2 * 9 * mean runs per half-inning). With no spread `default_home_edge` runs are
  used (0.35, which puts the home side at 53.5%, near MLB's home win rate); spread 0 is neutral.
- Extra innings start each half with a runner on second (since 2020), `EXTRA_HALF_INNING`;
  p_extra = P(home outscores away in an inning | they differ), innings repeated until one does.
- The bottom of the 9th (or later) is not played with the home side ahead; a walk-off ends the
  game early but does not change who wins, so it needs no special case.
"""
from __future__ import annotations

from dataclasses import dataclass

from models.winprob.common import clamp01

RUNS_PER_HALF_INNING: tuple[float, ...] = (0.73, 0.14, 0.068, 0.033, 0.016, 0.007, 0.003, 0.002, 0.001)
EXTRA_HALF_INNING: tuple[float, ...] = (0.40, 0.30, 0.15, 0.08, 0.04, 0.02, 0.01)
RUN_EXPECTANCY_BY_OUTS: tuple[float, ...] = (0.50, 0.27, 0.10)
MAX_RUNS = 40


@dataclass(frozen=True, slots=True)
class BaseballParams:
    innings: int = 9
    default_home_edge: float = 0.35


MLB = BaseballParams()


def _mean(dist: tuple[float, ...] | list[float]) -> float:
    return sum(k * p for k, p in enumerate(dist))


def _scaled(dist: tuple[float, ...] | list[float], factor: float) -> list[float]:
    """Scale the chances of scoring (k >= 1) by `factor`; P(0) takes up the rest."""
    factor = max(0.0, factor)
    scoring = 1.0 - dist[0]
    factor = min(factor, 1.0 / scoring) if scoring > 0 else factor
    out = [p * factor for p in dist]
    out[0] = 1.0 - factor * scoring
    return out


def _convolve(a: list[float], b: list[float]) -> list[float]:
    out = [0.0] * min(MAX_RUNS + 1, len(a) + len(b) - 1)
    for i, pa in enumerate(a):
        if pa == 0.0:
            continue
        for j, pb in enumerate(b):
            k = min(i + j, MAX_RUNS)
            out[k] += pa * pb
    return out


def _runs_left(current: list[float] | None, full_halves: int, per_half: list[float]) -> list[float]:
    dist = [1.0] if current is None else list(current)
    for _ in range(full_halves):
        dist = _convolve(dist, per_half)
    return dist


def _current_half(per_half: list[float], outs: int | None) -> list[float]:
    if outs is None or outs <= 0:
        return list(per_half)
    if outs >= 3:
        return [1.0]
    ratio = RUN_EXPECTANCY_BY_OUTS[outs] / RUN_EXPECTANCY_BY_OUTS[0]
    return _scaled(per_half, ratio)


def team_factors(spread: float | None, params: BaseballParams) -> tuple[float, float]:
    edge = params.default_home_edge if spread is None else float(spread)
    per_game = 2.0 * params.innings * _mean(RUNS_PER_HALF_INNING)
    return 1.0 + edge / per_game, 1.0 - edge / per_game


def extra_innings_home_share(home_factor: float, away_factor: float) -> float:
    home = _scaled(EXTRA_HALF_INNING, home_factor)
    away = _scaled(EXTRA_HALF_INNING, away_factor)
    win = loss = 0.0
    for h, ph in enumerate(home):
        for a, pa in enumerate(away):
            if h > a:
                win += ph * pa
            elif a > h:
                loss += ph * pa
    return win / (win + loss)


def win_probability(lead: int, inning: int, half: str | None = None, outs: int | None = None,
                    params: BaseballParams = MLB, *, spread: float | None = None) -> float:
    """P(home wins). `inning` 1.. (0 = not started); `half` "top" (away bats) or "bottom"
    (home bats), None = the top of `inning` is about to start; `outs` in the current half."""
    if half not in (None, "top", "bottom"):
        raise ValueError(f"half must be 'top', 'bottom' or None, got {half!r}")
    if outs is not None and not 0 <= outs <= 3:
        raise ValueError(f"outs must be 0-3, got {outs}")
    f_home, f_away = team_factors(spread, params)
    p_extra = extra_innings_home_share(f_home, f_away)
    inning = max(1, inning)
    last = max(params.innings, inning)
    if half == "bottom" and inning >= params.innings and lead > 0:
        return 1.0
    extra = inning > params.innings
    per_home = _scaled(EXTRA_HALF_INNING if extra else RUNS_PER_HALF_INNING, f_home)
    per_away = _scaled(EXTRA_HALF_INNING if extra else RUNS_PER_HALF_INNING, f_away)
    # Later innings of regulation use the regulation distribution; extras use their own.
    reg_home = _scaled(RUNS_PER_HALF_INNING, f_home)
    reg_away = _scaled(RUNS_PER_HALF_INNING, f_away)
    if half == "bottom":
        home = _runs_left(_current_half(per_home, outs), last - inning, reg_home)
        away = _runs_left(None, last - inning, reg_away)
    else:
        away = _runs_left(_current_half(per_away, outs if half == "top" else None),
                          last - inning, reg_away)
        home = _runs_left(_current_half(per_home, None), last - inning, reg_home)
    win = tie = 0.0
    for h, ph in enumerate(home):
        for a, pa in enumerate(away):
            margin = lead + h - a
            if margin > 0:
                win += ph * pa
            elif margin == 0:
                tie += ph * pa
    return clamp01(win + tie * p_extra)
