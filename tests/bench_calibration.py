"""Calibration benchmark of models/winprob against ESPN's own win probability (not a test).

    python -m tests.bench_calibration [--every N]

Over ../shared/data/espn/derived (see tests/bench_data.py for how rows become GameStates), per
league: the Brier score of our home win probability against the final result, ESPN's Brier
score on the same rows, and the mean absolute difference between the two probabilities. The
pro rows have no pre-game spread, so they are also shown re-priced with the spread implied by
ESPN's first probability of each game ("implied"), which separates in-game dynamics from
pre-game team strength. For college football, a calibration table by decile of our probability
follows. `--every N` keeps every N-th college play (default 1: all 259,597).
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict

from models.winprob import NoWinProbability, home_win_probability
from tests.bench_data import CFB_FILE, PRO_FILE, Row, load_cfb, load_pro, with_implied_spreads


def score(rows: list[Row]) -> tuple[int, int, float, float, float, int]:
    """(rows, games, our Brier, ESPN Brier, mean |ours - ESPN|, rows skipped)."""
    ours = espn = diff = 0.0
    n = skipped = 0
    games = set()
    for row in rows:
        try:
            p = home_win_probability(row.state)
        except NoWinProbability:
            skipped += 1
            continue
        n += 1
        games.add(row.game_id)
        ours += (p - row.home_won) ** 2
        espn += (row.espn_home_wp - row.home_won) ** 2
        diff += abs(p - row.espn_home_wp)
    if n == 0:
        return 0, 0, float("nan"), float("nan"), float("nan"), skipped
    return n, len(games), ours / n, espn / n, diff / n, skipped


def deciles(rows: list[Row]) -> list[tuple[str, int, float, float, float]]:
    """(bin, rows, mean ours, mean ESPN, home win rate) by decile of our probability."""
    bins: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for row in rows:
        p = home_win_probability(row.state)
        b = bins[min(9, int(p * 10))]
        b[0] += 1
        b[1] += p
        b[2] += row.espn_home_wp
        b[3] += row.home_won
    return [(f"{k / 10:.1f}-{(k + 1) / 10:.1f}", int(v[0]), v[1] / v[0], v[2] / v[0], v[3] / v[0])
            for k, v in sorted(bins.items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_calibration")
    parser.add_argument("--every", type=int, default=1, help="keep every N-th college play")
    args = parser.parse_args(argv)
    if not CFB_FILE.exists() or not PRO_FILE.exists():
        print(f"no data under {CFB_FILE.parent}", file=sys.stderr)
        return 1
    cfb = load_cfb(every=args.every)
    pro = load_pro()
    table = [("cfb", "spread from data", cfb)]
    for league in ("nfl", "nba", "mlb"):
        rows = [r for r in pro if r.league == league]
        table.append((league, "league default home edge", rows))
        table.append((league, "implied from ESPN's first WP", with_implied_spreads(rows)))
    print("| league | pre-game strength | plays | games | Brier ours | Brier ESPN | mean abs(ours - ESPN) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for league, variant, rows in table:
        n, games, ours, espn, diff, skipped = score(rows)
        note = f" ({skipped} skipped)" if skipped else ""
        print(f"| {league} | {variant} | {n}{note} | {games} | {ours:.4f} | {espn:.4f} | {diff:.4f} |")
    print("\ncollege football by decile of our probability:")
    print("| our p | plays | mean ours | mean ESPN | home won |")
    print("|---|---:|---:|---:|---:|")
    for label, n, mean_ours, mean_espn, won in deciles(cfb):
        print(f"| {label} | {n} | {mean_ours:.3f} | {mean_espn:.3f} | {won:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
