"""ESPN site-API scoreboard and summary payloads -> GameState (pure, no I/O).

The rule for bad input: if we know which game a broken part belongs to, that game comes back as
a GameState with status UNKNOWN and the error in `detail`, so one odd game never stops a feed;
if we cannot even tell the game (no id, no header), EspnPayloadError names the field.

Field conventions (checked on the recorded payloads in ../shared/data/espn):
- scores are strings ("24"), absent before the start (-> 0). Tennis scores are sets won.
- the period clock: displayClock "12:34" or "20.2" (under a minute), the numeric `clock` as a
  fallback; soccer counts up ("67'", "90'+5'") and is turned into time left in the half plus
  stoppage played (adapters.espn.fields.parse_soccer_clock). MLB and tennis have no clock.
- football: situation.down/distance; field position from possessionText ("GB 25", seen from
  the team named) or else yardLine, which ESPN measures from the home goal line; down -1 or 0
  (kickoffs, tries) becomes 0. Possession: situation.possession (a team id) or a competitor's
  `possession: true`.
- MLB: the half-inning comes from the status detail ("Top 9th", "Bot 5th", "Mid 4th",
  "End 3rd"); possession is the batting side, and between halves the state is the half about to
  start ("End 3rd" -> period 4, away batting).
- odds[].spread / pickcenter[].spread is the home line (negative = home favoured), so
  home_spread = -spread; read for football and basketball only (MLB/NHL lines are +/-1.5).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from adapters.espn.fields import (
    EspnPayloadError, League, arr, game_status, league as league_for, obj, optional_int,
    parse_clock_text, parse_soccer_clock, score, text, to_decimal,
)
from models.game import GameState, GameStatus

_SPREAD_SPORTS = {"nfl", "ncaaf", "nba", "wnba", "ncaab"}
_FOOTBALL = {"nfl", "ncaaf"}
_HALF = re.compile(r"^\s*(Top|Bot|Bottom|Mid|Middle|End)\b", re.IGNORECASE)
_FIELD = re.compile(r"^\s*([A-Za-z0-9&.' -]+?)\s+(\d{1,2})\s*$")


@dataclass(frozen=True, slots=True)
class ScoreboardParse:
    """Every game found (UNKNOWN ones included) and the parts we could not attribute to a game."""

    states: tuple[GameState, ...]
    errors: tuple[EspnPayloadError, ...]


def parse_scoreboard(payload: dict, league: str, *, observed_at: datetime | None = None) -> list[GameState]:
    """All games of a scoreboard payload. `observed_at` stamps every state (the feed passes its
    clock's now); without it each state carries its event's start date."""
    return list(parse_scoreboard_detailed(payload, league, observed_at=observed_at).states)


def parse_scoreboard_detailed(payload: Any, league: str, *,
                              observed_at: datetime | None = None) -> ScoreboardParse:
    lg = league_for(league)
    events = arr(obj(payload, "payload").get("events"), "events")
    states: list[GameState] = []
    errors: list[EspnPayloadError] = []
    for i, event in enumerate(events):
        path = f"events[{i}]"
        if not isinstance(event, dict):
            errors.append(EspnPayloadError(path, "an object", event))
            continue
        for cpath, comp in _competitions(event, lg, path, errors):
            try:
                states.append(_state_or_unknown(comp, event, lg, cpath, observed_at, None))
            except EspnPayloadError as exc:
                errors.append(exc)
    return ScoreboardParse(tuple(states), tuple(errors))


def parse_summary(payload: Any, league: str, *, observed_at: datetime | None = None) -> GameState:
    """The one game of a summary payload (header.competitions[0], plus the top-level
    situation and pickcenter when present)."""
    lg = league_for(league)
    body = obj(payload, "payload")
    header = obj(body.get("header"), "header")
    comps = arr(header.get("competitions"), "header.competitions")
    if not comps:
        raise EspnPayloadError("header.competitions", "at least one competition", comps)
    comp = obj(comps[0], "header.competitions[0]")
    extra = {"situation": body.get("situation"), "pickcenter": body.get("pickcenter")}
    return _state_or_unknown(comp, header, lg, "header.competitions[0]", observed_at, extra)


def _competitions(event: dict, lg: League, path: str, errors: list[EspnPayloadError]):
    """(path, competition) pairs; tennis nests its matches in groupings[].competitions[]."""
    found = []
    comps = event.get("competitions")
    if isinstance(comps, list) and comps:
        limit = len(comps) if lg.sport == "tennis" else 1
        found += [(f"{path}.competitions[{j}]", c) for j, c in enumerate(comps[:limit])]
    groupings = event.get("groupings")
    if groupings is not None and not isinstance(groupings, list):
        errors.append(EspnPayloadError(f"{path}.groupings", "a list", groupings))
        groupings = None
    for g, grouping in enumerate(groupings or []):
        gcomps = grouping.get("competitions") if isinstance(grouping, dict) else None
        if not isinstance(gcomps, list):
            errors.append(EspnPayloadError(f"{path}.groupings[{g}].competitions", "a list", gcomps))
            continue
        found += [(f"{path}.groupings[{g}].competitions[{j}]", c) for j, c in enumerate(gcomps)]
    if not found:
        errors.append(EspnPayloadError(f"{path}.competitions", "a non-empty list", comps))
    return found


def _state_or_unknown(comp: Any, event: dict, lg: League, path: str,
                      observed_at: datetime | None, extra: dict | None) -> GameState:
    comp = obj(comp, path)
    game_id = comp.get("id") or event.get("id")
    game_id = text(game_id, f"{path}.id")
    try:
        return _state(game_id, comp, event, lg, path, observed_at, extra or {})
    except EspnPayloadError as exc:
        ts = observed_at or _date_or_none(comp, event)
        if ts is None:
            raise EspnPayloadError(f"{path}.date", "an ISO date (or pass observed_at)",
                                   comp.get("date")) from exc
        return GameState(game_id=game_id, sport=lg.sport, ts=ts, status=GameStatus.UNKNOWN,
                         detail=f"unparseable: {exc}")


def _state(game_id: str, comp: dict, event: dict, lg: League, path: str,
           observed_at: datetime | None, extra: dict) -> GameState:
    status_obj = comp.get("status") if comp.get("status") is not None else event.get("status")
    spath = f"{path}.status" if comp.get("status") is not None else "status"
    status_obj = obj(status_obj, spath)
    status = game_status(status_obj, spath)
    ts = observed_at or _date_or_none(comp, event)
    if ts is None:
        raise EspnPayloadError(f"{path}.date", "an ISO date (or pass observed_at)", comp.get("date"))
    home, away = _sides(comp, path)
    hpath, apath = f"{path}.competitors[home]", f"{path}.competitors[away]"
    if lg.sport == "tennis":
        home_score, away_score = _sets_won(home, hpath), _sets_won(away, apath)
    else:
        home_score = score(home.get("score"), f"{hpath}.score")
        away_score = score(away.get("score"), f"{apath}.score")
    period = optional_int(status_obj.get("period"), f"{spath}.period")
    if period is None:
        period = max(len(_linescores(home, hpath)), len(_linescores(away, apath)))
    stype = status_obj.get("type") if isinstance(status_obj.get("type"), dict) else {}
    detail = str(stype.get("shortDetail") or stype.get("detail") or "")
    fields: dict[str, Any] = {}
    if lg.sport == "soccer":
        if status is not GameStatus.SCHEDULED:
            clock, added = parse_soccer_clock(status_obj.get("displayClock"), status_obj.get("clock"), period, spath)
            fields.update(clock_secs=clock, added_time_secs=added)
    elif lg.sport == "tennis":
        sets = _set_scores(home, away)
        detail = f"{detail} {sets}".strip() if sets else detail
    elif lg.sport == "mlb":
        if status in (GameStatus.IN_PROGRESS, GameStatus.DELAYED, GameStatus.SUSPENDED, GameStatus.END_OF_PERIOD):
            period, batting = _half_inning(str(stype.get("detail") or detail), period, status_obj)
            fields["possession"] = batting
    elif status is GameStatus.FINAL:
        fields["clock_secs"] = Decimal(0)
    elif status is not GameStatus.SCHEDULED:
        fields["clock_secs"] = _period_clock(status_obj, spath)
    situation = extra.get("situation") if isinstance(extra.get("situation"), dict) else comp.get("situation")
    if lg.sport not in ("mlb", "tennis", "soccer"):
        poss = _possession(situation, home, away, path)
        if poss is not None:
            fields["possession"] = poss
        if lg.sport in _FOOTBALL and isinstance(situation, dict) and status is not GameStatus.FINAL:
            fields.update(_football(situation, poss, home, away, path))
    if lg.sport in _SPREAD_SPORTS:
        fields["home_spread"] = _home_spread(comp.get("odds"), extra.get("pickcenter"), path)
    return GameState(
        game_id=game_id, sport=lg.sport, ts=ts, status=status,
        home_team=_name(home, hpath), away_team=_name(away, apath),
        home_score=home_score, away_score=away_score, period=period, detail=detail, **fields,
    )


def _date_or_none(comp: dict, event: dict) -> datetime | None:
    for raw in (comp.get("date"), comp.get("startDate"), event.get("date")):
        if isinstance(raw, str) and raw:
            try:
                value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                continue
            if value.tzinfo is not None:
                return value
    return None


def _sides(comp: dict, path: str) -> tuple[dict, dict]:
    competitors = arr(comp.get("competitors"), f"{path}.competitors")
    by_side: dict[str, dict] = {}
    for k, c in enumerate(competitors):
        c = obj(c, f"{path}.competitors[{k}]")
        side = c.get("homeAway")
        if side not in ("home", "away") or side in by_side:
            raise EspnPayloadError(f"{path}.competitors[{k}].homeAway", "one 'home' and one 'away'", side)
        by_side[side] = c
    if len(by_side) != 2:
        raise EspnPayloadError(f"{path}.competitors", "a home and an away competitor", len(competitors))
    return by_side["home"], by_side["away"]


def _name(c: dict, path: str) -> str:
    for holder, keys in (("team", ("abbreviation", "shortDisplayName", "displayName")),
                         ("athlete", ("displayName", "shortName")),
                         ("roster", ("displayName", "shortDisplayName"))):
        h = c.get(holder)
        if isinstance(h, dict):
            for k in keys:
                if isinstance(h.get(k), str) and h[k]:
                    return h[k]
    raise EspnPayloadError(f"{path}.team", "a team, athlete or roster with a name", None)


def _team_id(c: dict) -> str | None:
    team = c.get("team")
    tid = team.get("id") if isinstance(team, dict) else None
    tid = tid if tid is not None else c.get("id")
    return None if tid is None else str(tid)


def _linescores(c: dict, path: str) -> list:
    """A competitor's per-period (per-set) scores; absent, null or empty is none."""
    return arr(c.get("linescores") or [], f"{path}.linescores")


def _sets_won(c: dict, path: str) -> int:
    return sum(1 for s in _linescores(c, path) if isinstance(s, dict) and s.get("winner") is True)


def _set_scores(home: dict, away: dict) -> str:
    """"6-4 3-6 7-6" for the detail text (display only: a set whose games are not whole
    numbers is left out rather than failing the match)."""
    parts = []
    for h, a in zip(_linescores(home, "home"), _linescores(away, "away")):
        games = [_games(x.get("value")) if isinstance(x, dict) else None for x in (h, a)]
        if None not in games:
            parts.append(f"{games[0]}-{games[1]}")
    return " ".join(parts)


def _games(value: Any) -> int | None:
    try:
        d = to_decimal(value, "linescores.value")
    except EspnPayloadError:
        return None
    return int(d) if d >= 0 else None


def _period_clock(status: dict, path: str) -> Decimal | None:
    display = status.get("displayClock")
    if isinstance(display, str) and display.strip():
        try:
            return parse_clock_text(display)
        except ValueError:
            raise EspnPayloadError(f"{path}.displayClock", "'M:SS' or seconds such as '20.2'", display) from None
    if status.get("clock") is not None:
        value = to_decimal(status.get("clock"), f"{path}.clock")
        if value < 0:
            raise EspnPayloadError(f"{path}.clock", "seconds >= 0", status.get("clock"))
        return value
    return None


def _half_inning(detail: str, period: int, status: dict) -> tuple[int, str | None]:
    """(inning, batting side) from "Top 9th" / "Bot 5th" / "Mid 4th" / "End 3rd"."""
    m = _HALF.match(detail)
    word = m.group(1).lower() if m else str(status.get("periodPrefix") or "").lower()
    if word == "top":
        return period, "away"
    if word in ("bot", "bottom", "mid", "middle"):
        return period, "home"
    if word == "end":
        return period + 1, "away"
    return period, None


def _possession(situation: Any, home: dict, away: dict, path: str) -> str | None:
    if isinstance(situation, dict) and situation.get("possession") not in (None, ""):
        pid = str(situation["possession"])
        if pid == _team_id(home):
            return "home"
        if pid == _team_id(away):
            return "away"
        raise EspnPayloadError(f"{path}.situation.possession", "the id of one of the two teams", pid)
    if home.get("possession") is True and away.get("possession") is not True:
        return "home"
    if away.get("possession") is True and home.get("possession") is not True:
        return "away"
    return None


def _football(sit: dict, poss: str | None, home: dict, away: dict, path: str) -> dict:
    spath = f"{path}.situation"
    out: dict[str, Any] = {}
    down = optional_int(sit.get("down"), f"{spath}.down")
    if down is not None:
        if down > 4:
            raise EspnPayloadError(f"{spath}.down", "a down from 1 to 4 (or -1/0 between plays)", down)
        out["down"] = max(0, down)
    distance = optional_int(sit.get("distance"), f"{spath}.distance")
    if distance is not None and distance >= 0:
        out["distance"] = distance
    if poss is not None:
        yte = _yards_to_endzone(sit, poss, home, away, spath)
        if yte is not None:
            out["yards_to_endzone"] = yte
    return out


def _yards_to_endzone(sit: dict, poss: str, home: dict, away: dict, path: str) -> int | None:
    ptext = sit.get("possessionText")
    if isinstance(ptext, str):
        if ptext.strip() == "50":
            return 50
        m = _FIELD.match(ptext)
        if m:
            side, n = m.group(1).strip().upper(), int(m.group(2))
            mine, theirs = (home, away) if poss == "home" else (away, home)
            if side == _abbr(mine):
                return 100 - n
            if side == _abbr(theirs):
                return n
    yard_line = optional_int(sit.get("yardLine"), f"{path}.yardLine")
    if yard_line is None:
        return None
    if not 0 <= yard_line <= 100:
        raise EspnPayloadError(f"{path}.yardLine", "a yard line from 0 to 100", yard_line)
    return 100 - yard_line if poss == "home" else yard_line


def _abbr(c: dict) -> str:
    team = c.get("team")
    return str(team.get("abbreviation", "")).upper() if isinstance(team, dict) else ""


def _home_spread(odds: Any, pickcenter: Any, path: str) -> Decimal | None:
    for source, name in ((odds, "odds"), (pickcenter, "pickcenter")):
        if not isinstance(source, list):
            continue
        for k, line in enumerate(source):
            if isinstance(line, dict) and line.get("spread") is not None:
                return -to_decimal(line["spread"], f"{path}.{name}[{k}].spread") + Decimal(0)
    return None
