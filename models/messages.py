"""Actor messages: frozen, typed, named for the domain.

Commands are imperative (PlaceExit...), events past tense (QuoteUpdated, ExitTriggered).
`reply_to` fields hold a pykka ActorRef (an immutable handle). pykka does not copy messages,
so nothing mutable goes in here: tuples, not lists.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from models.exit_rules import ExitTrigger
from models.game import GameState
from models.market import Quote, Side
from models.orders import Fill, OrderRequest, OrderSnapshot
from models.position import PositionState
from models.priorities import Priority
from models.signal import TradingSignal

# --- timers -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wake:
    """A position's monitoring tick."""
    generation: int


@dataclass(frozen=True, slots=True)
class CooldownOver:
    """A condition's give-up cooldown has ended: the position evaluates again (a streamed
    market whose quotes do not change would otherwise never retry the exit)."""
    condition: str


@dataclass(frozen=True, slots=True)
class OrderTimedOut:
    """An executor's order has rested for its timeout."""
    generation: int


@dataclass(frozen=True, slots=True)
class BudgetFreed:
    """The rate limiter's window has room again."""


@dataclass(frozen=True, slots=True)
class RetryCall:
    request_id: str


@dataclass(frozen=True, slots=True)
class FlushMisses:
    """The price cache sends its batched misses as one multi-market read."""


# --- venue calls through the rate limiter -----------------------------------------------


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
class VenueResult:
    request_id: str
    method: str
    value: Any = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# --- market data ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuotePushed:
    """A market-data feed (simulated, replay, stream) pushes a fresh quote."""
    quote: Quote


@dataclass(frozen=True, slots=True)
class GetQuote:
    ticker: str
    reply_to: Any
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class QuoteUpdated:
    """A quote for a subscriber, pushed or in answer to GetQuote (`quote` None: unavailable;
    `unknown`: the venue answered and does not know the market)."""
    ticker: str
    quote: Quote | None
    request_id: str = ""
    unknown: bool = False


@dataclass(frozen=True, slots=True)
class Subscribe:
    ticker: str
    subscriber: Any
    key: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    ticker: str
    key: str


# --- game state and model -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GameUpdated:
    state: GameState


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


# --- entries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalReceived:
    signal: TradingSignal


@dataclass(frozen=True, slots=True)
class StartPosition:
    state: PositionState
    applied_fills: frozenset[str] = frozenset()   # exit fills already counted in `state`


@dataclass(frozen=True, slots=True)
class PositionClosed:
    position_id: str
    ticker: str
    side: Side
    game_id: str | None
    realized_pnl: Decimal
    cost_released: Decimal


@dataclass(frozen=True, slots=True)
class ExposureReleased:
    """Contracts of a position were sold: its cost basis no longer counts toward the caps."""
    position_id: str
    ticker: str
    game_id: str | None
    cost: Decimal


# --- exits --------------------------------------------------------------------------------


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
    position_ref: Any
    ts: datetime
    # How many times our side's bid or its size has changed in the quotes this position has
    # evaluated: the router re-attacks a capital-protection exit that gave up once it moves.
    book_changes: int = 0


@dataclass(frozen=True, slots=True)
class ExitStarted:
    exit_id: str
    condition: str
    priority: Priority
    contracts: int


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


@dataclass(frozen=True, slots=True)
class ExitEnded:
    """An exit finished: outcome filled | gave_up | preempted | canceled."""
    position_id: str
    exit_id: str
    condition: str
    priority: Priority
    outcome: str
    filled: int
    remaining: int
    stage: int | None = None


@dataclass(frozen=True, slots=True)
class Preempt:
    condition: str
    priority: Priority


@dataclass(frozen=True, slots=True)
class CancelExit:
    """Stop an exit (the position closed by settlement): cancel its order and end."""
    reason: str


# --- risk and supervision ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PnlRealized:
    position_id: str
    amount: Decimal
    ts: datetime
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
    ts: datetime
    floor_pnl: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TradingDayEnded:
    """The RiskManager's own timer at the start of the next trading day."""


@dataclass(frozen=True, slots=True)
class ResumeEntries:
    """The breaker was cleared (the trading day ended): entries may open positions again."""
    reason: str


@dataclass(frozen=True, slots=True)
class CircuitBreakerTripped:
    reason: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class HaltEntries:
    reason: str


@dataclass(frozen=True, slots=True)
class ActorCrashed:
    kind: str
    key: str
    error: str
    urn: str = ""          # the crashed actor (a report about an actor since replaced is stale)


@dataclass(frozen=True, slots=True)
class RebalanceOffer:
    """EntryManager -> position: a signal blocked by the caps (edge after fees `edge`, a
    fraction) could use your capital; answer with your current edge (RebalanceEdge)."""
    signal_id: str
    edge: Decimal


@dataclass(frozen=True, slots=True)
class RebalanceEdge:
    """Position -> EntryManager: my current edge in points (None: unknown, or not open)."""
    signal_id: str
    position_id: str
    edge: Decimal | None


