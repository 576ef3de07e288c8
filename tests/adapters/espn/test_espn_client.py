"""EspnClient against a tiny aiohttp server run in-process on 127.0.0.1 (never the internet)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web

from actors.clock import VirtualClock
from adapters.espn import EspnClient, EspnPayloadError, EspnUnavailable
from models.game import GameStatus

NOW = datetime(2025, 6, 1, 20, 0, tzinfo=timezone.utc)


def _event(event_id: str, home: str, away: str, hs: str, as_: str) -> dict:
    return {"id": event_id, "date": "2025-06-01T18:00Z", "competitions": [{
        "id": event_id, "date": "2025-06-01T18:00Z",
        "status": {"clock": 431.0, "displayClock": "7:11", "period": 3,
                   "type": {"name": "STATUS_IN_PROGRESS", "state": "in", "shortDetail": "7:11 - 3rd"}},
        "competitors": [{"homeAway": "home", "score": hs, "team": {"id": "1", "abbreviation": home}},
                        {"homeAway": "away", "score": as_, "team": {"id": "2", "abbreviation": away}}]}]}


class FakeEspn:
    """Records each request; answers from `routes` (path -> (status, body))."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []
        self.routes: dict[str, tuple[int, object]] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.query)))
        status, body = self.routes.get(request.path, (404, {"error": "not found"}))
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html")
        return web.json_response(body, status=status)


async def _serve(fake: FakeEspn) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]          # the free port the OS chose
    return runner, f"http://127.0.0.1:{port}/apis/site/v2/sports"


def run(coro):
    return asyncio.run(coro)


def test_scoreboard_is_fetched_from_the_site_api_path_and_parsed():
    async def scenario():
        fake = FakeEspn()
        fake.routes["/apis/site/v2/sports/basketball/nba/scoreboard"] = (
            200, {"events": [_event("401", "IND", "NY", "71", "64"), _event("402", "BOS", "MIA", "50", "55")]})
        runner, base = await _serve(fake)
        try:
            async with EspnClient(VirtualClock(NOW), base_url=base) as client:
                states = await client.fetch_scoreboard("nba")
        finally:
            await runner.cleanup()
        return fake, states

    fake, states = run(scenario())
    assert fake.requests == [("/apis/site/v2/sports/basketball/nba/scoreboard", {})]
    assert [(s.game_id, s.home_team, s.home_score, s.away_score, s.ts) for s in states] == [
        ("401", "IND", 71, 64, NOW), ("402", "BOS", 50, 55, NOW)]
    assert states[0].status is GameStatus.IN_PROGRESS and states[0].period == 3


def test_summary_sends_the_event_id_and_league_paths_cover_soccer_and_tennis():
    async def scenario():
        fake = FakeEspn()
        fake.routes["/apis/site/v2/sports/football/college-football/summary"] = (
            200, {"header": {"id": "777", "competitions": _event("777", "ALA", "DUKE", "21", "3")["competitions"]}})
        fake.routes["/apis/site/v2/sports/soccer/eng.1/scoreboard"] = (200, {"events": []})
        fake.routes["/apis/site/v2/sports/tennis/atp/scoreboard"] = (200, {"events": []})
        runner, base = await _serve(fake)
        try:
            client = EspnClient(VirtualClock(NOW), base_url=base)
            state = await client.fetch_summary("college-football", "777")
            assert await client.fetch_scoreboard("eng.1") == []
            assert await client.fetch_scoreboard("atp") == []
            await client.close()
        finally:
            await runner.cleanup()
        return fake, state

    fake, state = run(scenario())
    assert fake.requests[0] == ("/apis/site/v2/sports/football/college-football/summary", {"event": "777"})
    assert [r[0] for r in fake.requests[1:]] == ["/apis/site/v2/sports/soccer/eng.1/scoreboard",
                                                 "/apis/site/v2/sports/tennis/atp/scoreboard"]
    assert (state.game_id, state.sport, state.home_score, state.away_score) == ("777", "ncaaf", 21, 3)


@pytest.mark.parametrize("status,body,message", [
    (500, {"error": "boom"}, "HTTP 500"),
    (404, {"error": "nope"}, "HTTP 404"),
    (200, "<html>maintenance</html>", "not JSON"),
])
def test_bad_answers_are_unavailable_not_crashes(status, body, message):
    async def scenario():
        fake = FakeEspn()
        fake.routes["/apis/site/v2/sports/hockey/nhl/scoreboard"] = (status, body)
        runner, base = await _serve(fake)
        try:
            async with EspnClient(VirtualClock(NOW), base_url=base) as client:
                with pytest.raises(EspnUnavailable, match=message):
                    await client.fetch_scoreboard("nhl")
        finally:
            await runner.cleanup()

    run(scenario())


def test_a_json_body_of_the_wrong_shape_names_the_field():
    async def scenario():
        fake = FakeEspn()
        fake.routes["/apis/site/v2/sports/baseball/mlb/scoreboard"] = (200, {"events": "soon"})
        runner, base = await _serve(fake)
        try:
            async with EspnClient(VirtualClock(NOW), base_url=base) as client:
                with pytest.raises(EspnPayloadError, match="field events: expected a list"):
                    await client.fetch_scoreboard("mlb")
        finally:
            await runner.cleanup()

    run(scenario())


def test_a_closed_port_is_unavailable():
    async def scenario():
        fake = FakeEspn()
        runner, base = await _serve(fake)
        await runner.cleanup()                      # nothing listens there any more
        async with EspnClient(VirtualClock(NOW), base_url=base) as client:
            with pytest.raises(EspnUnavailable, match="ClientConnectorError"):
                await client.fetch_summary("nba", "401")

    run(scenario())


class TimingOutSession:
    """A session whose every request times out, to check the translation without waiting."""

    def __init__(self) -> None:
        self.closed = False

    def get(self, url, params=None):
        raise asyncio.TimeoutError()

    async def close(self) -> None:
        self.closed = True


def test_a_timeout_is_unavailable_and_the_injected_session_is_closed():
    sessions: list[TimingOutSession] = []

    def factory():
        sessions.append(TimingOutSession())
        return sessions[-1]

    async def scenario():
        client = EspnClient(VirtualClock(NOW), session_factory=factory)
        assert sessions == []                        # made lazily, inside the loop
        with pytest.raises(EspnUnavailable, match="TimeoutError"):
            await client.fetch_scoreboard("nfl")
        with pytest.raises(EspnUnavailable):
            await client.fetch_scoreboard("nfl")
        await client.close()

    run(scenario())
    assert len(sessions) == 1 and sessions[0].closed


def test_event_ids_and_leagues_are_checked_before_any_request():
    async def scenario():
        client = EspnClient(VirtualClock(NOW), session_factory=lambda: pytest.fail("no request expected"))
        with pytest.raises(ValueError, match="event_id"):
            await client.fetch_summary("nba", "1?x=2")
        with pytest.raises(ValueError, match="unknown ESPN league"):
            await client.fetch_scoreboard("quidditch")
        assert client.url("eng.1", "scoreboard").endswith("/soccer/eng.1/scoreboard")

    run(scenario())


def test_the_default_session_is_an_aiohttp_session():
    async def scenario():
        client = EspnClient(VirtualClock(NOW))
        session = client._default_session()
        try:
            assert isinstance(session, aiohttp.ClientSession)
        finally:
            await session.close()

    run(scenario())
