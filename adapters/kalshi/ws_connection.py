"""The WebSocket to Kalshi: I/O only. It connects when told, sends the commands it is handed,
parses every frame once (ws_protocol.py) and reports what happened as frozen events to a sink
(the MarketStream actor, adapters/kalshi/stream.py), which owns every decision: what to
subscribe, books, sequence checks, health, reconnecting.

It runs on the KalshiVenue's event-loop thread, on the session the REST client already owns
(DESIGN.md §8: one loop, one session). Pings are answered here and reported (a ping is proof
that the connection lives). Each connection has a number (`conn`): events of an older one
arrive late after a reconnect and are ignored by the actor.

Secrets: the signed headers are built by the client for the handshake and never kept, logged
or put into an event; a failed handshake is reported by its type and HTTP status only.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine

import aiohttp
from loguru import logger

from adapters.kalshi.ws_protocol import parse_frame
from models.venue import MalformedPayload

SHUTDOWN_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class WsOpened:
    conn: int


@dataclass(frozen=True, slots=True)
class WsFrames:
    """Frames read together (they were waiting in the socket's buffer at once): the actor applies
    them all before it pushes a quote, so a burst (a level removed, another added) never shows
    its halfway book."""
    conn: int
    frames: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class WsAlive:
    """A ping (or a frame of a channel not used): the connection lives."""
    conn: int


@dataclass(frozen=True, slots=True)
class WsUnreadable:
    conn: int
    error: str


@dataclass(frozen=True, slots=True)
class WsClosed:
    conn: int
    reason: str


def _buffered(ws: aiohttp.ClientWebSocketResponse) -> bool:
    """Another message is already read from the socket (aiohttp's reader queue holds it)."""
    buffer = getattr(getattr(ws, "_reader", None), "_buffer", None)
    return bool(buffer)


def describe(exc: BaseException) -> str:
    """What went wrong, without the request: never the headers (they carry the signature)."""
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"handshake refused (HTTP {exc.status})"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__} (HTTP {exc.status})"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "no answer (timeout)"
    text = str(exc)
    return type(exc).__name__ + (f": {text[:160]}" if text and "KALSHI-" not in text else "")


class KalshiWsConnection:
    """One WebSocket at a time. `open_socket()` is a coroutine function returning a connected
    aiohttp ClientWebSocketResponse (KalshiClient.open_websocket); `submit(coro)` runs a
    coroutine on the loop that owns it (KalshiVenue.submit)."""

    def __init__(self, open_socket: Callable[[], Awaitable[aiohttp.ClientWebSocketResponse]],
                 submit: Callable[[Coroutine[Any, Any, Any]], concurrent.futures.Future], *,
                 use_yes_price: bool) -> None:
        self._open_socket = open_socket
        self._submit = submit
        self.use_yes_price = use_yes_price
        self._sink: Callable[[Any], None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._conn = 0
        self._task: concurrent.futures.Future | None = None
        self.frames = 0            # events reported
        self.received = 0          # text frames and pings read on this connection (tests wait on it)
        self.sent = 0              # commands sent on this connection
        self._sending: set[concurrent.futures.Future] = set()   # handed to the loop, not yet written

    def bind(self, sink: Callable[[Any], None]) -> None:
        """Where events go; called from the loop thread, so `sink` must be thread-safe."""
        self._sink = sink

    # ---- called from any thread -------------------------------------------------------------

    def open(self, conn: int) -> None:
        self._task = self._try(self._run(conn))

    def send(self, conn: int, command: dict) -> None:
        fut = self._try(self._send(conn, json.dumps(command)))
        if fut is not None:
            self._sending.add(fut)
            fut.add_done_callback(self._sending.discard)

    @property
    def sending(self) -> int:
        """Commands handed to the loop and not yet written or dropped (tests wait on it)."""
        return len(self._sending)

    def close(self, conn: int) -> None:
        self._try(self._close(conn))

    def shutdown(self) -> None:
        """Close the socket and stop reading (bounded wait)."""
        self._sink = None
        closing = self._try(self._close(self._conn))
        for fut in (closing, self._task):
            if fut is not None:
                try:
                    fut.result(timeout=SHUTDOWN_WAIT_S)
                except Exception:  # noqa: BLE001 - shutting down: say nothing more
                    pass

    def _try(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future | None:
        try:
            return self._submit(coro)
        except RuntimeError:       # the venue's loop is closed: the engine is stopping
            return None

    # ---- on the loop --------------------------------------------------------------------------

    def _emit(self, event: Any) -> None:
        sink = self._sink
        if sink is not None:
            sink(event)
        self.frames += 1

    async def _run(self, conn: int) -> None:
        if self._ws is not None:
            await self._ws.close()
        self._conn = conn
        try:
            ws = await self._open_socket()
        except Exception as exc:  # noqa: BLE001 - every failure to connect is reported, by kind only
            self._emit(WsClosed(conn, f"connect failed: {describe(exc)}"))
            return
        self._ws = ws
        self.received = self.sent = 0       # counted per connection
        self._emit(WsOpened(conn))
        reason = "closed by the server"
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    texts = [msg.data]
                    while _buffered(ws) and len(texts) < 500:
                        more = await ws.receive()
                        if more.type is not aiohttp.WSMsgType.TEXT:
                            await self._control(conn, ws, more)
                            break
                        texts.append(more.data)
                    self._frames(conn, texts)
                    self.received += len(texts)
                elif msg.type is aiohttp.WSMsgType.PING:
                    await ws.pong(msg.data)
                    self._emit(WsAlive(conn))
                    self.received += 1
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    reason = f"connection error: {describe(ws.exception() or RuntimeError('unknown'))}"
                    break
        except Exception as exc:  # noqa: BLE001 - a broken read ends this connection, reported
            reason = f"read failed: {describe(exc)}"
        finally:
            if self._ws is ws:
                self._ws = None
            try:
                await ws.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
            if ws.close_code is not None and reason == "closed by the server":
                reason = f"closed by the server (code {ws.close_code})"
            self._emit(WsClosed(conn, reason))

    async def _control(self, conn: int, ws: aiohttp.ClientWebSocketResponse, msg: aiohttp.WSMessage) -> None:
        if msg.type is aiohttp.WSMsgType.PING:
            await ws.pong(msg.data)
            self._emit(WsAlive(conn))
            self.received += 1

    def _frames(self, conn: int, texts: list[str]) -> None:
        frames = []
        for text in texts:
            try:
                frame = parse_frame(text, use_yes_price=self.use_yes_price)
            except MalformedPayload as exc:
                self._emit(WsUnreadable(conn, str(exc)))
                continue
            if frame is not None:
                frames.append(frame)
        self._emit(WsFrames(conn, tuple(frames)) if frames else WsAlive(conn))

    async def _send(self, conn: int, text: str) -> None:
        ws = self._ws
        if ws is None or conn != self._conn or ws.closed:
            return      # that connection is gone: the actor resubscribes on the next one
        try:
            await ws.send_str(text)
            self.sent += 1
        except Exception as exc:  # noqa: BLE001 - the read loop reports the closed connection
            logger.debug("market data: a command was not sent ({})", describe(exc))

    async def _close(self, conn: int) -> None:
        ws = self._ws
        if ws is not None and conn == self._conn:
            await ws.close()
