"""Win probability per sport, from one game state (pure: no I/O, no clock).

`home_win_probability(state)` dispatches on `state.sport` to the sport's model and returns the
probability (a float in [0, 1]) that the home side wins. Soccer has three results:
`result_probabilities(state)` gives home / draw / away for every sport (draw 0 outside soccer).

Conventions shared by every model (the API is explicit about the neutral setting):
- `state.home_spread` is the pre-game expected margin in the sport's scoring unit, positive =
  home favoured, and already includes any home edge. `home_spread = 0` is a neutral pick'em:
  equal teams tied at the start give exactly 0.5 (soccer: P(home) = P(away)).
- `home_spread = None` (unknown) means each league's typical home edge is assumed (documented in
  each module as `default_home_edge`). Tennis has no home edge: None means equal players.
- Tennis reads `home_spread` as a game handicap (the home player's expected game margin);
  `home_score`/`away_score` are sets won and `period` the set in play (games and points are not
  in GameState, so the current set is priced from 0-0 with the server unknown).
- Baseball reads `possession` as the batting side ("away" = top of the inning, "home" =
  bottom); outs are not in GameState and may be passed as `outs=`.
- A finished game gives 1, 0, or 0.5 for a tie (0 for a soccer draw: home did not win).
  Postponed, canceled, walkover, retired and unknown states raise NoWinProbability, as does an
  in-progress timed game whose clock is unknown.

Sport keys (GameState.sport): nfl, ncaaf, nba, wnba, ncaab, nhl, mlb, soccer, tennis (ESPN
league slugs such as "college-football" or "mens-college-basketball" are accepted too).
"""
from __future__ import annotations

from models.game import GameState, GameStatus
from models.winprob import baseball, basketball, football, hockey, soccer, tennis
from models.winprob.soccer import ThreeWay

__all__ = ["NoWinProbability", "ThreeWay", "home_win_probability", "result_probabilities",
           "sport_key", "SPORT_KEYS", "MODEL_NAMES"]

_FOOTBALL = {"nfl": football.NFL, "ncaaf": football.COLLEGE}
_BASKETBALL = {"nba": basketball.NBA, "wnba": basketball.WNBA, "ncaab": basketball.MENS_COLLEGE}
_ALIASES = {
    "college-football": "ncaaf", "cfb": "ncaaf",
    "mens-college-basketball": "ncaab", "cbb": "ncaab",
    "hockey": "nhl", "baseball": "mlb", "atp": "tennis", "wta": "tennis",
}
SPORT_KEYS: tuple[str, ...] = ("nfl", "ncaaf", "nba", "wnba", "ncaab", "nhl", "mlb", "soccer", "tennis")
MODEL_NAMES = {
    "nfl": "football drive mixture + Brownian margin (Stern 1991)",
    "ncaaf": "football drive mixture + Brownian margin (Stern 1991), college fit",
    "nba": "Brownian motion (Stern 1994)", "wnba": "Brownian motion (Stern 1994)",
    "ncaab": "Brownian motion (Stern 1994)",
    "nhl": "Poisson goals (Mullet 1977)", "mlb": "runs per half-inning (Lindsey 1963)",
    "soccer": "Poisson goals (Maher 1982)", "tennis": "point-game-set Markov chain (Newton & Keller 2005)",
}
_LIVE = {GameStatus.IN_PROGRESS, GameStatus.HALFTIME, GameStatus.END_OF_PERIOD,
         GameStatus.DELAYED, GameStatus.SUSPENDED}
_BREAK = {GameStatus.HALFTIME, GameStatus.END_OF_PERIOD}


class NoWinProbability(ValueError):
    """The state has no meaningful win probability (game off, unknown status, missing clock)."""


