"""Game state, as every game feed (ESPN, simulated, replay) reports it."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class GameStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    HALFTIME = "halftime"
    END_OF_PERIOD = "end_of_period"
    DELAYED = "delayed"
    FINAL = "final"
    POSTPONED = "postponed"
    SUSPENDED = "suspended"
    CANCELED = "canceled"
    RETIRED = "retired"        # tennis: a player retired
    WALKOVER = "walkover"      # tennis: no match played
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class GameState:
    """One snapshot of a game. `clock_secs` is the time left in the current period
    (Decimal, may be fractional: "20.2"); for soccer it is the time left in the half and
    `added_time_secs` carries stoppage time when known. Field position and down/distance are
    for American football; `home_spread` is the pre-game spread (positive = home favoured)."""

    game_id: str
    sport: str
    ts: datetime
    status: GameStatus
    home_team: str = ""
    away_team: str = ""
    home_score: int = 0
    away_score: int = 0
    period: int = 0
    clock_secs: Decimal | None = None
    possession: str | None = None          # "home" | "away" | None
    down: int | None = None
    distance: int | None = None
    yards_to_endzone: int | None = None
    home_spread: Decimal | None = None
    added_time_secs: Decimal | None = None
    detail: str = ""                       # the feed's own short description, e.g. "17:09 - OT"
