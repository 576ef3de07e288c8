"""Tennis win probability: a Markov chain from point to game, set (with tiebreak) and match.

Each point is won by the server with a fixed probability, independently of the others: the
model of Newton & Keller (2005), "Probability of winning at tennis I. Theory and data", Studies
in Applied Mathematics 114(3):241-269 (also Barnett & Clarke 2005, IMA Journal of Management
Mathematics 16(2):113-120). Player A wins a point on serve with probability `a_serve`, player B
with `b_serve`. From any score (sets, games, points, who serves) the chain gives P(A wins):

- game: first to 4 points by 2; from deuce the server wins with p^2 / (p^2 + q^2).
- tiebreak at 6-6: first to 7 by 2; the first server serves one point, then each player two;
  from 6-6 in the tiebreak the pairs of points give pa(1-pb) / (pa(1-pb) + (1-pa)pb).
  Every set, the deciding set included, is played with this 7-point tiebreak (a simplification:
  the Grand Slams now play a 10-point tiebreak in the final set).
- set: first to 6 games by 2, the serve alternating every game.
- match: best of 3 or 5 sets. Future sets use the mean of the two possible first servers.

`point_win_probability` p (A's share of all points, serve and return) is turned into serving
probabilities around the tour's average serve-point rate: a_serve = base + (p - 0.5),
b_serve = base - (p - 0.5), base 0.64 (ATP) / 0.57 (WTA), approximate tour averages.
`p_from_game_spread` inverts a pre-match game handicap (A's expected game margin) into p.
Longer matches amplify the better player's edge: best of 5 > best of 3 whenever p > 0.5.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

ATP_SERVE_BASE = 0.64
WTA_SERVE_BASE = 0.57


@dataclass(frozen=True, slots=True)
class TennisScore:
    """A live score from A's point of view; `a_serving` None when unknown."""

    sets: tuple[int, int] = (0, 0)
    games: tuple[int, int] = (0, 0)
    points: tuple[int, int] = (0, 0)      # points in the game (0,1,2,3,...) or in the tiebreak
    a_serving: bool | None = None


def serve_probabilities(point_win_probability: float, serve_base: float = ATP_SERVE_BASE) -> tuple[float, float]:
    d = point_win_probability - 0.5
    a = min(0.99, max(0.01, serve_base + d))
    b = min(0.99, max(0.01, serve_base - d))
    return a, b


@lru_cache(maxsize=65536)
def game_win(p: float, i: int = 0, j: int = 0) -> float:
    """P(the server wins the game) from i points to j, server's point probability p."""
    if i >= 4 and i - j >= 2:
        return 1.0
    if j >= 4 and j - i >= 2:
        return 0.0
    if i >= 3 and j >= 3:
        q = 1.0 - p
        deuce = p * p / (p * p + q * q)
        if i == j:
            return deuce
        return p + q * deuce if i > j else p * deuce
    return p * game_win(p, i + 1, j) + (1.0 - p) * game_win(p, i, j + 1)