def sport_key(sport: str) -> str:
    """Normalise a sport name or ESPN league slug to one of SPORT_KEYS; ValueError otherwise."""
    key = sport.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in SPORT_KEYS and ("." in key or key.startswith("soccer")):
        key = "soccer"          # ESPN soccer league slugs: eng.1, usa.1, uefa.champions ...
    if key not in SPORT_KEYS:
        raise ValueError(f"unknown sport {sport!r}; expected one of {', '.join(SPORT_KEYS)}")
    return key


def _float(x) -> float | None:
    return None if x is None else float(x)


def _finished(state: GameState, key: str) -> ThreeWay:
    lead = state.home_score - state.away_score
    if lead > 0:
        return ThreeWay(1.0, 0.0, 0.0)
    if lead < 0:
        return ThreeWay(0.0, 0.0, 1.0)
    if key == "soccer":
        return ThreeWay(0.0, 1.0, 0.0)
    return ThreeWay(0.5, 0.0, 0.5)        # a tie counts half, as the models price overtime


def _clock(state: GameState, key: str) -> float | None:
    """The period clock, or a clear refusal when a timed game in play has none."""
    if state.clock_secs is not None:
        return float(state.clock_secs)
    if state.status in _BREAK:
        return 0.0
    if state.status is GameStatus.SCHEDULED or state.period <= 0 or key in ("mlb", "tennis"):
        return None
    if key == "ncaaf" and state.period > football.COLLEGE.regulation_periods:
        return None             # college overtime is untimed
    raise NoWinProbability(f"{state.game_id}: clock unknown for a {key} game in progress")


def result_probabilities(state: GameState, *, outs: int | None = None, best_of: int = 3) -> ThreeWay:
    """Home / draw / away probabilities for `state` (draw is 0 outside soccer)."""
    key = sport_key(state.sport)
    if state.status is GameStatus.FINAL:
        return _finished(state, key)
    if state.status is GameStatus.SCHEDULED:
        period, clock = 0, None
    elif state.status in _LIVE:
        period, clock = state.period, _clock(state, key)
    else:
        raise NoWinProbability(f"{state.game_id}: no win probability for a {state.status.value} game")
    lead = state.home_score - state.away_score
    spread = _float(state.home_spread)
    poss = 1 if state.possession == "home" else -1 if state.possession == "away" else 0
    if key == "soccer":
        secs = soccer.remaining_secs(period, clock, _float(state.added_time_secs))
        return soccer.result_probabilities(lead, secs, spread=spread)
    if key in _FOOTBALL:
        params = _FOOTBALL[key]
        secs = football.remaining_secs(period, clock, params)
        p = football.win_probability(lead, secs, params, spread=spread, possession=poss,
                                     yards_to_endzone=state.yards_to_endzone, down=state.down,
                                     distance=state.distance)
    elif key in _BASKETBALL:
        params_b = _BASKETBALL[key]
        secs = basketball.remaining_secs(period, clock, params_b)
        p = basketball.win_probability(lead, secs, params_b, spread=spread, possession=poss)
    elif key == "nhl":
        p = hockey.win_probability(lead, period, clock, spread=spread)
    elif key == "mlb":
        half = {"away": "top", "home": "bottom"}.get(state.possession or "")
        p = baseball.win_probability(lead, period, half, outs, spread=spread)
    else:
        p = _tennis(state, period, spread, best_of)
    return ThreeWay(p, 0.0, 1.0 - p)


def _tennis(state: GameState, period: int, spread: float | None, best_of: int) -> float:
    p_point = 0.5 if spread is None else tennis.p_from_game_spread(spread, best_of)
    a, b = tennis.serve_probabilities(p_point)
    score = tennis.TennisScore(sets=(state.home_score, state.away_score))
    return tennis.match_win_probability(a, b, best_of, score)


def home_win_probability(state: GameState, *, outs: int | None = None, best_of: int = 3) -> float:
    """P(home side wins) in [0, 1]. `outs` (MLB) and `best_of` (tennis: 3 or 5) are the inputs
    GameState does not carry. Raises NoWinProbability when there is none to give."""
    return result_probabilities(state, outs=outs, best_of=best_of).home
