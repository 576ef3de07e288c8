"""Loads ../shared/data/espn/derived into (GameState, ESPN probability, outcome) rows for the
calibration benchmark and the football fit. Not a test module (pytest does not collect it).

How the derived rows become GameStates (see ../shared/data/espn/PROVENANCE.txt):
- Scores are after the play (ESPN's convention, and ESPN's probability is after the play);
  down, distance and field position are from the start of the play. On a scoring play the drive
  is over, so the state is given no possession; kickoffs get down 0 (no drive term).
- College rows carry `home_spread` (positive = home favoured; 0 may mean missing). The pro rows
  carry no spread, so they are priced with the league's default home edge, or, in the
  "implied" variant, with the spread that makes our pre-game probability equal ESPN's first one.
- MLB: the possession column is the batting side, which is what the baseball model reads.
"""
from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from adapters.espn.fields import parse_clock_text
from models.game import GameState, GameStatus
from models.winprob import home_win_probability

DERIVED = Path(__file__).resolve().parents[2] / "shared" / "data" / "espn" / "derived"
CFB_FILE = DERIVED / "cfb_2019_2020_espn_wp_states.csv.gz"
PRO_FILE = DERIVED / "pro_summaries_espn_wp_states.csv"
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
_SPORT = {"NFL": "nfl", "NBA": "nba", "MLB": "mlb"}


@dataclass(frozen=True, slots=True)
class Row:
    league: str
    game_id: str
    state: GameState
    espn_home_wp: float
    home_won: float          # 1, 0 (0.5 for a tie)


def _int(text: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    return int(float(text))


def _state(sport: str, game_id: str, period: int, clock: str, home: int, away: int,
           pos_is_home: str, down: str, distance: str, yte: str, play_type: str,
           scoring: str, spread: Decimal | None) -> GameState:
    clock_secs = parse_clock_text(clock) if clock.strip() else None
    possession = {"1": "home", "0": "away"}.get(pos_is_home.strip())
    d = _int(down)
    if sport in ("nfl", "ncaaf"):
        if scoring.strip() == "1":
            possession = None
        if "Kickoff" in play_type:
            d = 0
    return GameState(
        game_id=game_id, sport=sport, ts=EPOCH, status=GameStatus.IN_PROGRESS,
        home_score=home, away_score=away, period=period, clock_secs=clock_secs,
        possession=possession, down=d if sport in ("nfl", "ncaaf") else None,
        distance=_int(distance) if sport in ("nfl", "ncaaf") else None,
        yards_to_endzone=_int(yte) if sport in ("nfl", "ncaaf") else None,
        home_spread=spread,
    )


def load_cfb(limit: int | None = None, every: int = 1) -> list[Row]:
    rows: list[Row] = []
    with gzip.open(CFB_FILE, "rt", newline="") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            if i % every:
                continue
            spread = Decimal(r["home_spread"]) if r["home_spread"].strip() else None
            state = _state("ncaaf", r["game_id"], int(r["period"]), r["clock"],
                           int(r["home_score_after"]), int(r["away_score_after"]), r["pos_is_home"],
                           r["down"], r["distance"], r["yards_to_endzone"], r["play_type"],
                           r["scoring_play"], spread)
            rows.append(Row("cfb", r["game_id"], state, float(r["espn_home_wp"]),
                            _outcome(r["final_home"], r["final_away"])))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def load_pro() -> list[Row]:
    rows: list[Row] = []
    with open(PRO_FILE, newline="") as fh:
        for r in csv.DictReader(fh):
            sport = _SPORT.get(r["league"])
            if sport is None:
                continue
            state = _state(sport, r["event_id"], int(r["period"]), r["clock"] if sport != "mlb" else "",
                           int(r["home_score"]), int(r["away_score"]), r["pos_is_home"], r["down"],
                           r["distance"], r["yards_to_endzone"], r["play_type"], r["scoring_play"], None)
            rows.append(Row(r["league"].lower(), r["event_id"], state, float(r["espn_home_wp"]),
                            _outcome(r["final_home"], r["final_away"])))
    return rows


def _outcome(home: str, away: str) -> float:
    h, a = int(home), int(away)
    return 1.0 if h > a else 0.0 if h < a else 0.5


def implied_spread(sport: str, p_home: float) -> Decimal:
    """The spread at which our pre-game probability equals `p_home` (bisection)."""
    lo, hi = -40.0, 40.0
    if sport == "mlb":
        lo, hi = -4.0, 4.0
    base = GameState(game_id="x", sport=sport, ts=EPOCH, status=GameStatus.SCHEDULED)
    for _ in range(50):
        mid = (lo + hi) / 2
        p = home_win_probability(replace(base, home_spread=Decimal(str(round(mid, 6)))))
        if p < p_home:
            lo = mid
        else:
            hi = mid
    return Decimal(str(round((lo + hi) / 2, 3)))


def with_implied_spreads(rows: list[Row]) -> list[Row]:
    """Each game's rows re-priced with the spread implied by ESPN's first probability."""
    spreads: dict[str, Decimal] = {}
    for row in rows:
        if row.game_id not in spreads:
            spreads[row.game_id] = implied_spread(row.state.sport, row.espn_home_wp)
    return [replace(row, state=replace(row.state, home_spread=spreads[row.game_id])) for row in rows]