def _tiebreak_server_is_first(n: int) -> bool:
    return n == 0 or ((n + 1) // 2) % 2 == 0


@lru_cache(maxsize=65536)
def tiebreak_win(a_serve: float, b_serve: float, a_first: bool, i: int = 0, j: int = 0) -> float:
    """P(A wins a 7-point tiebreak) from i-j, `a_first`: A served its first point."""
    if i >= 7 and i - j >= 2:
        return 1.0
    if j >= 7 and j - i >= 2:
        return 0.0
    if i >= 6 and j >= 6 and i == j:
        x, y = a_serve * (1 - b_serve), (1 - a_serve) * b_serve
        return x / (x + y)
    a_serves = _tiebreak_server_is_first(i + j) == a_first
    p = a_serve if a_serves else 1.0 - b_serve
    return p * tiebreak_win(a_serve, b_serve, a_first, i + 1, j) + (1 - p) * tiebreak_win(
        a_serve, b_serve, a_first, i, j + 1)


@lru_cache(maxsize=65536)
def set_win(a_serve: float, b_serve: float, a_serving: bool, ga: int = 0, gb: int = 0) -> float:
    """P(A wins the set) from ga-gb games, `a_serving` the next game."""
    if ga >= 6 and ga - gb >= 2 or ga == 7:
        return 1.0
    if gb >= 6 and gb - ga >= 2 or gb == 7:
        return 0.0
    if ga == 6 and gb == 6:
        return tiebreak_win(a_serve, b_serve, a_serving)
    p_game = game_win(a_serve) if a_serving else 1.0 - game_win(b_serve)
    return p_game * set_win(a_serve, b_serve, not a_serving, ga + 1, gb) + (1 - p_game) * set_win(
        a_serve, b_serve, not a_serving, ga, gb + 1)


def _set_win_unknown_server(a_serve: float, b_serve: float, ga: int = 0, gb: int = 0) -> float:
    return 0.5 * (set_win(a_serve, b_serve, True, ga, gb) + set_win(a_serve, b_serve, False, ga, gb))


@lru_cache(maxsize=4096)
def _match_from_sets(p_set: float, sa: int, sb: int, need: int) -> float:
    if sa >= need:
        return 1.0
    if sb >= need:
        return 0.0
    return p_set * _match_from_sets(p_set, sa + 1, sb, need) + (1 - p_set) * _match_from_sets(
        p_set, sa, sb + 1, need)


def _current_set(a_serve: float, b_serve: float, score: TennisScore) -> float:
    ga, gb = score.games
    pa, pb = score.points
    if score.a_serving is None:
        if pa == 0 and pb == 0:
            return _set_win_unknown_server(a_serve, b_serve, ga, gb)
        return 0.5 * (_current_set(a_serve, b_serve, TennisScore(score.sets, score.games, score.points, True))
                      + _current_set(a_serve, b_serve, TennisScore(score.sets, score.games, score.points, False)))
    if ga == 6 and gb == 6:
        # In a tiebreak `a_serving` is the server of the next point; recover who served first.
        n = pa + pb
        a_first = _tiebreak_server_is_first(n) == score.a_serving
        return tiebreak_win(a_serve, b_serve, a_first, pa, pb)
    if score.a_serving:
        g = game_win(a_serve, pa, pb)
    else:
        g = 1.0 - game_win(b_serve, pb, pa)
    nxt = not score.a_serving
    return g * set_win(a_serve, b_serve, nxt, ga + 1, gb) + (1 - g) * set_win(a_serve, b_serve, nxt, ga, gb + 1)


def match_win_probability(a_serve: float, b_serve: float, best_of: int = 3,
                          score: TennisScore = TennisScore()) -> float:
    """P(A wins the match) from `score`, with serve-point probabilities a_serve and b_serve."""
    if best_of not in (3, 5):
        raise ValueError(f"best_of must be 3 or 5, got {best_of}")
    for name, v in (("a_serve", a_serve), ("b_serve", b_serve)):
        if not 0.0 < v < 1.0:
            raise ValueError(f"{name} must be strictly between 0 and 1, got {v}")
    need = best_of // 2 + 1
    sa, sb = score.sets
    if sa >= need or sb >= need:
        return 1.0 if sa >= need else 0.0
    p_future = _set_win_unknown_server(a_serve, b_serve)
    p_now = _current_set(a_serve, b_serve, score)
    return p_now * _match_from_sets(p_future, sa + 1, sb, need) + (1 - p_now) * _match_from_sets(
        p_future, sa, sb + 1, need)


def _set_game_margin(a_serve: float, b_serve: float, a_serving: bool) -> float:
    """E[A's games - B's games] over one set (a tiebreak counts as a game to its winner)."""
    dist: dict[tuple[int, int], float] = {(0, 0): 1.0}
    expected = 0.0
    for _ in range(13):
        nxt: dict[tuple[int, int], float] = {}
        for (ga, gb), pr in dist.items():
            if ga == 6 and gb == 6:
                t = tiebreak_win(a_serve, b_serve, a_serving if (ga + gb) % 2 == 0 else not a_serving)
                expected += pr * (t * 1 + (1 - t) * -1)
                continue
            serving_a = a_serving if (ga + gb) % 2 == 0 else not a_serving
            g = game_win(a_serve) if serving_a else 1.0 - game_win(b_serve)
            for (na, nb), w in (((ga + 1, gb), g), ((ga, gb + 1), 1 - g)):
                done = (na >= 6 and na - nb >= 2) or (nb >= 6 and nb - na >= 2) or na == 7 or nb == 7
                if done:
                    expected += pr * w * (na - nb)
                else:
                    nxt[(na, nb)] = nxt.get((na, nb), 0.0) + pr * w
        dist = nxt
        if not dist:
            break
    return expected


def expected_game_margin(point_win_probability: float, best_of: int = 3,
                         serve_base: float = ATP_SERVE_BASE) -> float:
    """E[A's games - B's games] over the match, for A's point share p."""
    a, b = serve_probabilities(point_win_probability, serve_base)
    per_set = 0.5 * (_set_game_margin(a, b, True) + _set_game_margin(a, b, False))
    p_set = _set_win_unknown_server(a, b)
    need = best_of // 2 + 1
    # P(set k is played) from the distribution of set scores before it.
    played = 0.0
    dist = {(0, 0): 1.0}
    while dist:
        nxt: dict[tuple[int, int], float] = {}
        for (sa, sb), pr in dist.items():
            played += pr
            for key, w in (((sa + 1, sb), p_set), ((sa, sb + 1), 1 - p_set)):
                if key[0] < need and key[1] < need:
                    nxt[key] = nxt.get(key, 0.0) + pr * w
        dist = nxt
    return played * per_set


def p_from_game_spread(game_spread: float, best_of: int = 3, serve_base: float = ATP_SERVE_BASE) -> float:
    """The point share p whose expected match game margin equals `game_spread` (bisection)."""
    lo, hi = 0.3, 0.7
    if game_spread <= expected_game_margin(lo, best_of, serve_base):
        return lo
    if game_spread >= expected_game_margin(hi, best_of, serve_base):
        return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if expected_game_margin(mid, best_of, serve_base) < game_spread:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
