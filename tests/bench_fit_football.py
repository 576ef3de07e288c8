"""Fit the college-football parameters of models/winprob/football.py (not a test).

    python -m tests.bench_fit_football

A grid search over (sigma, drive_scale, next_possession_points) minimising the Brier score
against the final result on ESPN's 2019-2020 college-football states
(../shared/data/espn/derived/cfb_2019_2020_espn_wp_states.csv.gz). Games with an even ESPN id
are the fitting half (every 4th play, for speed); games with an odd id are held out, and the
chosen parameters are scored on all of their plays beside ESPN's own probability. The chosen
values are copied by hand into football.COLLEGE.
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import replace

from models.winprob import football
from tests.bench_data import CFB_FILE, Row, load_cfb

SIGMAS = (14.0, 15.0, 16.0, 17.0, 18.0)
DRIVE_SCALES = (0.9, 1.0, 1.1, 1.2, 1.3)
NEXT_POSSESSION = (0.0, 0.5, 1.0, 1.5)


def _prob(row: Row, params: football.FootballParams) -> float:
    s = row.state
    secs = football.remaining_secs(s.period, float(s.clock_secs) if s.clock_secs is not None else None, params)
    poss = 1 if s.possession == "home" else -1 if s.possession == "away" else 0
    return football.win_probability(
        s.home_score - s.away_score, secs, params,
        spread=float(s.home_spread) if s.home_spread is not None else None, possession=poss,
        yards_to_endzone=s.yards_to_endzone, down=s.down, distance=s.distance)


def brier(rows: list[Row], params: football.FootballParams) -> float:
    return sum((_prob(r, params) - r.home_won) ** 2 for r in rows) / len(rows)


def main() -> int:
    if not CFB_FILE.exists():
        print(f"no data at {CFB_FILE}", file=sys.stderr)
        return 1
    rows = load_cfb()
    fit = [r for i, r in enumerate(rows) if int(r.game_id) % 2 == 0 and i % 4 == 0]
    held = [r for r in rows if int(r.game_id) % 2 == 1]
    print(f"fitting on {len(fit)} plays, holding out {len(held)}")
    best = None
    for sigma, scale, nxt in itertools.product(SIGMAS, DRIVE_SCALES, NEXT_POSSESSION):
        params = replace(football.COLLEGE, sigma=sigma, drive_scale=scale, next_possession_points=nxt)
        b = brier(fit, params)
        if best is None or b < best[0]:
            best = (b, params)
        print(f"sigma={sigma:4.1f} drive_scale={scale:.1f} next_possession={nxt:.1f}  Brier={b:.5f}")
    assert best is not None
    b, params = best
    espn = sum((r.espn_home_wp - r.home_won) ** 2 for r in held) / len(held)
    mad = sum(abs(_prob(r, params) - r.espn_home_wp) for r in held) / len(held)
    print(f"\nbest: sigma={params.sigma} drive_scale={params.drive_scale} "
          f"next_possession_points={params.next_possession_points} (fit Brier {b:.5f})")
    print(f"held-out games: ours Brier {brier(held, params):.5f}, ESPN Brier {espn:.5f}, "
          f"mean |ours - ESPN| {mad:.4f}  ({len(held)} plays)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
