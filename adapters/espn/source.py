"""Synchronous ESPN access for the GameFeed's gateway.

One daemon thread runs one asyncio loop that owns the EspnClient and its aiohttp session
(DESIGN.md §8); calls hand it a coroutine and wait with a timeout. Only the gateway
(a RateLimiter actor dedicated to ESPN) calls it, so ESPN's errors are translated here into
the gateway's VenueError types.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Coroutine

from adapters.espn.client import EspnClient
from adapters.espn.fields import EspnError, EspnPayloadError
from models.venue import MalformedPayload, VenueUnavailable
from models.game import GameState


class EspnSource:
    name = "espn"

    def __init__(self, client: EspnClient, *, timeout_secs: float = 20.0) -> None:
        self._client = client
        self._timeout = timeout_secs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="espn-io", daemon=True)
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=self._timeout)
        except TimeoutError:
            future.cancel()
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
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
