"""aiohttp client for ESPN's site API: scoreboard and summary, parsed into GameState.

URLs: {base_url}/{sport}/{league}/scoreboard and {base_url}/{sport}/{league}/summary?event=ID,
base_url defaulting to https://site.api.espn.com/apis/site/v2/sports. The client is meant to be
owned by the one event-loop thread (DESIGN.md section 8): the session is made lazily by
`session_factory` inside that loop, and `close()` releases it. Time stamps come from the
injected clock; nothing here reads the wall clock. Network trouble, timeouts, non-200 answers
and bodies that are not JSON raise EspnUnavailable (worth retrying later); a JSON body we cannot
read raises EspnPayloadError, and individual odd games come back as UNKNOWN states.
"""
from __future__ import annotations

import asyncio
import re
from typing import Any, Callable

import aiohttp

from actors.clock import Clock
from adapters.espn.fields import EspnError, league as league_for
from adapters.espn.parse import ScoreboardParse, parse_scoreboard_detailed, parse_summary
from models.game import GameState

DEFAULT_BASE_URL = "https://site.api.espn.com/apis/site/v2/sports"
_EVENT_ID = re.compile(r"^[A-Za-z0-9-]{1,40}$")


class EspnUnavailable(EspnError):
    """ESPN did not answer usefully (network, timeout, HTTP status, not JSON): retry later."""

    retryable = True


class EspnClient:
    def __init__(self, clock: Clock, *, base_url: str = DEFAULT_BASE_URL,
                 session_factory: Callable[[], aiohttp.ClientSession] | None = None,
                 timeout_secs: float = 10.0) -> None:
        self._clock = clock
        self._base_url = base_url.rstrip("/")
        self._timeout_secs = timeout_secs
        self._session_factory = session_factory or self._default_session
        self._session: aiohttp.ClientSession | None = None

    def _default_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_secs),
                                     headers={"Accept": "application/json"})

    async def __aenter__(self) -> "EspnClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, league: str, endpoint: str) -> str:
        lg = league_for(league)
        return f"{self._base_url}/{lg.espn_sport}/{lg.slug}/{endpoint}"

    async def fetch_scoreboard(self, league: str) -> list[GameState]:
        return list((await self.fetch_scoreboard_detailed(league)).states)

    async def fetch_scoreboard_detailed(self, league: str) -> ScoreboardParse:
        """The scoreboard, with the parts that could not be attributed to a game."""
        payload = await self._get_json(self.url(league, "scoreboard"), {})
        return parse_scoreboard_detailed(payload, league, observed_at=self._clock.now())

    async def fetch_summary(self, league: str, event_id: str) -> GameState:
        if not _EVENT_ID.match(str(event_id)):
            raise ValueError(f"event_id {event_id!r}: expected letters, digits or '-'")
        payload = await self._get_json(self.url(league, "summary"), {"event": str(event_id)})
        return parse_summary(payload, league, observed_at=self._clock.now())

    async def _get_json(self, url: str, params: dict[str, str]) -> Any:
        if self._session is None:
            self._session = self._session_factory()
        try:
            async with self._session.get(url, params=params) as resp:
                if resp.status != 200:
                    raise EspnUnavailable(f"GET {url}: HTTP {resp.status}")
                try:
                    return await resp.json(content_type=None)
                except (ValueError, RecursionError) as exc:   # RecursionError: nested 1,000 deep
                    raise EspnUnavailable(f"GET {url}: the body is not JSON") from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise EspnUnavailable(f"GET {url}: {type(exc).__name__}: {exc}") from exc
