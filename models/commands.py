"""The actor protocol, commands: what an actor is asked to do (imperative names).

Events (what happened, past tense) are in models/events.py; the Store's writes and asks in
models/store_commands.py; timer messages an actor sends itself are private to that actor's
module. The table of who receives, sends and asks what is docs/architecture.md ("The actor
protocol"), kept current by tests/system/test_protocol.py.

`reply_to` fields hold a pykka ActorRef (an immutable handle). pykka does not copy messages,
so nothing mutable goes in here: tuples, not lists.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from models.position import PositionState
from models.orders import OrderRequest
from models.signal import TradingSignal


class CallKind:
    EXIT = 0      # exit orders, their cancels and look-ups: served first
    ENTRY = 1
    READ = 2


@dataclass(frozen=True, slots=True)
class VenueCall:
    request_id: str
    kind: int
    method: str
    args: tuple[Any, ...]
    reply_to: Any
    priority: int = 3          # within a kind: the exit priority (CRITICAL 0 first)


@dataclass(frozen=True, slots=True)
class WithdrawCall:
    """Executor -> RateLimiter: take this call back if it is still waiting, never made (it is
    answered CallWithdrawn and never reaches the venue); one made or being made is answered as usual."""
    request_id: str


@dataclass(frozen=True, slots=True)
class ExpediteCall:
    """Executor -> RateLimiter: this call, if it is still waiting, goes at this exit priority
    (a preempted exit's cancel and look-ups go at the priority of the exit that preempts it)."""
    request_id: str
    priority: int


@dataclass(frozen=True, slots=True)
class GetQuote:
    ticker: str
    reply_to: Any
    request_id: str = ""
    # Only a quote newer than this will do (the PriceCache reads the venue rather than answer
    # from an older cached one): an exit's IOC that found too little proved the book it was
    # priced from gone.
    newer_than: datetime | None = None
    # The exit priority of the asker that prices an order from the answer: a read it needs goes as
    # that exit's call when CRITICAL or HIGH (a stop's book never waits behind LOW work or polling).
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    ticker: str
    subscriber: Any
    key: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    ticker: str
    key: str


@dataclass(frozen=True, slots=True)
class StartPosition:
    state: PositionState
    applied_fills: frozenset[str] = frozenset()   # exit fills already counted in `state`


@dataclass(frozen=True, slots=True)
class Preempt:
    """Router -> executor: a more urgent exit takes over: cancel, confirm, report what filled, end.
    `priority`: the preempting exit's; the preempted exit's venue calls go at it from now on."""
    priority: int


@dataclass(frozen=True, slots=True)
class CancelExit:
    """Stop an exit (the position closed by settlement): cancel its order and end."""


@dataclass(frozen=True, slots=True)
class HaltEntries:
    reason: str


@dataclass(frozen=True, slots=True)
class ResumeEntries:
    """The breaker was cleared (the trading day ended): entries may open positions again."""


@dataclass(frozen=True, slots=True)
class RebalanceOffer:
    """EntryManager -> position: a signal blocked by the caps
    could use your capital; answer with your current edge (RebalanceEdge)."""
    signal_id: str


@dataclass(frozen=True, slots=True)
class RebalanceExit:
    """EntryManager -> the weakest position: exit for the signal (the rebalance rule, LOW)."""
    signal_id: str
    edge: Decimal


@dataclass(frozen=True, slots=True)
class ForwardToPosition:
    """Supervisor: deliver `message` to one position's actor."""
    position_id: str
    message: Any


@dataclass(frozen=True, slots=True)
class ForwardToMarket:
    """Supervisor: deliver `message` to every position in `ticker`."""
    ticker: str
    message: Any


@dataclass(frozen=True, slots=True)
class RestoreExposure:
    """On restart: open positions rebuilt from the database count toward caps and keys."""
    positions: tuple[PositionState, ...]


@dataclass(frozen=True, slots=True)
class HoldUnconfirmedEntry:
    """On restart: an entry order start-up reconciliation could not confirm (the venue did not
    answer). Its market and side stay reserved and its most it can cost (limit x count) counts
    in the exposure caps, and the EntryManager looks it up until the venue answers."""
    request: OrderRequest
    signal: TradingSignal | None


@dataclass(frozen=True, slots=True)
class ResumePendingSignals:
    """At start, after RestoreExposure: decide the signals the last process left pending."""


@dataclass(frozen=True, slots=True)
class PriorCalls:
    """RateLimiter: venue calls made outside it (start-up reconciliation, the previous process)
    that still count against this minute's budget."""
    times: tuple[datetime, ...]


@dataclass(frozen=True, slots=True)
class FollowGames:
    """Supervisor: from now on, tell this GameFeed about the game of every position it starts."""
    game_feed: Any


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Watchdog -> a core actor (through its handle); answered with HeartbeatAck."""
    reply_to: Any
    seq: int


@dataclass(frozen=True, slots=True)
class Rebuild:
    """To a core actor just restarted, before anything else: rebuild from persisted state.
    `skip`: positions start-up left alone (unconfirmed orders); a restarted Supervisor too."""
    skip: frozenset = frozenset()


@dataclass(frozen=True, slots=True)
class WatchGame:
    """Supervisor -> GameFeed: follow this game on ESPN for these markets (actors/game_feed.py
    watch_for_position says which)."""
    game_id: str
    league: str
    tickers: tuple[str, ...]


# --- live market data over the venue's WebSocket (adapters/kalshi/stream.py) ---------------------

@dataclass(frozen=True, slots=True)
class FeedMarketsTo:
    """To the PriceCache from the market-data stream (and again now and then, so a restarted
    cache learns it back): tell `feed` the markets of interest (StreamMarkets) from now on;
    `streamed` are the markets the stream serves now."""
    feed: Any
    streamed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamMarkets:
    """PriceCache -> the stream: every market whose quotes the engine needs now (the markets of
    open positions and of quotes asked for an entry lately)."""
    tickers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CancelExitFor:
    """Position -> ExitRouter: stop the exit in flight for this position (its market was settled:
    no walk, no escalation into a settled market); the exit ends as usual (ExitEnded)."""
    position_id: str


# --- quiet bands (issue 14, models/exit_band.py) -----------------------------------------------

@dataclass(frozen=True, slots=True)
class BandChanged:
    """Position -> PriceCache: send me only the quotes that leave `band` (None: send me every
    quote). The cache drops the band when it delivers a quote (the position sends a new one)."""
    ticker: str
    key: str
    band: Any      # models.exit_band.QuietBand | None


@dataclass(frozen=True, slots=True)
class ReleaseBand:
    """Position -> PriceCache: drop my band and tell me the last quote I would have been sent
    (BandReleased): something other than a quote needs my state as if I had seen every quote."""
    ticker: str
    key: str
    reply_to: Any


@dataclass(frozen=True, slots=True)
class MarksNeeded:
    """RiskManager -> every position (through the Supervisor): the daily loss limit is within
    reach of what filtered quotes may hide; hear every quote and report an exact mark from now on."""