@dataclass(frozen=True, slots=True)
class RebalanceExit:
    """EntryManager -> the weakest position: exit for the signal (the rebalance rule, LOW)."""
    signal_id: str
    edge: Decimal


@dataclass(frozen=True, slots=True)
class RebalanceEnded:
    """Position -> EntryManager: the rebalance exit ended (or never started) with `sold`
    contracts sold and the position still open. (A position that closes says PositionClosed.)"""
    signal_id: str
    position_id: str
    sold: int


@dataclass(frozen=True, slots=True)
class RebalanceDecide:
    """EntryManager's timer: decide a rebalance with the answers received so far, or (expire)
    give up a rebalance whose exit never reported its end (a restarted position forgets it)."""
    signal_id: str
    expire: bool = False


# --- store (the one writer) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavePosition:
    state: PositionState


@dataclass(frozen=True, slots=True)
class RecordBreakerTrip:
    day: str
    kind: str
    reason: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class RecordSignalPending:
    """A signal received whose decision waits on a quote: pending in the database until decided."""
    signal: TradingSignal
    ts: datetime


@dataclass(frozen=True, slots=True)
class ResumePendingSignals:
    """At start, after RestoreExposure: decide the signals the last process left pending."""


@dataclass(frozen=True, slots=True)
class RecordSignal:
    signal: TradingSignal
    decision: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecordOrderPending:
    request: OrderRequest
    position_id: str | None
    exit_id: str | None


@dataclass(frozen=True, slots=True)
class RecordOrderUpdate:
    snapshot: OrderSnapshot


@dataclass(frozen=True, slots=True)
class RecordFill:
    fill: Fill


@dataclass(frozen=True, slots=True)
class RecordExitEvent:
    position_id: str
    exit_id: str
    reason: str
    priority: str
    contracts: int
    status: str
    ts: datetime
    price: Decimal | None = None
    fees: Decimal = Decimal(0)
    trigger_value: Decimal | None = None
    threshold: Decimal | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LinkTriggerToExit:
    """Store: the latest `triggered` row of (position, condition) without an exit_id gets the
    exit_id of the exit it started."""
    position_id: str
    condition: str
    exit_id: str


@dataclass(frozen=True, slots=True)
class RecordExitAttempt:
    exit_id: str
    position_id: str
    attempt: int
    client_order_id: str
    action: str
    price: Decimal
    contracts: int
    ts: datetime
    order_id: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Flush:
    """Store: reply when every earlier write is on disk (an ask, used at shutdown)."""




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
class LookUpEntryAgain:
    """EntryManager timer: look up an entry whose state is still unknown."""
    signal_id: str


@dataclass(frozen=True, slots=True)
class ExecutorCrashed:
    """Supervisor -> router: an exit's executor died; restart it for the same exit."""
    exit_id: str
    error: str


@dataclass(frozen=True, slots=True)
class RecordOrderNeverSent:
    """Store: a look-up found no order with this client_order_id: it never reached the venue
    (marked canceled, as start-up reconciliation does); no later start looks it up again."""
    client_order_id: str


@dataclass(frozen=True, slots=True)
class RecordOrderRejected:
    """Store: the venue refused this order (it never rested): no later start looks it up again."""
    client_order_id: str


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
class LedgerTotals:
    """Store (ask): (contracts, cost, fees) of the fills recorded for one order, after committing."""
    order_id: str


# supervision of the core actors (actors/watchdog.py, actors/registry.py) ---------------------

@dataclass(frozen=True, slots=True)
class CoreActorDown:
    """To the Watchdog: a core actor died, raised in a handler, or was found stuck."""
    name: str
    reason: str
    urn: str = ""          # the actor reported (a report about an actor since replaced is stale)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Watchdog -> a core actor (through its handle); answered with HeartbeatAck."""
    reply_to: Any
    seq: int


@dataclass(frozen=True, slots=True)
class HeartbeatAck:
    name: str
    seq: int


@dataclass(frozen=True, slots=True)
class Beat:
    """The Watchdog's own timer."""
    generation: int


@dataclass(frozen=True, slots=True)
class Rebuild:
    """To a core actor just restarted, before anything else: rebuild from persisted state.
    `skip`: positions start-up left alone (unconfirmed orders); a restarted Supervisor too."""
    skip: frozenset = frozenset()


@dataclass(frozen=True, slots=True)
class PeerRestarted:
    """To every core actor: `name` was restarted (re-send it what it needs from you)."""
    name: str


# --- perf (issue 14): quiet bands (models/exit_band.py) -------------------------------------------

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
class BandReleased:
    """PriceCache -> position: the market's last forwarded quote and when it was forwarded
    (None: none since the cache started)."""
    ticker: str
    quote: Quote | None
    forwarded_at: datetime | None


@dataclass(frozen=True, slots=True)
class MarksNeeded:
    """RiskManager -> every position (through the Supervisor): the daily loss limit is within
    reach of what filtered quotes may hide; hear every quote and report an exact mark from now on."""
