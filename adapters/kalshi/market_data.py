"""Live market data for the engine: the stream's settings, how it is started, and what `status` says of it.

The MarketStream actor (adapters/kalshi/stream.py) keeps the WebSocket; `start_market_stream`
builds it on an engine whose venue is a KalshiVenue (the connection lives on the venue's event
loop, beside its HTTP session) and tells the PriceCache. `python run.py live` starts it unless
`--poll-only` is given; `describe_market_data` is the line `status` prints from the HEARTBEAT.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loguru import logger

from models.commands import FeedMarketsTo

POLL_ONLY = {"connection": "off", "mode": "polled (--poll-only)"}


@dataclass(frozen=True, slots=True)
class StreamSettings:
    use_yes_price: bool = False          # NO levels in NO prices (sent explicitly either way)
    dead_after_secs: int = 30            # no frame and no ping for this long: the connection is dead (pings: ~10 s)
    book_silence_secs: int = 60          # a streamed book with no message for this long is re-snapshot ...
    resnapshot_timeout_secs: int = 5     # ... and polled if the snapshot does not come within this
    check_every_secs: int = 1
    reconnect_base_secs: float = 1.0
    reconnect_cap_secs: float = 60.0
    announce_every_secs: int = 15        # the cache is told the streamed markets again (it may have restarted)


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """The stream's own timer: health check every check_every_secs."""
    generation: int


@dataclass(frozen=True, slots=True)
class Reconnect:
    generation: int


@dataclass(frozen=True, slots=True)
class PushQuotes:
    """Sent by the stream to itself: the frames already queued are applied first, so a burst of
    deltas (a level removed, another added) is pushed as one quote, never its halfway books."""


def start_market_stream(system, venue, *, settings: StreamSettings = StreamSettings(), seed: int = 0) -> Any:  # type: ignore[no-untyped-def]
    """Start the stream for an engine whose venue is a KalshiVenue, and tell the PriceCache."""
    from adapters.kalshi.stream import MarketStream
    from adapters.kalshi.ws_connection import KalshiWsConnection

    connection = KalshiWsConnection(venue.client.open_websocket, venue.submit, use_yes_price=settings.use_yes_price)
    refs = system.refs
    ref = MarketStream.start(system.rt, connection, refs.price_cache, refs.exit_router, refs.supervisor,
                             settings=settings, seed=seed)
    system.rt.send(refs.price_cache, FeedMarketsTo(ref))
    logger.info("market data: streaming over {} (REST is the fallback)", venue.client.ws_url)
    return ref


def describe_market_data(md: dict[str, Any] | None) -> str | None:
    """One line for `status`, from the last HEARTBEAT's `market_data` (None: the engine has no stream)."""
    if not md:
        return None
    if md.get("connection") == "off":
        return "Market data: REST polling only (--poll-only)"
    link = {"up": "WebSocket up", "connecting": "WebSocket connecting", "down": "WebSocket DOWN"}.get(
        md.get("connection"), str(md.get("connection")))
    text = f"Market data: {link}, {md.get('streamed', 0)} of {md.get('wanted', 0)} markets streamed"
    polled = md.get("polled") or {}
    if polled:
        shown = "; ".join(f"{t}: {why}" for t, why in list(polled.items())[:5])
        more = md.get("polled_count", len(polled)) - min(5, len(polled))
        text += f", polled from REST: {shown}" + (f" (and {more} more)" if more > 0 else "")
    if md.get("reconnect_attempts"):
        text += f"; {md['reconnect_attempts']} failed reconnects in a row"
    return text
