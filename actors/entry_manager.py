"""EntryManager: the one actor that turns signals into positions.

Because it is a single actor, two identical signals can never both open a position: the
market+side key is reserved the moment the first signal arrives (before any venue call),
and released only when that entry ends unfilled or its position closes.

For each signal: audit SIGNAL_RECEIVED, refuse a duplicate (same market and side open or
pending) or any signal while entries are halted, read a fresh quote, size it (edge after fees,
fractional Kelly by sport, confidence, exposure caps), and buy with a marketable limit at the
ask (immediate_or_cancel: whatever is not there is not chased). A fill becomes a
PositionState handed to the supervisor, which starts its PositionActor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from loguru import logger

from actors.base import ArbeesActor
from actors.wiring import Refs, Wired
from adapters.venue import OrderRejected
from config.schema import Config
from models.control import SetEntriesPaused
from models.durations import seconds
from models.ledger import fill_id
from models.messages import (
    CallKind,
    ExposureReleased,
    ForwardToPosition,
    GetQuote,
    HaltEntries,
    PositionClosed,
    QuoteUpdated,
    RebalanceOffer,
    RecordFill,
    RecordOrderPending,
    RecordOrderRejected,
    RecordOrderUpdate,
    RecordSignal,
    RestoreExposure,
    SavePosition,
    SignalReceived,
    StartPosition,
    VenueCall,
    VenueResult,
)
from models.money import ZERO, fmt_money, q6
from models.orders import Action, Fill, OrderRequest, OrderSnapshot, TimeInForce
from models.position import PositionState
from models.signal import TradingSignal
from models.sizing import Exposure, size_entry


@dataclass
class _Pending:
    signal: TradingSignal
    request: OrderRequest | None = None
    reserved: Decimal = ZERO
    lookups: int = 0


@dataclass
class _Book:
    """Cost basis by market, by game and in all: what the exposure caps count."""
    market: dict[str, Decimal] = field(default_factory=dict)
    game: dict[str, Decimal] = field(default_factory=dict)
    total: Decimal = ZERO

    def add(self, ticker: str, game: str | None, amount: Decimal) -> None:
        self.market[ticker] = self.market.get(ticker, ZERO) + amount
        if game:
            self.game[game] = self.game.get(game, ZERO) + amount
        self.total += amount

    def view(self, ticker: str, game: str | None) -> Exposure:
        return Exposure(self.market.get(ticker, ZERO), self.game.get(game, ZERO) if game else ZERO, self.total)


class EntryManager(ArbeesActor):
    kind = "entry_manager"
    survives_errors = True

    def __init__(self, rt, config: Config, platform: str = "paper", repository=None) -> None:
        super().__init__(rt, "entries")
        self.repository = repository          # read-only: was a signal already handled (before a restart)?
        self._seen: set[str] = set()
        self.config = config
        self.platform = platform
        self.refs: Refs | None = None
        self.halted: str | None = None
        self.paused: str | None = None    # issue 12: `entries pause` (models/control.py)
        self._keys: dict[tuple[str, str], str] = {}          # (ticker, side) -> signal id or position id
        self._pending: dict[str, _Pending] = {}
        self._book = _Book()
        self._edges: dict[str, tuple[Decimal, str]] = {}      # position id -> (entry edge, ticker)

    def handle(self, message: Any) -> None:
        match message:
            case Wired(refs=refs):
                self.refs = refs
            case SignalReceived(signal=sig):
                self._on_signal(sig)
            case QuoteUpdated(request_id=rid) if rid in self._pending:
                self._on_quote(rid, message)
            case QuoteUpdated():
                pass
            case VenueResult():
                self._on_result(message)
            case ExposureReleased(ticker=t, game_id=g, cost=c):
                self._book.add(t, g, -c)
            case PositionClosed(position_id=pid, ticker=t, side=side):
                self._keys.pop((t, side.value), None)
                self._edges.pop(pid, None)
            case HaltEntries(reason=why):
                self.halted = why
            case SetEntriesPaused(paused=paused, reason=why):
                self.paused = why if paused else None
            case RestoreExposure():
                self._restore(message)
            case _:
                self.unknown(message)

    # signals -------------------------------------------------------------------------------
    def _reject(self, sig: TradingSignal, reason: str) -> None:
        self.rt.audit.emit("SIGNAL_REJECTED", f"{sig.ticker} {sig.side.value}: signal rejected: {reason}",
                           signal_id=sig.signal_id, market=sig.ticker, side=sig.side, reason=reason)
        self.send(self.refs.store, RecordSignal(sig, "rejected", reason))

    def _on_signal(self, sig: TradingSignal) -> None:
        assert self.refs is not None, "entry manager used before wiring"
        self.rt.audit.emit(
            "SIGNAL_RECEIVED",
            f"{sig.ticker} {sig.side.value}: SIGNAL {sig.signal_type} from {sig.source}, model "
            f"{sig.win_probability:.4f} vs price {_px(sig.market_price)}, edge {_pct(sig.edge)}",
            signal_id=sig.signal_id, game_id=sig.game_id, platform=sig.platform, market=sig.ticker,
            direction=f"buy_{sig.side.value}", side=sig.side, signal_type=sig.signal_type,
            expected_price=sig.market_price, market_price=sig.market_price, edge=sig.edge,
            win_probability=sig.win_probability, signal_ts=sig.ts, source=sig.source, sport=sig.sport)
        key = (sig.ticker, sig.side.value)
        if not (0 <= sig.win_probability <= 1):
            self._reject(sig, f"win_probability {sig.win_probability} is not between 0 and 1")
            return
        if sig.contracts is not None and sig.contracts <= 0:
            self._reject(sig, f"contracts {sig.contracts} must be a positive whole number")
            return
        if self.halted:
            self._reject(sig, f"entries halted ({self.halted})")
            return
        if self.paused:
            self._reject(sig, f"entries paused ({self.paused})")
            return
        if key in self._keys:
            self._reject(sig, f"a position on {sig.ticker} {sig.side.value} is already open or pending")
            return
        if self.platform == "kalshi" and (sig.ticker, sig.side.other.value) in self._keys:
            # Kalshi nets YES and NO of one market: buying the other side would sell ours.
            self._reject(sig, f"{sig.ticker} {sig.side.other.value} is held and Kalshi nets the two sides")
            return
        if sig.signal_id in self._seen or self._known_signal(sig.signal_id):
            self._reject(sig, "duplicate signal id (already handled)")
            return
        self._seen.add(sig.signal_id)
        self._keys[key] = sig.signal_id
        self._pending[sig.signal_id] = _Pending(sig)
        self.send(self.refs.price_cache, GetQuote(sig.ticker, self.actor_ref, sig.signal_id))

    def _known_signal(self, signal_id: str) -> bool:
        if self.repository is None:
            return False
        try:
            return self.repository.signal(signal_id) is not None
        except Exception as exc:  # noqa: BLE001 - a read problem must not block entries silently
            logger.warning("entries: could not check signal {} in the database: {}", signal_id, type(exc).__name__)
            return False

    def _release(self, sig: TradingSignal) -> None:
        p = self._pending.pop(sig.signal_id, None)
        if self._keys.get((sig.ticker, sig.side.value)) == sig.signal_id:
            del self._keys[(sig.ticker, sig.side.value)]
        if p is not None and p.reserved:
            self._book.add(sig.ticker, sig.game_id, -p.reserved)

    def _on_quote(self, rid: str, msg: QuoteUpdated) -> None:
        p = self._pending[rid]
        sig = p.signal
        ttl = seconds(self.config.monitoring.price_cache_ttl_secs)
        q = msg.quote
        if q is None or not q.is_fresh(self.rt.clock.now(), ttl) or q.ask(sig.side) is None:
            self._release(sig)
            self._reject(sig, "no fresh quote with an ask")
            return
        ask = q.ask(sig.side)
        decision = size_entry(sig, ask, self._book.view(sig.ticker, sig.game_id), self.config,
                              halted=bool(self.halted))
        if not decision.accepted:
            self._release(sig)
            self._reject(sig, decision.reason)
            if "exposure caps" in decision.reason and decision.edge_after_fees is not None:
                self._offer_rebalance(sig, decision.edge_after_fees)
            return
        cid = f"en-{sig.signal_id}"[:64]
        req = OrderRequest(cid, sig.ticker, sig.side, Action.BUY, decision.contracts, ask, TimeInForce.IOC)
        self.send(self.refs.store, RecordSignal(sig, "accepted", decision.reason))
        try:
            written = self.rt.ask(self.refs.store, RecordOrderPending(req, None, None))
        except Exception as exc:  # noqa: BLE001 - Timeout or a dead store: never send unrecorded
            written = False
            logger.error("entry {}: could not write the order down: {}", cid, type(exc).__name__)
        if not written:
            self._release(sig)
            self.rt.audit.emit("ALERT", f"ALERT entry {cid} not sent: the order could not be written down",
                               signal_id=sig.signal_id, market=sig.ticker, client_order_id=cid)
            return
        p.request = req
        p.reserved = ask * decision.contracts
        self._book.add(sig.ticker, sig.game_id, p.reserved)
        self.rt.audit.emit("ORDER_PLACED", f"{sig.ticker} {sig.side.value}: ENTRY buy {decision.contracts} at {ask} (IOC), "
                                           f"{decision.reason}",
                           signal_id=sig.signal_id, market=sig.ticker, client_order_id=cid, side=sig.side,
                           contracts=decision.contracts, price=ask, time_in_force=TimeInForce.IOC, purpose="entry")
        self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "place_order", (req,), self.actor_ref))

    def _on_result(self, r: VenueResult) -> None:
        p = self._pending.get(r.request_id)
        if p is None or p.request is None:
            return
        sig, req = p.signal, p.request
        if not r.ok:
            if isinstance(r.error, OrderRejected):
                self.send(self.refs.store, RecordOrderRejected(req.client_order_id))
            if not isinstance(r.error, OrderRejected) and p.lookups >= 5:
                # The entry's state is unknown: it may have filled. Keep the market+side blocked
                # (and the reservation) until a reconciliation resolves it; never re-enter blind.
                self.rt.audit.emit("ALERT", f"ALERT entry {req.client_order_id}: state unknown after {p.lookups} "
                                            f"look-ups ({r.error}); {sig.ticker} {sig.side.value} stays blocked "
                                            "until reconciliation", signal_id=sig.signal_id, market=sig.ticker,
                                   client_order_id=req.client_order_id, error=str(r.error))
                return
            if isinstance(r.error, OrderRejected):
                self.rt.audit.emit("ORDER_REJECTED", f"entry {req.client_order_id} failed: {r.error}",
                                   signal_id=sig.signal_id, market=sig.ticker, client_order_id=req.client_order_id,
                                   error=str(r.error))
                self._release(sig)
                return
            p.lookups += 1   # ambiguous: look it up by client_order_id before anything else
            self.rt.audit.emit("ORDER_LOOKUP", f"entry {req.client_order_id}: looking it up after {r.error}",
                               client_order_id=req.client_order_id, market=sig.ticker)
            self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "find_order",
                                                        (req.client_order_id,), self.actor_ref))
            return
        snap: OrderSnapshot | None = r.value
        if snap is None:   # the venue never got it: send the same request again
            self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "place_order", (req,),
                                                        self.actor_ref))
            return
        if not snap.is_done:
            # An IOC never rests; if a venue says so, look again shortly via the same path.
            self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "get_order",
                                                        (snap.order_id,), self.actor_ref))
            return
        self.send(self.refs.store, RecordOrderUpdate(snap))
        if snap.filled_count <= 0:
            self.rt.audit.emit("ENTRY_NOT_FILLED", f"entry {req.client_order_id} found nothing at {req.limit_price}",
                               signal_id=sig.signal_id, market=sig.ticker, client_order_id=req.client_order_id,
                               order_id=snap.order_id)
            self._release(sig)
            return
        self._opened(p, snap)

    def _opened(self, p: _Pending, snap: OrderSnapshot) -> None:
        sig = p.signal
        price = q6(snap.avg_fill_price or snap.limit_price)
        pid = f"pos-{sig.signal_id}"
        cost = price * snap.filled_count
        self._book.add(sig.ticker, sig.game_id, cost - p.reserved)
        self._pending.pop(sig.signal_id, None)
        self._keys[(sig.ticker, sig.side.value)] = pid
        if sig.edge is not None:
            self._edges[pid] = (sig.win_probability - price, sig.ticker)
        state = PositionState(
            position_id=pid, ticker=sig.ticker, side=sig.side, signal_type=sig.signal_type, sport=sig.sport,
            game_id=sig.game_id, entry_price=price, initial_contracts=snap.filled_count,
            contracts=snap.filled_count, entry_fees=snap.fees, opened_at=self.rt.clock.now(),
            model_probability=sig.win_probability)
        self.rt.audit.emit(
            "TRADE_EXECUTED",
            f"{sig.ticker} {sig.side.value}: OPENED {snap.filled_count} at {price:.4f}, cost "
            f"{fmt_money(cost).lstrip('+')}, fee {snap.fees}",
            trade_id=snap.order_id, position_id=pid, order_id=snap.order_id, client_order_id=snap.client_order_id,
            status=snap.status, entry_price=price, contracts=snap.filled_count, cost=cost, fees=snap.fees,
            platform=sig.platform, market=sig.ticker, side=sig.side, signal_id=sig.signal_id, game_id=sig.game_id)
        self.send(self.refs.store, RecordFill(Fill(
            fill_id(snap.order_id, snap.filled_count), snap.order_id, snap.client_order_id, sig.ticker, sig.side,
            Action.BUY, snap.filled_count, price, snap.fees, self.rt.clock.now())))
        self.send(self.refs.store, SavePosition(state))
        self.send(self.refs.supervisor, StartPosition(state))

    def _offer_rebalance(self, sig: TradingSignal, edge: Decimal) -> None:
        if not self.config.rebalance.enabled or not self._edges:
            return
        x = self.config.exposure_limits
        if x.portfolio_dollars - self._book.total >= self.config.rebalance.min_free_capital_dollars:
            return
        weakest = min(self._edges.items(), key=lambda kv: kv[1][0])
        self.send(self.refs.supervisor, ForwardToPosition(weakest[0], RebalanceOffer(sig.signal_id, edge)))

    def _restore(self, msg: RestoreExposure) -> None:
        for s in msg.positions:
            self._keys[(s.ticker, s.side.value)] = s.position_id
            self._book.add(s.ticker, s.game_id, s.entry_price * s.contracts)
            if s.model_probability is not None:
                self._edges[s.position_id] = (s.model_probability - s.entry_price, s.ticker)


def _px(price: Decimal | None) -> str:
    return "-" if price is None else f"{price:.2f}"


def _pct(edge: Decimal | None) -> str:
    return "-" if edge is None else f"{edge * 100:.1f}%"
