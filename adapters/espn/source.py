"""Synchronous ESPN access for the GameFeed's gateway.

One adapters/event_loop.py LoopThread owns the EspnClient and its aiohttp session (DESIGN.md §8);
calls hand it a coroutine and wait with a timeout. Only the gateway
(a RateLimiter actor dedicated to ESPN) calls it, so ESPN's errors are translated here into
the gateway's VenueError types.
"""
from __future__ import annotations

from typing import Any, Coroutine

from adapters.event_loop import LoopThread
from adapters.espn.client import EspnClient
from adapters.espn.fields import EspnError, EspnPayloadError
from models.venue import MalformedPayload, VenueUnavailable
from models.game import GameState


class EspnSource:
    name = "espn"

    def __init__(self, client: EspnClient, *, timeout_secs: float = 20.0) -> None:
        self._client = client
        self._timeout = timeout_secs
        self._io = LoopThread("espn-io")   # owns the client's aiohttp session

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return self._io.run(coro, timeout=self._timeout)
        except TimeoutError:
            raise VenueUnavailable(f"espn: no answer within {self._timeout}s") from None

    def fetch_summary(self, league: str, event_id: str) -> GameState:
        """The game's state. ESPN's errors become the gateway's (a skipped round, no traceback):
        MalformedPayload for a payload we cannot read, VenueUnavailable for the rest."""
        try:
            return self._run(self._client.fetch_summary(league, event_id))
        except EspnPayloadError as exc:
            raise MalformedPayload(f"espn {league} {event_id}: {exc}") from exc
        except (EspnError, ValueError) as exc:
            raise VenueUnavailable(f"espn {league} {event_id}: {exc}") from exc

    def close(self) -> None:
        self._io.close(self._client.close())
