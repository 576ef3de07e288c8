"""ESPN site-API field readers: errors, leagues, statuses and clocks (pure, no I/O).

Everything here turns one wire field into a domain value, or raises EspnPayloadError naming the
field (a JSON path such as "events[3].competitions[0].status.type.name") and what was expected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from models.game import GameStatus


class EspnError(Exception):
    """Base of the ESPN feed's errors."""


class EspnPayloadError(EspnError):
    """A payload field is missing or not what ESPN documents. `field` is its JSON path."""

    def __init__(self, field: str, expected: str, got: Any = None) -> None:
        shown = repr(got)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"ESPN payload field {field}: expected {expected}, got {shown}")
        self.field = field
        self.expected = expected


@dataclass(frozen=True, slots=True)
class League:
    """An ESPN league: its slug, the site-API sport path, and our GameState.sport key."""

    slug: str
    espn_sport: str
    sport: str


_KNOWN = {
    "nfl": ("football", "nfl"),
    "college-football": ("football", "ncaaf"),
    "nba": ("basketball", "nba"),
    "wnba": ("basketball", "wnba"),
    "mens-college-basketball": ("basketball", "ncaab"),
    "nhl": ("hockey", "nhl"),
    "mlb": ("baseball", "mlb"),
    "atp": ("tennis", "tennis"),
    "wta": ("tennis", "tennis"),
}
_SOCCER_SLUG = re.compile(r"^[a-z]{2,10}\.[a-z0-9_.]{1,30}$")   # eng.1, usa.1, uefa.champions


def league(slug: str) -> League:
    """The League for an ESPN slug; soccer slugs look like "eng.1". ValueError when unknown."""
    s = slug.strip().lower()
    if s in _KNOWN:
        sport_path, key = _KNOWN[s]
        return League(s, sport_path, key)
    if _SOCCER_SLUG.match(s):
        return League(s, "soccer", "soccer")
    raise ValueError(f"unknown ESPN league {slug!r}; expected one of {', '.join(_KNOWN)} "
                     "or a soccer league slug such as eng.1")


_STATUS_BY_NAME = {
    "STATUS_SCHEDULED": GameStatus.SCHEDULED,
    "STATUS_TBD": GameStatus.SCHEDULED,
    "STATUS_IN_PROGRESS": GameStatus.IN_PROGRESS,
    "STATUS_FIRST_HALF": GameStatus.IN_PROGRESS,
    "STATUS_SECOND_HALF": GameStatus.IN_PROGRESS,
    "STATUS_OVERTIME": GameStatus.IN_PROGRESS,
    "STATUS_EXTRA_TIME": GameStatus.IN_PROGRESS,
    "STATUS_SHOOTOUT": GameStatus.IN_PROGRESS,
    "STATUS_HALFTIME": GameStatus.HALFTIME,
    "STATUS_HALFTIME_ET": GameStatus.HALFTIME,
    "STATUS_END_PERIOD": GameStatus.END_OF_PERIOD,
    "STATUS_END_OF_REGULATION": GameStatus.END_OF_PERIOD,
    "STATUS_END_OF_EXTRATIME": GameStatus.END_OF_PERIOD,
    "STATUS_DELAYED": GameStatus.DELAYED,
    "STATUS_RAIN_DELAY": GameStatus.DELAYED,
    "STATUS_FINAL": GameStatus.FINAL,
    "STATUS_FINAL_OT": GameStatus.FINAL,
    "STATUS_FULL_TIME": GameStatus.FINAL,
    "STATUS_FINAL_AET": GameStatus.FINAL,
    "STATUS_FINAL_PEN": GameStatus.FINAL,
    "STATUS_FULL_PEN": GameStatus.FINAL,
    "STATUS_FORFEIT": GameStatus.FINAL,
    "STATUS_POSTPONED": GameStatus.POSTPONED,
    "STATUS_SUSPENDED": GameStatus.SUSPENDED,
    "STATUS_CANCELED": GameStatus.CANCELED,
    "STATUS_CANCELLED": GameStatus.CANCELED,
    "STATUS_ABANDONED": GameStatus.CANCELED,
    "STATUS_RETIRED": GameStatus.RETIRED,
    "STATUS_WALKOVER": GameStatus.WALKOVER,
}


