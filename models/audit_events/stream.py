"""Audit events of the market-data WebSocket and each market's feed (adapters/kalshi/stream.py,
stream_health.py; QUOTES_BACK from actors/price_cache_watch.py; models/audit_events/base.py: the shape)."""
from __future__ import annotations

from dataclasses import dataclass

from models.audit_events.base import AuditEvent, console


@dataclass(frozen=True, kw_only=True)
class StreamConnected(AuditEvent):
    EVENT = "STREAM_CONNECTED"
    WHEN = "the market-data WebSocket connected (it then subscribes the markets wanted)"

    connection: int                        # the connection's number, counted from 1 per process
    markets: int                           # markets to subscribe
    use_yes_price: bool

    def _text(self) -> str:
        return (f"market data: WebSocket connected (connection {self.connection}); "
                f"subscribing {self.markets} markets")


@dataclass(frozen=True, kw_only=True)
class StreamDisconnected(AuditEvent):
    EVENT = "STREAM_DISCONNECTED"
    WHEN = "the market-data WebSocket went down: its markets are polled from REST until it is back"

    connection: int
    reason: str
    attempt: int                           # reconnect attempts in a row
    retry_in_secs: float                   # the back-off before the next connect (rounded to ms)
    polled: int | None = console()         # markets now polled
    wait_secs: float | None = console()    # the back-off unrounded, as the console line shows it

    def _text(self) -> str:
        wait = self.retry_in_secs if self.wait_secs is None else self.wait_secs
        return (f"market data: WebSocket down ({self.reason}); {self.polled} markets polled; "
                f"reconnecting in {wait:.1f} s")


@dataclass(frozen=True, kw_only=True)
class StreamError(AuditEvent):
    EVENT = "STREAM_ERROR"
    WHEN = ("the WebSocket said something Arbees cannot use: an error answer, an unreadable frame, a stale or "
            "crossed book")

    kind: str                              # "error <code>" / unreadable frame / stale book / crossed book
    error: str
    code: int | None = None                # the venue's error code
    channel: str | None = None             # the subscription the error answers
    markets: tuple[str, ...] | None = None

    def _text(self) -> str:
        return f"market data: {self.kind}: {self.error}"


@dataclass(frozen=True, kw_only=True)
class MarketStreamed(AuditEvent):
    EVENT = "MARKET_STREAMED"
    WHEN = "markets polled from REST are streamed again (their book snapshot came)"

    markets: tuple[str, ...]
    streamed: int                          # markets streamed now
    wanted: int                            # markets wanted

    def _text(self) -> str:
        return f"market data: {len(self.markets)} market(s) streamed ({self.streamed} of {self.wanted})"


@dataclass(frozen=True, kw_only=True)
class MarketPolled(AuditEvent):
    EVENT = "MARKET_POLLED"
    WHEN = "streamed markets fall back to REST polling (the stream dropped, a gap, a crossed or silent book)"

    markets: tuple[str, ...]
    reason: str

    def _text(self) -> str:
        return f"market data: {len(self.markets)} market(s) polled from REST: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class QuotesBack(AuditEvent):
    EVENT = "QUOTES_BACK"
    WHEN = ("markets an ALERT said had no current quote (monitoring.quote_stale_alert_secs) are known again: a "
            "quote was read or pushed, or the stream serves them")
    ALERT = True        # the person paged "no current quote" gets the all-clear; an INFO line (good news)

    markets: tuple[str, ...]
    positions: tuple[str, ...]             # the open positions on them
    blind_secs: int                        # the longest time without a current quote among them
    reason: str                            # why they had none, as the ALERT said

    def _text(self) -> str:
        return (f"{', '.join(self.markets)}: quotes back after {self.blind_secs} s without a current quote "
                f"({self.reason}); positions {', '.join(self.positions)}")


__all__ = ["StreamConnected", "StreamDisconnected", "StreamError", "MarketStreamed", "MarketPolled", "QuotesBack"]
