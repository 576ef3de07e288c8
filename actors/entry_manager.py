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
checks). A breaker the RiskManager tripped is re-announced to it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from loguru import logger

from actors.base import ArbeesActor
from actors.wiring import Refs, Wired
from models.venue import OrderRejected
from config.schema import Config
from models import audit_events as ae
from models.control import SetEntriesPaused
from models.durations import seconds
from models.entry_checks import exit_at_once
from models.exit_rules import minutes_to_close
from models.ledger import fill_id
from models.messages import (
    CallKind,
    ExposureReleased,
    ForwardToPosition,
    GetQuote,
    HaltEntries,
    HoldUnconfirmedEntry,
    LookUpEntryAgain,
    PositionClosed,
    QuoteUpdated,
    RebalanceDecide,
    RebalanceEdge,
    RebalanceEnded,
    RebalanceExit,
    RebalanceOffer,
    Rebuild,
    RecordFill,
    RecordOrderNeverSent,
    RecordOrderPending,
    RecordOrderRejected,
    RecordOrderUpdate,
    RecordSignal,
    RecordSignalPending,
    RestoreExposure,
    ResumeEntries,
    ResumePendingSignals,
    SavePosition,
    SignalReceived,
    StartPosition,
    VenueCall,
    VenueResult,
)
from models.money import ZERO, q6
from models.orders import Action, Fill, OrderRequest, OrderSnapshot, TimeInForce
from models.position import PositionState
from models.rebalance import Holding, pick_weakest, rebalance_candidates
from models.retry import lookup_delay_secs
from models.signal import TradingSignal, slippage_problem, timing_problem
from models.sizing import Exposure, fee_per_contract, size_entry


@dataclass
class _Pending:
    signal: TradingSignal
    request: OrderRequest | None = None
    reserved: Decimal = ZERO
    lookups: int = 0
    resumed: bool = False        # held since start-up: reconciliation could not confirm it
    alerted: bool = False
    rebalanced: bool = False      # a second try with capital a rebalance freed: never rebalances again
    bid: Decimal | None = None    # our side's bid when the entry was priced: the stop's basis


@dataclass
class _Rebalance:
    """A signal blocked by the caps, waiting for the candidates' current edges, then for the
    weakest one's exit to free its capital."""
    signal: TradingSignal
    edge: Decimal
    asked: frozenset[str]
    reason: str
    edges: dict[str, Decimal | None] = field(default_factory=dict)
    exiting: str | None = None


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


LOOKUPS_BEFORE_ALERT = 5
REBALANCE_ANSWER_SECS = 5   # how long a rebalance waits for the candidates' current edges
REBALANCE_EXIT_SECS = 1200  # ... and for the chosen exit (LOW walks slowly: 10 walks a minute apart)


