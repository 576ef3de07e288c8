"""Scoring processes of the simulated game, one per sport, each with its closed-form fair value.

This is the simulator's own "truth", deliberately simple and kept apart from the engine's
real win-probability models (models/winprob/). A process advances one unit at a time
(an NBA possession, an NFL play, a 30 s NHL shift) and reports the real seconds that unit
took, so a game spans 2-3 hours of virtual time.

Fair value (home-win probability), the same closed form for every sport: with U units
left (remaining game clock / average clock per unit), a per-unit mean home edge d and
per-unit margin variance v, the final margin is about Normal(L + U*d, U*v), where L is the
lead plus the value of the current possession. With a tie going to overtime at about
50/50, P(home wins) = P(M > 0) + P(M = 0)/2, computed with a half-point continuity
correction: (Phi((L + U*d - 1/2)/s) + Phi((L + U*d + 1/2)/s)) / 2, s = sqrt(U*v).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Iterator

from models.game import GameStatus

HOME, AWAY = "home", "away"


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def margin_win_probability(lead: float, units_left: float, mean_per_unit: float, var_per_unit: float) -> float:
    """P(home wins) from the lead, the units left and the per-unit margin mean and variance."""
    mu = lead + units_left * mean_per_unit
    var = units_left * var_per_unit
    if var < 1e-9:
        return 1.0 if mu > 0.5 else 0.0 if mu < -0.5 else 0.5
    s = math.sqrt(var)
    return 0.5 * (normal_cdf((mu - 0.5) / s) + normal_cdf((mu + 0.5) / s))


@dataclass(frozen=True, slots=True)
class SportRules:
    periods: int
    period_secs: float
    ot_secs: float
    max_ot: int                 # overtimes before a coin-flip tiebreak (shootout, ...)
    break_secs: float           # between periods
    halftime_secs: float        # after period periods//2 when periods is even
    unit_secs: float            # average game clock of one unit (possession / drive / shift)
    spread_sd: float            # sd of the drawn pre-game spread (points)
    spread_mean: float          # home advantage (points)


class SportProcess:
    """Base: period structure and the fair value; subclasses define `step` and the unit stats."""

    rules: SportRules

    def __init__(self, rng: random.Random, spread: float) -> None:
        self.rng = rng
        self.spread = spread          # expected full-game home margin (points)
        self.period = 0
        self.clock = 0.0              # game seconds left in the period
        self.home = 0
        self.away = 0
        self.possession: str | None = None
        self.down: int | None = None
        self.distance: int | None = None
        self.ytg: int | None = None
        self.first_receiver = AWAY if rng.random() < 0.5 else HOME

    # -- to override --------------------------------------------------------------------
    def step(self) -> float:
        """Play one unit: move clock and score; return the real seconds it took."""
        raise NotImplementedError

    def start_period(self) -> None:
        pass

    def unit_stats(self) -> tuple[float, float]:
        """(mean home margin per unit, margin variance per unit)."""
        raise NotImplementedError

    def possession_value(self) -> float:
        """Extra expected home margin from who has the ball now."""
        return 0.0

    def sudden_death_over(self) -> bool:
        return False

    # -- shared ---------------------------------------------------------------------------
    def score(self, team: str, points: int) -> None:
        if team == HOME:
            self.home += points
        else:
            self.away += points

    def game_secs_left(self) -> float:
        """Game clock left: the rest of regulation, or of the current overtime."""
        r = self.rules
        if self.period > r.periods:
            return self.clock
        return self.clock + (r.periods - self.period) * r.period_secs

    def regulation_fraction_left(self) -> float:
        r = self.rules
        return 0.0 if self.period > r.periods else self.game_secs_left() / (r.periods * r.period_secs)

    def fair_home(self) -> float:
        d, v = self.unit_stats()
        units = self.game_secs_left() / self.rules.unit_secs
        lead = self.home - self.away + self.possession_value()
        return min(max(margin_win_probability(lead, units, d, v), 0.0), 1.0)

    def run(self) -> Iterator[tuple[float, GameStatus]]:
        """(real seconds since the previous yield, status) after each unit and period change;
        ends when the game is decided. State is read from the attributes at each yield."""
        r = self.rules
        period = 0
        while True:
            period += 1
            self.period = period
            self.clock = r.period_secs if period <= r.periods else r.ot_secs
            self.start_period()
            halftime = r.periods % 2 == 0 and period - 1 == r.periods // 2
            pause = 0.0 if period == 1 else r.halftime_secs if halftime else r.break_secs
            yield pause, GameStatus.IN_PROGRESS       # the period starts
            while self.clock > 0 and not self.sudden_death_over():
                yield self.step(), GameStatus.IN_PROGRESS
            if period >= r.periods and self.home != self.away:
                return
            if period >= r.periods + r.max_ot:
                self.score(HOME if self.rng.random() < 0.5 else AWAY, 1)   # shootout / tiebreak
                return
            halftime = r.periods % 2 == 0 and period == r.periods // 2
            yield 0.0, GameStatus.HALFTIME if halftime else GameStatus.END_OF_PERIOD


class NBAProcess(SportProcess):
    """Alternating possessions of ~14 s; points 0/1/2/3 with a strength shift between 0 and 2."""

    rules = SportRules(periods=4, period_secs=720, ot_secs=300, max_ot=4, break_secs=130,
                       halftime_secs=900, unit_secs=14.0, spread_sd=6.0, spread_mean=2.5)
    BASE = (0.50, 0.03, 0.33, 0.14)   # P(0, 1, 2, 3 points): about 1.1 points a possession

    def __init__(self, rng: random.Random, spread: float) -> None:
        super().__init__(rng, spread)
        shift = spread / (2880 / self.rules.unit_secs)   # per possession, +home / -away
        self.dist = {HOME: self._shifted(shift), AWAY: self._shifted(-shift)}
        self.possession = self.first_receiver

    @classmethod
    def _shifted(cls, shift: float) -> tuple[float, ...]:
        p0, p1, p2, p3 = cls.BASE
        return (p0 - shift / 2, p1, p2 + shift / 2, p3)

    @staticmethod
    def _moments(dist: tuple[float, ...]) -> tuple[float, float]:
        mean = sum(k * p for k, p in enumerate(dist))
        return mean, sum(k * k * p for k, p in enumerate(dist)) - mean * mean

    def unit_stats(self) -> tuple[float, float]:
        (mh, vh), (ma, va) = self._moments(self.dist[HOME]), self._moments(self.dist[AWAY])
        return (mh - ma) / 2, (vh + va) / 2

    def possession_value(self) -> float:
        mean = self._moments(self.dist[self.possession])[0] / 2
        return mean if self.possession == HOME else -mean

    def start_period(self) -> None:
        other = HOME if self.first_receiver == AWAY else AWAY
        if self.period > self.rules.periods:        # overtime: a new jump ball
            self.possession = HOME if self.rng.random() < 0.5 else AWAY
        elif self.period > 1:                       # Q2 and Q3 to the other team, Q4 to the first
            self.possession = self.first_receiver if self.period == 4 else other

    def step(self) -> float:
        rng = self.rng
        used = min(rng.uniform(6.0, 22.0), self.clock)
        self.clock = round(self.clock - used, 1)
        points = rng.choices((0, 1, 2, 3), weights=self.dist[self.possession])[0]
        self.score(self.possession, points)
        self.possession = AWAY if self.possession == HOME else HOME
        late = self.period >= self.rules.periods and self.clock < 180
        stoppage = rng.uniform(45, 130) if rng.random() < (0.3 if late else 0.09) else 0.0
        return used * rng.uniform(1.5, 2.4) + stoppage


class NFLProcess(SportProcess):
    """Play by play: runs/passes gain ~Normal yards, first downs, TDs, field goals, punts."""

    rules = SportRules(periods=4, period_secs=900, ot_secs=600, max_ot=3, break_secs=120,
                       halftime_secs=780, unit_secs=156.0, spread_sd=6.0, spread_mean=2.0)
    DRIVE_MEAN, DRIVE_VAR = 1.76, 8.8      # per drive, fitted to this process's final margins

    def __init__(self, rng: random.Random, spread: float) -> None:
        super().__init__(rng, spread)
        self.gain_bias = {HOME: spread / 15.0, AWAY: -spread / 15.0}   # yards per play
        self._ot_start = (0, 0)

    def unit_stats(self) -> tuple[float, float]:
        return self.spread / (3600 / self.rules.unit_secs), self.DRIVE_VAR

    def possession_value(self) -> float:
        if self.possession is None or self.ytg is None:
            return 0.0
        ep = max(0.0, 6.3 - 0.062 * self.ytg) - self.DRIVE_MEAN / 2
        return ep if self.possession == HOME else -ep

    def sudden_death_over(self) -> bool:
        return self.period > self.rules.periods and (self.home, self.away) != self._ot_start

    def start_period(self) -> None:
        p = self.period
        if p == 1 or p == 3 or p > self.rules.periods:
            receiver = self.first_receiver if p == 1 else (HOME if self.first_receiver == AWAY else AWAY)
            if p > self.rules.periods:
                receiver = HOME if self.rng.random() < 0.5 else AWAY
                self._ot_start = (self.home, self.away)
            self._new_drive(receiver, 75)

    def _new_drive(self, team: str, ytg: int) -> None:
        self.possession, self.ytg, self.down, self.distance = team, ytg, 1, min(10, ytg)

    def _turn_over(self, ytg: int) -> None:
        self._new_drive(AWAY if self.possession == HOME else HOME, min(max(ytg, 5), 95))

    def step(self) -> float:
        rng = self.rng
        offense, defense = self.possession, (AWAY if self.possession == HOME else HOME)
        assert self.ytg is not None and self.down is not None and self.distance is not None
        used = rng.uniform(24, 42)
        if self.down == 4 and not (self.distance <= 1 and self.ytg <= 60):
            used = rng.uniform(4, 8)
            if self.ytg <= 38:
                kick = self.ytg + 17
                if rng.random() < 0.98 - 0.012 * max(0, kick - 25):
                    self.score(offense, 3)
                    self._new_drive(defense, 75)
                else:
                    self._turn_over(100 - (self.ytg + 7))
            else:
                spot = self.ytg - 42
                self._turn_over(80 if spot < 10 else 100 - spot)
        elif rng.random() < 0.025:
            self._turn_over(100 - self.ytg)
        else:
            if rng.random() < 0.2:
                used = rng.uniform(4, 8)     # incomplete pass: the clock stops
                gain = 0
            elif rng.random() < 0.05:
                gain = round(rng.gauss(28, 12))
            else:
                gain = round(rng.gauss(5.8 + self.gain_bias[offense], 6.5))
            gain = max(gain, -8)
            if gain >= self.ytg:
                self.score(offense, 7 if rng.random() < 0.94 else 6)
                self._new_drive(defense, 75)
            else:
                self.ytg -= gain
                if gain >= self.distance:
                    self.down, self.distance = 1, min(10, self.ytg)
                else:
                    self.down, self.distance = self.down + 1, self.distance - gain
        used = min(used, self.clock)
        self.clock = round(self.clock - used, 1)
        commercial = rng.uniform(100, 160) if rng.random() < 0.15 else 0.0
        return used + rng.uniform(8, 28) + commercial


class NHLProcess(SportProcess):
    """30 s shifts; each team scores in a shift with a small probability (about 3 goals a game)."""

    rules = SportRules(periods=3, period_secs=1200, ot_secs=300, max_ot=1, break_secs=1080,
                       halftime_secs=1080, unit_secs=30.0, spread_sd=0.6, spread_mean=0.25)
    BASE_RATE = 3.0 / 120    # goals per team per 30 s shift

    def __init__(self, rng: random.Random, spread: float) -> None:
        super().__init__(rng, spread)
        shift = spread / 2 / 120
        self.rate = {HOME: max(0.005, self.BASE_RATE + shift), AWAY: max(0.005, self.BASE_RATE - shift)}
        self._ot_start = (0, 0)

    def unit_stats(self) -> tuple[float, float]:
        rh, ra = self.rate[HOME], self.rate[AWAY]
        return rh - ra, rh * (1 - rh) + ra * (1 - ra)

    def start_period(self) -> None:
        if self.period > self.rules.periods:
            self._ot_start = (self.home, self.away)

    def sudden_death_over(self) -> bool:
        return self.period > self.rules.periods and (self.home, self.away) != self._ot_start

    def step(self) -> float:
        rng = self.rng
        used = min(30.0, self.clock)
        self.clock = round(self.clock - used, 1)
        for team in (HOME, AWAY):
            if rng.random() < self.rate[team] * used / 30.0:
                self.score(team, 1)
                break
        stoppage = rng.uniform(30, 90) if rng.random() < 0.1 else 0.0
        return used * rng.uniform(1.3, 2.0) + stoppage


PROCESSES: dict[str, type[SportProcess]] = {"nba": NBAProcess, "nfl": NFLProcess, "nhl": NHLProcess}
