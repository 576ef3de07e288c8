"""ESPN game feed: parse scoreboard / summary payloads into GameState, and fetch them.

One import point for the feed's public API; the parts live in
- adapters.espn.fields: EspnPayloadError, leagues, statuses, clock parsing;
- adapters.espn.parse: parse_scoreboard, parse_summary (pure);
- adapters.espn.client: EspnClient (aiohttp), EspnUnavailable.

Leagues: nfl, college-football, nba, wnba, mens-college-basketball, nhl, mlb, atp, wta and soccer
league slugs (eng.1, usa.1, esp.1, uefa.champions, ...). GameState.sport is our short key:
nfl, ncaaf, nba, wnba, ncaab, nhl, mlb, soccer, tennis.
"""
from __future__ import annotations

from adapters.espn.client import DEFAULT_BASE_URL, EspnClient, EspnUnavailable
from adapters.espn.fields import (
    EspnError, EspnPayloadError, League, game_status, league, parse_clock_text, parse_soccer_clock,
)
from adapters.espn.parse import ScoreboardParse, parse_scoreboard, parse_scoreboard_detailed, parse_summary

__all__ = [
    "DEFAULT_BASE_URL", "EspnClient", "EspnError", "EspnPayloadError", "EspnUnavailable", "League",
    "ScoreboardParse", "game_status", "league", "parse_clock_text", "parse_scoreboard",
    "parse_scoreboard_detailed", "parse_soccer_clock", "parse_summary",
]