class EntryManager(ArbeesActor):
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
        self._pending: dict[str, _Pending] = {}
        self._book = _Book()
        self._holdings: dict[str, Holding] = {}               # position id -> where its cost counts (rebalance)
        self._rebalances: dict[str, _Rebalance] = {}          # signal id -> rebalance in progress
        self._rebuilt = False

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
            case ExposureReleased(position_id=pid, ticker=t, game_id=g, cost=c):
                self._book.add(t, g, -c)
                held = self._holdings.get(pid)
                if held is not None:
                    self._holdings[pid] = dataclasses.replace(held, cost=held.cost - c)
            case PositionClosed(position_id=pid, ticker=t, side=side):
                self._keys.pop((t, side.value), None)
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
        self.send(self.refs.store, RecordSignal(sig, "rejected", reason))

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
        if self.platform == "kalshi" and (sig.ticker, sig.side.other.value) in self._keys:
            # Kalshi nets YES and NO of one market: buying the other side would sell ours.
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
        self.send(self.refs.store, RecordSignal(sig, "accepted", decision.reason))
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

    def _on_result(self, r: VenueResult) -> None:
        p = self._pending.get(r.request_id)
        if p is None or p.request is None:
            if self._rebuilt and r.method in ("place_order", "find_order", "get_order") and r.ok and r.value:
                self.rt.audit.emit(ae.Alert(said=f"ALERT entry answer for {r.request_id} reached a restarted entry "
                                                 "manager that did not send it; its market stays blocked until "
                                                 "reconciliation", signal_id=r.request_id, method=r.method))
            return
        sig, req = p.signal, p.request
        if not r.ok:
            if isinstance(r.error, OrderRejected):
                self.send(self.refs.store, RecordOrderRejected(req.client_order_id))
            if not isinstance(r.error, OrderRejected) and p.lookups >= LOOKUPS_BEFORE_ALERT:
                # The entry's state is unknown: it may have filled. Keep the market+side blocked
                # (and the reservation) and keep looking, with back-off, until the venue answers;
                # never re-enter blind.
                if not p.alerted:
                    p.alerted = True
                    self.rt.audit.emit(ae.Alert(
                        said=f"ALERT entry {req.client_order_id}: state unknown after {p.lookups} look-ups "
                             f"({r.error}); {sig.ticker} {sig.side.value} stays blocked and its cost counted until "
                             "the venue answers",
                        signal_id=sig.signal_id, market=sig.ticker, client_order_id=req.client_order_id,
                        error=str(r.error)))
                p.lookups += 1
                delay = timedelta(seconds=lookup_delay_secs(p.lookups))
                self.rt.scheduler.call_later(delay, self.me, LookUpEntryAgain(sig.signal_id))
                return
            if isinstance(r.error, OrderRejected):
                self.rt.audit.emit(ae.OrderRejected(signal_id=sig.signal_id, market=sig.ticker,
                                                    client_order_id=req.client_order_id, error=str(r.error)))
                self._release(sig)
                self._reject(sig, f"the venue rejected the entry order: {r.error}")
                return
            p.lookups += 1   # ambiguous: look it up by client_order_id before anything else
            self.rt.audit.emit(ae.OrderLookup(client_order_id=req.client_order_id, market=sig.ticker,
                                              about=ae.LOOKUP_ENTRY, error=str(r.error)))
            self._look_up(sig.signal_id)
            return
        snap: OrderSnapshot | None = r.value
        if snap is None and p.resumed:
            # An earlier process's entry that never reached the venue: it is not sent now (its
            # price and moment are gone); the key and the reservation are released.
            self.send(self.refs.store, RecordOrderNeverSent(req.client_order_id))
            self.rt.audit.emit(ae.EntryNotFilled(signal_id=sig.signal_id, market=sig.ticker,
                                                 client_order_id=req.client_order_id))
            self._release(sig)
            self._reject(sig, f"its entry {req.client_order_id} never reached the venue before the last process "
                              "stopped; not sent again (its price and moment are gone)")
            return
        if snap is None:   # the venue never got it: send the same request again
            self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "place_order", (req,),
                                                        self.me))
            return
        if not snap.is_done:
            # An IOC never rests; if a venue says so, look again shortly via the same path.
            self.send(self.refs.rate_limiter, VenueCall(sig.signal_id, CallKind.ENTRY, "get_order",
                                                        (snap.order_id,), self.me))
            return
        self.send(self.refs.store, RecordOrderUpdate(snap))
        if snap.filled_count <= 0:
            self.rt.audit.emit(ae.EntryNotFilled(signal_id=sig.signal_id, market=sig.ticker,
                                                 client_order_id=req.client_order_id, order_id=snap.order_id,
                                                 limit_price=req.limit_price))
            self._release(sig)
            self._reject(sig, f"the entry found nothing to buy at {req.limit_price} (immediate_or_cancel)")
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
        self._holdings[pid] = Holding(pid, sig.ticker, sig.game_id, cost)
        state = PositionState(
            position_id=pid, ticker=sig.ticker, side=sig.side, signal_type=sig.signal_type, sport=sig.sport,
            game_id=sig.game_id, entry_price=price, initial_contracts=snap.filled_count,
            contracts=snap.filled_count, entry_fees=snap.fees, opened_at=self.rt.clock.now(),
            model_probability=sig.win_probability, model_probability_ts=sig.ts, stop_basis=p.bid)
        self.rt.audit.emit(ae.TradeExecuted(
            trade_id=snap.order_id, position_id=pid, order_id=snap.order_id, client_order_id=snap.client_order_id,
            status=snap.status, entry_price=price, contracts=snap.filled_count, cost=cost, fees=snap.fees,
            stop_basis=p.bid,
            platform=sig.platform, market=sig.ticker, side=sig.side, signal_id=sig.signal_id, game_id=sig.game_id,
            fill_id=fill_id(snap.order_id, snap.filled_count)))
        self.send(self.refs.store, RecordFill(Fill(
            fill_id(snap.order_id, snap.filled_count), snap.order_id, snap.client_order_id, sig.ticker, sig.side,
            Action.BUY, snap.filled_count, price, snap.fees, self.rt.clock.now())))
        self.send(self.refs.store, SavePosition(state))
        self.send(self.refs.supervisor, StartPosition(state))

    # rebalance (models/rebalance.py) ---------------------------------------------------------
    def _offer_rebalance(self, sig: TradingSignal, edge: Decimal, ask: Decimal, reason: str) -> bool:
        """Ask every position whose exit frees room under the blocking caps for its current edge;
        True when a rebalance started (the signal waits for it)."""
        if not self.config.rebalance.enabled:
            return False
        candidates = rebalance_candidates(sig.ticker, sig.game_id, self._book.view(sig.ticker, sig.game_id),
                                          ask + fee_per_contract(ask), self._holdings.values(), self.config)
        if not candidates:
            return False
        self._rebalances[sig.signal_id] = _Rebalance(sig, edge, frozenset(candidates), reason)
        self.rt.audit.emit(ae.Rebalance(signal_id=sig.signal_id, market=sig.ticker, side=sig.side, step="asked",
                                        edge=edge, reason=reason, positions=",".join(candidates)))
        for pid in candidates:
            self.send(self.refs.supervisor, ForwardToPosition(pid, RebalanceOffer(sig.signal_id, edge)))
        # Answers come at once from fresh quotes; a stale one is refreshed first (a venue read).
        self.rt.scheduler.call_later(seconds(REBALANCE_ANSWER_SECS), self.me, RebalanceDecide(sig.signal_id))
        return True

    def _on_rebalance_edge(self, sid: str, pid: str, edge: Decimal | None) -> None:
        r = self._rebalances.get(sid)
        if r is None or r.exiting is not None or pid not in r.asked:
            return
        r.edges[pid] = edge
        if set(r.edges) == r.asked:
            self._decide_rebalance(sid)

    def _decide_rebalance(self, sid: str) -> None:
        r = self._rebalances.get(sid)
        if r is None or r.exiting is not None:
            return
        sig = r.signal
        weakest = pick_weakest({p: r.edges.get(p) for p in r.asked if p in self._holdings}, r.edge, self.config)
        if weakest is None:
            del self._rebalances[sid]
            known = {p: e for p, e in r.edges.items() if e is not None}
            why = (f"no position's current edge is beaten by {self.config.rebalance.edge_margin_pct} points "
                   f"(weakest {min(known.values()):.2f})" if known else "no candidate's current edge is known")
            self._release(sig)
            self._reject(sig, f"{r.reason}; rebalance: {why}")
            return
        r.exiting = weakest
        self.rt.audit.emit(ae.Rebalance(signal_id=sid, market=sig.ticker, side=sig.side, step="exit",
                                        position_id=weakest, position_edge=r.edges[weakest], edge=r.edge))
        self.send(self.refs.supervisor, ForwardToPosition(weakest, RebalanceExit(sid, r.edge)))
        self.rt.scheduler.call_later(seconds(REBALANCE_EXIT_SECS), self.me, RebalanceDecide(sid, expire=True))

    def _expire_rebalance(self, sid: str) -> None:
        r = self._rebalances.pop(sid, None)
        if r is None:
            return
        self._release(r.signal)
        self._reject(r.signal, f"{r.reason}; rebalance: the exit of {r.exiting} did not end within "
                               f"{REBALANCE_EXIT_SECS // 60} min")

    def _rebalance_freed(self, pid: str, sold: int | None) -> None:
        """The weakest position's rebalance exit ended (`sold`) or the position closed (None):
        enter the waiting signal with what was freed, or give it up when nothing was."""
        sid = next((k for k, r in self._rebalances.items() if r.exiting == pid), None)
        if sid is None:
            return
        r = self._rebalances.pop(sid)
        sig = r.signal
        if sold == 0:
            self._release(sig)
            self._reject(sig, f"{r.reason}; rebalance: the exit of {pid} sold nothing")
            return
        self._pending[sid] = _Pending(sig, rebalanced=True)
        self.send(self.refs.price_cache, GetQuote(sig.ticker, self.me, sid))

    def _look_up(self, signal_id: str) -> None:
        p = self._pending.get(signal_id)
        if p is None or p.request is None:
            return
        self.send(self.refs.rate_limiter, VenueCall(signal_id, CallKind.ENTRY, "find_order",
                                                    (p.request.client_order_id,), self.me))

    def _hold_unconfirmed(self, msg: HoldUnconfirmedEntry) -> None:
        """An earlier process's entry that start-up reconciliation could not confirm: it may have
        filled. Its market+side stays reserved and its most possible cost counted in the caps
        until the venue answers a look-up; then it becomes its position or is released."""
        req, sig = msg.request, msg.signal
        cost = req.limit_price * req.count
        if sig is None:
            # Its signal is not in the database: nothing could become a position from it here.
            # Hold the key and the cost for this process's life; the next start reconciles it.
            self._keys[(req.ticker, req.side.value)] = req.client_order_id
            self._book.add(req.ticker, None, cost)
            return
        self._seen.add(sig.signal_id)
        self._keys[(sig.ticker, sig.side.value)] = sig.signal_id
        self._pending[sig.signal_id] = _Pending(sig, request=req, reserved=cost, resumed=True)
        self._book.add(sig.ticker, sig.game_id, cost)
        self.rt.audit.emit(ae.OrderLookup(signal_id=sig.signal_id, client_order_id=req.client_order_id,
                                          market=sig.ticker, about=ae.LOOKUP_ENTRY_AT_START, held=sig.side))
        self._look_up(sig.signal_id)

    def _rebuild(self) -> None:
        """After a restart: what the database says is held or may be in flight (see the module doc)."""
        from actors.supervisor import rebuild_position
        from models.messages import Flush

        self._rebuilt = True
        if self.repository is None or self.refs is None:
            return
        try:
            self.rt.ask(self.refs.store, Flush())
        except Exception as exc:  # noqa: BLE001 - rebuild from what is committed
            logger.error("entry manager: store flush before rebuild failed: {}", type(exc).__name__)
        held = [s for s, _ in (rebuild_position(self.repository, p) for p in self.repository.load_open_positions())
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