def game_status(status: Any, path: str) -> GameStatus:
    """GameStatus from an ESPN `status` object. An unfamiliar name falls back on `type.state`
    ("pre" / "in" / "post" when completed); anything else is UNKNOWN, not an error."""
    stype = obj(status, path).get("type")
    stype = obj(stype, f"{path}.type")
    name = stype.get("name")
    if isinstance(name, str) and name in _STATUS_BY_NAME:
        return _STATUS_BY_NAME[name]
    state = stype.get("state")
    if state == "pre":
        return GameStatus.SCHEDULED
    if state == "in":
        return GameStatus.IN_PROGRESS
    if state == "post" and stype.get("completed") is True:
        return GameStatus.FINAL
    return GameStatus.UNKNOWN


_MMSS = re.compile(r"^\s*(\d{1,3}):(\d{1,2}(?:\.\d+)?)\s*$")
_SECS = re.compile(r"^\s*(\d{1,4}(?:\.\d+)?)\s*$")


def parse_clock_text(text: str) -> Decimal:
    """Seconds (Decimal) from a period clock: "12:34" -> 754, "0:07" -> 7, "20.2" -> 20.2
    (ESPN shows tenths under a minute). ValueError on anything else."""
    m = _MMSS.match(text)
    if m:
        secs = Decimal(m.group(2))
        if secs >= 60:
            raise ValueError(f"clock {text!r}: seconds must be below 60")
        return Decimal(m.group(1)) * 60 + secs
    m = _SECS.match(text)
    if m:
        return Decimal(m.group(1))
    raise ValueError(f"clock {text!r}: expected 'M:SS' or seconds like '20.2'")


_SOCCER_CLOCK = re.compile(r"^\s*(\d{1,3})'?\s*(?:\+\s*(\d{1,2})'?)?\s*$")
SOCCER_PERIOD_END_SECS = {1: 2700, 2: 5400, 3: 6300, 4: 7200}


def parse_soccer_clock(display: Any, numeric: Any, period: int, path: str) -> tuple[Decimal | None, Decimal | None]:
    """(seconds left in the half, stoppage seconds played) from ESPN's soccer clock.

    ESPN counts up: displayClock "67'" is the 67th minute, "90'+5'" the fifth minute of added
    time, and the numeric `clock` is seconds elapsed in the match (it stops at the half's end
    during added time). Before kick-off (period 0) there is no clock: (None, None)."""
    end = SOCCER_PERIOD_END_SECS.get(period)
    if end is None:
        return None, None
    added: Decimal | None = None
    elapsed: Decimal | None = None
    if isinstance(display, str) and display.strip():
        m = _SOCCER_CLOCK.match(display)
        if not m:
            raise EspnPayloadError(f"{path}.displayClock", "a soccer clock such as 67' or 90'+5'", display)
        elapsed = Decimal(m.group(1)) * 60
        if m.group(2) is not None:
            added = Decimal(m.group(2)) * 60
    if isinstance(numeric, (int, float)) and not isinstance(numeric, bool) and added is None:
        elapsed = to_decimal(numeric, f"{path}.clock")
    if elapsed is None:
        return None, None
    left = Decimal(end) - elapsed
    return (left if left > 0 else Decimal(0)), added


def obj(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise EspnPayloadError(path, "an object", value)
    return value


def arr(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise EspnPayloadError(path, "a list", value)
    return value


def text(value: Any, path: str) -> str:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value)
    raise EspnPayloadError(path, "a non-empty string", value)


MAX_NUMBER = Decimal(10) ** 12    # no score, clock, period or spread comes near it


def to_decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool):
        raise EspnPayloadError(path, "a number", value)
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise EspnPayloadError(path, "a number", value) from None
    if not d.is_finite():
        raise EspnPayloadError(path, "a finite number", value)
    if d.copy_abs() >= MAX_NUMBER:         # e.g. a score of "1e999999": int() of it would take minutes
        raise EspnPayloadError(path, "a number below 10^12 in size", value)
    return d


def score(value: Any, path: str) -> int:
    """A score: ESPN sends strings ("24"), numbers, or nothing before the start (-> 0)."""
    if value is None or value == "":
        return 0
    if isinstance(value, dict):                      # some feeds: {"value": 24.0, "displayValue": "24"}
        value = value.get("value", value.get("displayValue"))
    d = to_decimal(value, path)
    if d < 0 or d != d.to_integral_value():
        raise EspnPayloadError(path, "a whole non-negative score", value)
    return int(d)


def optional_int(value: Any, path: str) -> int | None:
    if value is None or value == "":
        return None
    d = to_decimal(value, path)
    if d != d.to_integral_value():
        raise EspnPayloadError(path, "a whole number", value)
    return int(d)
