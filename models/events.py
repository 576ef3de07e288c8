"""The actor protocol, events: what happened (past-tense names), told to whoever counts on it.

Commands are in models/commands.py, the Store's writes in models/store_commands.py (see
there for the protocol table). Frozen, typed, tuples not lists: pykka does not copy messages.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from models.exit_rules import ExitTrigger
from models.market import Quote, Side
from models.orders import Fill
from models.priorities import Priority
from models.signal import TradingSignal


@dataclass(frozen=True, slots=True)
class VenueResult:
    request_id: str
    method: str
    value: Any = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class CallWithdrawn:
    """RateLimiter -> caller: the call (a WithdrawCall's) was taken back before it was made."""
    request_id: str
    method: str


@dataclass(frozen=True, slots=True)
class QuotePushed:
    """A market-data feed (simulated, replay, stream) pushes a fresh quote."""
    quote: Quote


@dataclass(frozen=True, slots=True)
class QuoteUpdated:
    """A quote for a subscriber, pushed or in answer to GetQuote (`quote` None: unavailable;
    `unknown`: the venue answered and does not know the market)."""
    ticker: str
    quote: Quote | None
    request_id: str = ""
    unknown: bool = False


@dataclass(frozen=True, slots=True)
class ModelProbabilityUpdated:
    """The model's probability that YES wins in `ticker` (positions convert to their side)."""
    ticker: str
    yes_probability: Decimal
    ts: datetime


@dataclass(frozen=True, slots=True)
class MarketSettled:
    ticker: str
    result: Side
    ts: datetime


@dataclass(frozen=True, slots=True)
class SignalReceived:
    signal: TradingSignal


@dataclass(frozen=True, slots=True)
class PositionClosed:
    """Nothing is held any more: the market+side is free again, the exit router forgets it.
    `reason`: the condition of the exit that closed it (the EntryManager holds off buying back a
    market and side a stop loss closed)."""
    position_id: str
    ticker: str
    side: Side
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExposureReleased:
    """Contracts of a position were sold: its cost basis no longer counts toward the caps."""
    position_id: str
    ticker: str
    game_id: str | None
    cost: Decimal


@dataclass(frozen=True, slots=True)
class ExitTriggered:
    """Every trigger of one evaluation, most urgent first. `sold_so_far` lets the router drop
    a stale evaluation that was made before the position had seen an exit's fills."""
    position_id: str
    ticker: str
    side: Side
    contracts_held: int
    sold_so_far: int
    triggers: tuple[ExitTrigger, ...]
    # How many times our side's bid or its size has changed in the quotes this position has
    # evaluated: the router re-attacks a capital-protection exit that gave up once it moves.
    book_changes: int = 0


@dataclass(frozen=True, slots=True)
class ExitStarted:
    """Router -> position: an exit of yours is in flight (the position is EXITING until it ends),
    at this priority (nothing preempts a CRITICAL one)."""
    priority: Priority


@dataclass(frozen=True, slots=True)
class ExitFill:
    """Contracts of an exit that filled (incremental)."""
    exit_id: str
    condition: str
    priority: Priority
    contracts: int
    price: Decimal
    fee: Decimal
    order_id: str
    client_order_id: str
    stage: int | None
    ts: datetime
    fill_id: str = ""


class ExitOutcome(StrEnum):
    """How an exit ended (the values are the audit log's and the database's words)."""
    FILLED = "filled"          # everything it was for sold
    GAVE_UP = "gave_up"        # its strategy ran out (or its order could not be sent): an ALERT
    PREEMPTED = "preempted"    # a more urgent exit took over what is left
    CANCELED = "canceled"      # the position closed (settled) under it


@dataclass(frozen=True, slots=True)
class ExitEnded:
    """An exit finished (ExitOutcome) with `filled` contracts sold."""
    position_id: str
    exit_id: str
    condition: str
    outcome: ExitOutcome
    filled: int
    stage: int | None = None


@dataclass(frozen=True, slots=True)
class CooldownOver:
    """A condition's give-up cooldown has ended: the position evaluates again (a streamed
    market whose quotes do not change would otherwise never retry the exit; with a quiet band,
    `condition` is no longer cooling)."""
    condition: str


@dataclass(frozen=True, slots=True)
class PnlRealized:
    """P&L a position realized (an exit fill, a settlement): the daily loss counts it."""
    amount: Decimal
    key: str = ""      # the fill id, or the settlement's exit id: counted once (see realized_pnl_keys_since)


@dataclass(frozen=True, slots=True)
class ApiCallFailed:
    method: str
    error: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class ApiCallSucceeded:
    """A venue call that answered (the API failure breaker counts a rate: failures / calls)."""
    method: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class PositionMarked:
    """A position's unrealized P&L at its mark changed (0 once closed): the daily loss counts it.
    `floor_pnl` (issue 14): while the position's quotes are filtered by its quiet band, the least
    its unrealized P&L can be before it hears of a quote again (at the band's floor); None: it
    hears every quote, so `unrealized_pnl` is exact."""
    position_id: str
    unrealized_pnl: Decimal
    floor_pnl: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CircuitBreakerTripped:
    """A breaker tripped (or the engine fails safe): every position exits CRITICAL."""


@dataclass(frozen=True, slots=True)
class RebalanceEdge:
    """Position -> EntryManager: my current edge in points (None: unknown, or not open)."""
    signal_id: str
    position_id: str
    edge: Decimal | None


@dataclass(frozen=True, slots=True)
class RebalanceEnded:
    """Position -> EntryManager: the rebalance exit ended (or never started) with `sold`
    contracts sold and the position still open. (A position that closes says PositionClosed.)"""
    position_id: str
    sold: int


@dataclass(frozen=True, slots=True)
class ActorCrashed:
    kind: str
    key: str
    error: str
    urn: str = ""          # the crashed actor (a report about an actor since replaced is stale)


@dataclass(frozen=True, slots=True)
class ExecutorCrashed:
    """Supervisor -> router: an exit's executor died; restart it for the same exit."""
    exit_id: str
    error: str


@dataclass(frozen=True, slots=True)
class CoreActorDown:
    """To the Watchdog: a core actor died, raised in a handler, or was found stuck."""
    name: str
    reason: str
    urn: str = ""          # the actor reported (a report about an actor since replaced is stale)


@dataclass(frozen=True, slots=True)
class HeartbeatAck:
    name: str
    seq: int


@dataclass(frozen=True, slots=True)
class PeerRestarted:
    """To every core actor: `name` was restarted (re-send it what it needs from you)."""
    name: str


# --- live market data over the venue's WebSocket (adapters/kalshi/stream.py) ---------------------

@dataclass(frozen=True, slots=True)
class MarketsStreamed:
    """Stream -> PriceCache: these markets' changes are pushed from now on (streamed=True: a
    request is answered from the last pushed quote, no venue read) or no longer (False: they are
    polled from the venue again, starting at once). `reason` says why (for the log)."""
    tickers: tuple[str, ...]
    streamed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FillStreamed:
    """Stream -> ExitRouter -> the executor whose order it is: a fill of one of our orders, as the
    venue's stream reported it. The executor confirms it by REST before counting it."""
    fill: Fill         # with its client_order_id


# --- quiet bands (issue 14, models/exit_band.py) -----------------------------------------------

@dataclass(frozen=True, slots=True)
class BandReleased:
    """PriceCache -> position: the market's last forwarded quote and when it was forwarded
    (None: none since the cache started)."""
    ticker: str
    quote: Quote | None
    forwarded_at: datetime | None
