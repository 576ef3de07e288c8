"""EntryManager: the one actor that turns signals into positions.

Because it is a single actor, two identical signals can never both open a position: the
market+side key is reserved the moment the first signal arrives (before any venue call),
and released only when that entry ends unfilled or its position closes.

For each signal: audit SIGNAL_RECEIVED, refuse one older than its source's max age or dated
in the future beyond the clock skew, a duplicate (same market and side open or pending) or any
signal while entries are halted, write it down as pending, read a fresh quote (an unknown
market is refused as such), refuse it when the ask is above the signal's market_price by more
than the slippage allowed, size it (edge after fees, fractional Kelly by sport, confidence,
exposure caps), and buy with a marketable limit at the ask (immediate_or_cancel: whatever is
not there is not chased; the limit is never above market_price + slippage). A fill becomes a
PositionState handed to the supervisor, which starts its PositionActor.

Every SIGNAL_RECEIVED ends in TRADE_EXECUTED or SIGNAL_REJECTED (an entry that finds nothing,
or that the venue rejects, rejects its signal), or the signal is still pending in the
database: ResumePendingSignals at the next start decides it (SIGNAL_RESUMED, then the same
checks, its age first). An entry whose order state is unknown keeps its signal accepted while
it is looked up (back-off capped at 60 s); the answer decides it (filled: TRADE_EXECUTED; an
earlier process's entry that never reached the venue: SIGNAL_REJECTED, not sent again).
Restart (actors/watchdog.py): `Rebuild` restores exposure and market+side keys from the open
positions in the database, and keeps the market+side of every entry order that may still be
live (pending or resting in the database) held as start-up holds an unconfirmed entry (market
and side reserved, cost counted, looked up until the venue answers; a fill becomes its
position). Signals still pending in the database are decided now (SIGNAL_RESUMED, the same
checks). A breaker tripped today (in the database) halts entries at once; the RiskManager
re-announces it too.
Entry orders once sent are handled in actors/entry_orders.py, rebalances in actors/entry_rebalance.py.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from actors.base import ArbeesActor
from actors.wiring import Refs, Wired
from config.schema import Config
from models import audit_events as ae
from models.control import SetEntriesPaused
from models.durations import seconds
from models.entry_checks import exit_at_once
from models.exit_rules import minutes_to_close
from actors.entry_orders import EntryOrders, LookUpEntryAgain, _Pending
from actors.entry_rebalance import EntryRebalance, RebalanceDecide, _Rebalance
from models.commands import (
    CallKind,
    GetQuote,
    HaltEntries,
    HoldUnconfirmedEntry,
    Rebuild,
    RestoreExposure,
    ResumeEntries,
    ResumePendingSignals,
    VenueCall,
)
from models.events import (
    ExposureReleased,
    PositionClosed,
    QuoteUpdated,
    RebalanceEdge,
    RebalanceEnded,
    SignalReceived,
    VenueResult,
)
from models.store_commands import RecordOrderPending, RecordSignal, RecordSignalPending
from models.money import ZERO
from models.orders import Action, OrderRequest, TimeInForce
from models.rebalance import Holding
from models.risk import trading_day
from models.records import SignalDecision
from models.signal import TradingSignal, slippage_problem, timing_problem
from models.sizing import Exposure, size_entry

STOPPED_OUT = "stop_loss"     # a market and side this closed is not bought back for reentry_after_stop_secs


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


class EntryManager(EntryOrders, EntryRebalance, ArbeesActor):
    """Turns signals into positions (see the module docstring).

    Receives: SignalReceived, QuoteUpdated (its GetQuote answers), VenueResult (entry orders),
    ExposureReleased and PositionClosed (from positions), RebalanceEdge and RebalanceEnded,
    HaltEntries and ResumeEntries (via the Supervisor), SetEntriesPaused (the operator),
    RestoreExposure, HoldUnconfirmedEntry and ResumePendingSignals (at start), Wired, Rebuild,
    and its own timers RebalanceDecide and LookUpEntryAgain.

    Sends: GetQuote to the PriceCache; VenueCall (place_order, find_order, get_order) to the
    RateLimiter; RecordSignal, RecordSignalPending, RecordOrderUpdate, RecordOrderRejected,
    RecordOrderNeverSent, RecordFill and SavePosition to the Store; StartPosition to the
    Supervisor; RebalanceOffer and RebalanceExit to positions (ForwardToPosition); to itself
    RestoreExposure and HoldUnconfirmedEntry (on Rebuild) and its timers.

    Asks: the Store RecordOrderPending (the order is on disk before it is sent) and Flush (before
    a rebuild), each within the runtime's ask_timeout_s (10 s); it answers no ask.
    """

    kind = "entry_manager"
    survives_errors = True

    def __init__(self, rt, config: Config, platform: str = "paper", repository=None, *, handle=None) -> None:
        super().__init__(rt, "entries", handle=handle)
        self.repository = repository          # read-only: was a signal already handled (before a restart)?
        self._seen: set[str] = set()
        self.config = config
        self.platform = platform
        self.refs: Refs | None = None
        self.halted: str | None = None
        self.paused: str | None = None    # issue 12: `entries pause` (models/control.py)
        self._keys: dict[tuple[str, str], str] = {}          # (ticker, side) -> signal id or position id
        self._stopped: dict[tuple[str, str], datetime] = {}  # (ticker, side) -> when a stop loss closed it
        self._pending: dict[str, _Pending] = {}
        self._book = _Book()
        self._holdings: dict[str, Holding] = {}               # position id -> where its cost counts (rebalance)
        self._rebalances: dict[str, _Rebalance] = {}          # signal id -> rebalance in progress
        self._rebuilt = False

    def handle(self, message: Any) -> None:
        match message:
            case Wired(refs=refs):
                self.refs = refs
                self._recall_stop_outs()
            case SignalReceived(signal=sig):
                self._on_signal(sig)
            case QuoteUpdated(request_id=rid) if rid in self._pending:
                self._on_quote(rid, message)
            case QuoteUpdated():
                pass
            case VenueResult():
                self._on_result(message)
            case ExposureReleased(position_id=pid, ticker=t, game_id=g, cost=c):
                self._book.add(t, g, -c)
                held = self._holdings.get(pid)
                if held is not None:
                    self._holdings[pid] = dataclasses.replace(held, cost=held.cost - c)
            case PositionClosed(position_id=pid, ticker=t, side=side, reason=why):
                self._keys.pop((t, side.value), None)
                if why == STOPPED_OUT:
                    self._stopped[(t, side.value)] = self.rt.clock.now()
                self._holdings.pop(pid, None)
                self._rebalance_freed(pid, sold=None)
            case RebalanceEdge(signal_id=sid, position_id=pid, edge=edge):
                self._on_rebalance_edge(sid, pid, edge)
            case RebalanceDecide(signal_id=sid, expire=True):
                self._expire_rebalance(sid)
            case RebalanceDecide(signal_id=sid):
                self._decide_rebalance(sid)
            case RebalanceEnded(position_id=pid, sold=sold):
                self._rebalance_freed(pid, sold=sold)
            case HaltEntries(reason=why):
                self.halted = why
            case ResumeEntries():
                self.halted = None
            case ResumePendingSignals():
                self._resume_pending()
            case SetEntriesPaused(paused=paused, reason=why):
                self.paused = why if paused else None
            case RestoreExposure():
                self._restore(message)
            case HoldUnconfirmedEntry():
                self._hold_unconfirmed(message)
            case LookUpEntryAgain(signal_id=sid):
                self._look_up(sid)
            case Rebuild():
                self._rebuild()
            case _:
                self.unknown(message)

    # signals -------------------------------------------------------------------------------
    def _reject(self, sig: TradingSignal, reason: str) -> None:
        self.rt.audit.emit(ae.SignalRejected(signal_id=sig.signal_id, market=sig.ticker, side=sig.side, reason=reason))
        self.send(self.refs.store, RecordSignal(sig, SignalDecision.REJECTED, reason))

    def _recall_stop_outs(self) -> None:
        """The stop-outs still inside the re-entry wait, from the database (a restart, or this
        actor restarted): a restart does not buy back a market it was just stopped out of."""
        wait = self.config.signals.reentry_after_stop_secs
        if self.repository is None or not wait:
            return
        for ticker, side, at in self.repository.closed_by_since(STOPPED_OUT, self.rt.clock.now() - seconds(wait)):
            self._stopped[(ticker, side)] = at

    def _stopped_recently(self, key: tuple[str, str]) -> str | None:
        """Why a market and side a stop loss closed is not bought back yet (None: it may be)."""
        at = self._stopped.get(key)
        wait = self.config.signals.reentry_after_stop_secs
        if at is None:
            return None
        until = at + seconds(wait)
        if self.rt.clock.now() >= until:
            del self._stopped[key]
            return None
        return (f"stopped out of {key[0]} {key[1]} at {at:%H:%M:%S}: no re-entry in this market and side until "
                f"{until:%H:%M:%S} (signals.reentry_after_stop_secs {wait})")

    def _on_signal(self, sig: TradingSignal, resumed: bool = False) -> None:
        assert self.refs is not None, "entry manager used before wiring"
        self.rt.audit.emit((ae.SignalResumed if resumed else ae.SignalReceived)(
            signal_id=sig.signal_id, game_id=sig.game_id, platform=sig.platform, market=sig.ticker,
            direction=f"buy_{sig.side.value}", side=sig.side, signal_type=sig.signal_type,
            expected_price=sig.market_price, market_price=sig.market_price, edge=sig.edge,
            win_probability=sig.win_probability, signal_ts=sig.ts, source=sig.source, sport=sig.sport))
        key = (sig.ticker, sig.side.value)
        if not (0 <= sig.win_probability <= 1):
            self._reject(sig, f"win_probability {sig.win_probability} is not between 0 and 1")
            return
        if sig.contracts is not None and sig.contracts <= 0:
            self._reject(sig, f"contracts {sig.contracts} must be a positive whole number")
            return
        guards = self.config.signals
        late = timing_problem(sig, self.rt.clock.now(), guards.max_age_for(sig.source), guards.max_clock_skew_secs)
        if late is not None:
            self._reject(sig, late)
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
        stopped = self._stopped_recently(key)
        if stopped is not None:
            self._reject(sig, stopped)
            return
        if (sig.ticker, sig.side.other.value) in self._keys:
            # Kalshi nets YES and NO of one market: buying the other side would sell ours. The
            # paper venue simulates Kalshi, so paper and replay refuse it too.
            self._reject(sig, f"{sig.ticker} {sig.side.other.value} is held and Kalshi nets the two sides")
            return
        if sig.signal_id in self._seen or (not resumed and self._known_signal(sig.signal_id)):
            self._reject(sig, "duplicate signal id (already handled)")
            return
        self._seen.add(sig.signal_id)
        self._keys[key] = sig.signal_id
        self._pending[sig.signal_id] = _Pending(sig)
        if not resumed:   # written down until decided: a stop before the quote leaves it for the next start
            self.send(self.refs.store, RecordSignalPending(sig, self.rt.clock.now()))
        self.send(self.refs.price_cache, GetQuote(sig.ticker, self.me, sig.signal_id))

    def _resume_pending(self) -> None:
        """Decide the signals the last process received and never decided (at start)."""
        if self.repository is None:
            return
        for sig in self.repository.pending_signals():
            if sig.signal_id not in self._seen:
                self._on_signal(sig, resumed=True)

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
        if msg.unknown:
            self._release(sig)
            self._reject(sig, f"unknown market {sig.ticker}")
            return
        if q is None or not q.is_fresh(self.rt.clock.now(), ttl) or q.ask(sig.side) is None:
            self._release(sig)
            self._reject(sig, "no fresh quote with an ask")
            return
        ask = q.ask(sig.side)
        moved = slippage_problem(sig, ask, self.config.signals.max_slippage_cents)
        if moved is not None:
            self._release(sig)
            self._reject(sig, moved)
            return
        left = minutes_to_close(q.close_time, self.rt.clock.now())
        window = self.config.time_based_urgent.minutes_before_close
        hold = self.config.monitoring.normal_interval_secs
        if left is not None and left <= window + Decimal(hold) / 60:
            # time_based_urgent would sell it at once (or within one monitoring interval): a round
            # trip through the spread and two fees for nothing.
            self._release(sig)
            inside = "within" if left <= window else f"less than one monitoring interval ({hold}s) before"
            self._reject(sig, f"market closes in {left:.1f} min, {inside} time_based_urgent's {window} min")
            return
        at_once = exit_at_once(q, sig.side, sig.signal_type, self.config)
        if at_once is not None:
            self._release(sig)
            self._reject(sig, at_once)
            return
        p.bid = q.bid(sig.side)
        decision = size_entry(sig, ask, self._book.view(sig.ticker, sig.game_id), self.config,
                              halted=bool(self.halted))
        if not decision.accepted:
            if ("exposure caps" in decision.reason and decision.edge_after_fees is not None and not p.rebalanced
                    and self._offer_rebalance(sig, decision.edge_after_fees, ask, decision.reason)):
                self._pending.pop(sig.signal_id, None)   # waits in _rebalances, its key still reserved
                return
            self._release(sig)
            self._reject(sig, decision.reason)
            return
        cid = f"en-{sig.signal_id}"[:64]
        req = OrderRequest(cid, sig.ticker, sig.side, Action.BUY, decision.contracts, ask, TimeInForce.IOC)
        self.send(self.refs.store, RecordSignal(sig, SignalDecision.ACCEPTED, decision.reason))
        try:
            written = self.rt.ask(self.refs.store, RecordOrderPending(req, None, None))
        except Exception as exc:  # noqa: BLE001 - Timeout or a dead store: never send unrecorded
            written = False
            logger.error("entry {}: could not write the order down: {}", cid, type(exc).__name__)
        if not written:
            self._release(sig)
            self.rt.audit.emit(ae.Alert(said=f"ALERT entry {cid} not sent: the order could not be written down",
                                        signal_id=sig.signal_id, market=sig.ticker, client_order_id=cid))
            self._reject(sig, "the entry order could not be written down, so it was not sent")
            return
        p.request = req
        p.reserved = ask * decision.contracts
        self._book.add(sig.ticker, sig.game_id, p.reserved)
        self.rt.audit.emit(ae.OrderPlaced(signal_id=sig.signal_id, market=sig.ticker, client_order_id=cid,
                                          side=sig.side, contracts=decision.contracts, price=ask,
                                          time_in_force=TimeInForce.IOC, purpose="entry",
                                          entry_reason=decision.reason))
        self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "place_order", (req,), self.me))

    def _rebuild(self) -> None:
        """After a restart: what the database says is held or may be in flight (see the module doc)."""
        from actors.supervisor import rebuild_positions
        from models.store_commands import Flush

        self._rebuilt = True
        if self.repository is None or self.refs is None:
            return
        try:
            self.rt.ask(self.refs.store, Flush())
        except Exception as exc:  # noqa: BLE001 - rebuild from what is committed
            logger.error("entry manager: store flush before rebuild failed: {}", type(exc).__name__)
        # A breaker tripped today halts entries at once: the RiskManager re-announces it, but a
        # signal sent to this actor while it was down is delivered right after this Rebuild.
        day = trading_day(self.rt.clock.now(), ZoneInfo(self.config.circuit_breaker.day_timezone))
        active = [t for t in self.repository.breaker_trips(day.isoformat()) if t.cleared_at is None]
        if active:
            self.halted = active[0].reason
        held = [s for s, _ in rebuild_positions(self.repository, self.repository.load_open_positions())
                if s.contracts > 0]
        self._restore(RestoreExposure(tuple(held)))
        for o in self.repository.open_orders():
            if o.position_id is None and o.request.action is Action.BUY:
                # An entry the dead actor sent may have filled: held as at start-up (market+side
                # reserved, cost counted, looked up), so its answer becomes its position.
                cid = o.client_order_id
                if self.repository.load_position(f"pos-{cid.removeprefix('en-')}") is not None:
                    continue
                record = self.repository.signal(cid.removeprefix("en-"))
                self._hold_unconfirmed(HoldUnconfirmedEntry(o.request, record.signal if record is not None else None))
        self._resume_pending()      # signals the dead actor received and never decided: decided now

    def _restore(self, msg: RestoreExposure) -> None:
        for s in msg.positions:
            self._keys[(s.ticker, s.side.value)] = s.position_id
            self._book.add(s.ticker, s.game_id, s.entry_price * s.contracts)
            self._holdings[s.position_id] = Holding(s.position_id, s.ticker, s.game_id, s.entry_price * s.contracts)


