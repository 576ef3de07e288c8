"""Supervisor: starts position actors, routes to them, and restarts them when they crash.

It keeps the registry of open positions (id -> actor, market -> ids), so that a message for
a market reaches only the positions of that market. A position actor that crashes is
restarted from the database (the Store is flushed first), at most `max_restarts` times in
`restart_window`; past that the position is flagged, an alert goes out and it is sent a
circuit_breaker so that its exit escalates to CRITICAL.

Restart of the Supervisor itself (actors/watchdog.py): `Rebuild` adopts every live position
actor of this engine (they hold the Supervisor's stable handle, so they outlive it) and starts
an actor for every open position in the database that has none (except `skip`). Messages sent
to it meanwhile are held by the handle and delivered after. Lost: restart counts and flags,
settlements seen (each position still gets its own), the breaker (the RiskManager re-announces
it). When the PriceCache is restarted, every position is subscribed again and refreshed at once;
when the GameFeed is, every game is followed again.
"""
from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

from loguru import logger

from actors.base import ArbeesActor
from actors.position import PositionActor
from actors.wiring import Refs, Wired
from config.schema import Config
from models import audit_events as ae
from models.closing import close_position
from models.ledger import reconcile_with_fills
from models.commands import (
    FollowGames,
    ForwardToMarket,
    MarksNeeded,
    GetQuote,
    ForwardToPosition,
    HaltEntries,
    ResumeEntries,
    Rebuild,
    StartPosition,
    Subscribe,
)
from models.events import (
    ActorCrashed,
    CircuitBreakerTripped,
    ExecutorCrashed,
    ExposureReleased,
    MarketSettled,
    PnlRealized,
    PositionClosed,
)
from models.store_commands import Flush, SavePosition


def rebuild_position(repo, state):  # type: ignore[no-untyped-def]
    """A position as the database knows it, with its holdings taken from the fills ledger (less
    what start-up reconciliation found gone from the venue).
    Returns (state, ids of the exit fills already counted in it)."""
    return rebuild_positions(repo, (state,))[0]


def rebuild_positions(repo, states):  # type: ignore[no-untyped-def]
    """rebuild_position for many positions, reading the ledger for all of them at once."""
    ledger = repo.exit_ledger([s.position_id for s in states])
    out = []
    for state in states:
        fills, removed = ledger[state.position_id]
        out.append((reconcile_with_fills(state, fills, removed), frozenset(f.fill_id for f in fills)))
    return out


class Supervisor(ArbeesActor):
    """Starts, routes to and restarts position actors (see the module docstring).

    Receives: StartPosition, ForwardToPosition, ForwardToMarket (a MarketSettled inside is kept
    for positions started later), PositionClosed, HaltEntries, ResumeEntries,
    CircuitBreakerTripped, ActorCrashed, FollowGames, MarksNeeded (passed to every position), Wired,
    Rebuild.

    Sends: what it forwards, to positions; CircuitBreakerTripped to every position (and to one
    that crashed too often); HaltEntries and ResumeEntries to the EntryManager; ExecutorCrashed
    to the ExitRouter; WatchGame to the GameFeed; Subscribe and GetQuote to a restarted
    PriceCache; for fills a crashed position never applied, SavePosition to the Store,
    PnlRealized to the RiskManager, ExposureReleased and PositionClosed to the EntryManager and
    the router.

    Asks: the Store Flush before rebuilding a position from the database; after its own
    restart, each live position's `refs` and `state` through its proxy; all within
    ask_timeout_s (10 s).
    """

    kind = "supervisor"
    survives_errors = True

    def __init__(self, rt, config: Config, repository, *, max_restarts: int = 3,
                 restart_window_secs: float = 60.0, handle=None) -> None:
        super().__init__(rt, "supervisor", handle=handle)
        self.config = config
        self.repo = repository
        self.refs: Refs | None = None
        self.positions: dict[str, Any] = {}
        self.by_market: dict[str, set[str]] = defaultdict(set)
        self.breaker: CircuitBreakerTripped | None = None
        self.max_restarts = max_restarts
        self.window = timedelta(seconds=restart_window_secs)
        self.restarts: dict[str, deque[datetime]] = defaultdict(deque)
        self.flagged: set[str] = set()
        self.closed = 0
        self.game_feed = None
        self._states: dict[str, tuple[str | None, str, str]] = {}
        # Settlements seen, by market: a position started later there (its entry was still in
        # flight, or its actor was being restarted) is settled on start instead of missing it.
        self.settled: dict[str, MarketSettled] = {}

    def handle(self, message: Any) -> Any:
        match message:
            case Wired(refs=refs):
                self.refs = refs
            case StartPosition(state=state, applied_fills=applied):
                self._start(state, applied)
            case FollowGames(game_feed=feed):
                self.game_feed = feed
                for pid in self.positions:
                    self._follow(pid)
            case PositionClosed(position_id=pid, ticker=t):
                self.positions.pop(pid, None)
                self.by_market[t].discard(pid)
                self.closed += 1
            case ForwardToPosition(position_id=pid, message=m):
                self.send(self.positions.get(pid), m)
            case ForwardToMarket(ticker=t, message=m):
                if isinstance(m, MarketSettled):
                    self.settled[t] = m
                for pid in tuple(self.by_market.get(t, ())):
                    self.send(self.positions.get(pid), m)
            case HaltEntries():
                self.send(self.refs.entry_manager, message)
            case ResumeEntries():    # the breaker cleared (a new trading day): new positions start normally
                self.breaker = None
                self.send(self.refs.entry_manager, message)
            case CircuitBreakerTripped():
                self.breaker = message
                for ref in tuple(self.positions.values()):
                    self.send(ref, message)
            case MarksNeeded():     # issue 14: from the RiskManager, to every position
                for ref in tuple(self.positions.values()):
                    self.send(ref, message)
            case ActorCrashed(kind="position", key=pid, urn=urn):
                current = self.positions.get(pid)
                if not urn or current is None or current.actor_urn == urn:
                    self._restart_position(pid, message.error)
            case Rebuild(skip=skip):
                self._rebuild(skip)
            case ActorCrashed(kind="executor", key=exit_id):
                self.send(self.refs.exit_router, ExecutorCrashed(exit_id, message.error))
            case ActorCrashed():
                self.rt.audit.emit(ae.Alert(said=f"ALERT {message.kind} {message.key} crashed: {message.error}",
                                            actor=message.kind, key=message.key, error=message.error))
            case _:
                self.unknown(message)
        return None

    def on_peer_restarted(self, name: str) -> None:
        if name == "price_cache":
            for pid, ref in tuple(self.positions.items()):
                ticker = self._states[pid][2]
                self.send(self.refs.price_cache, Subscribe(ticker, ref, pid))
                self.send(self.refs.price_cache, GetQuote(ticker, ref, "refresh"))
        elif name == "game_feed":
            for pid in self.positions:
                self._follow(pid)

    def _rebuild(self, skip: frozenset) -> None:
        """A restarted Supervisor: adopt this engine's live position actors, start the rest."""
        import pykka

        try:
            self.rt.ask(self.refs.store, Flush())
        except Exception as exc:  # noqa: BLE001 - rebuild from what is committed
            logger.error("supervisor: store flush before rebuild failed: {}", type(exc).__name__)
        adopted = 0
        for ref in pykka.ActorRegistry.get_by_class(PositionActor):
            try:
                proxy = ref.proxy()
                mine = proxy.refs.get(timeout=self.rt.ask_timeout_s).supervisor is self.me
                state = proxy.state.get(timeout=self.rt.ask_timeout_s)
            except Exception:  # noqa: BLE001 - an actor that is stopping
                continue
            if not mine or state.contracts == 0:
                continue
            self.positions[state.position_id] = ref
            self.by_market[state.ticker].add(state.position_id)
            self._states[state.position_id] = (state.game_id, state.sport, state.ticker)
            adopted += 1
        started = 0
        for saved in self.repo.load_open_positions():
            if saved.position_id in self.positions or saved.position_id in skip:
                continue
            state, applied = rebuild_position(self.repo, saved)
            self._absorbed(saved, state, self.rt.clock.now())
            if state.contracts > 0:
                self._start(state, applied)
                started += 1
        self.rt.audit.emit(ae.PositionsAdopted(adopted=adopted, started=started))

    def _start(self, state, applied_fills: frozenset[str] = frozenset()) -> None:  # type: ignore[no-untyped-def]
        if state.position_id in self.positions:
            return
        ref = PositionActor.start(self.rt, self.config, self.refs, state, breaker_tripped=self.breaker is not None or state.position_id in self.flagged,
                                  applied_fills=applied_fills)
        self.positions[state.position_id] = ref
        self.by_market[state.ticker].add(state.position_id)
        self._states[state.position_id] = (state.game_id, state.sport, state.ticker)
        self._follow(state.position_id)
        if state.ticker in self.settled:
            self.send(ref, self.settled[state.ticker])

    def _follow(self, pid: str) -> None:
        """Positions whose game is known are followed on ESPN (live), so their edge tracks it."""
        if self.game_feed is None or pid not in self._states:
            return
        from actors.game_feed import watch_for_position

        watch = watch_for_position(*self._states[pid])
        if watch is not None:
            self.send(self.game_feed, watch)

    def _absorbed(self, saved, state, now) -> None:  # type: ignore[no-untyped-def]
        """Fills the crashed actor never applied, taken in from the ledger on restart: report them
        as the actor would have (risk, exposure) and close the position if nothing is left."""
        sold = saved.contracts - state.contracts
        if sold <= 0:
            return
        self.send(self.refs.store, SavePosition(state))
        self.send(self.refs.risk_manager, PnlRealized(state.realized_pnl - saved.realized_pnl))
        self.send(self.refs.entry_manager, ExposureReleased(state.position_id, state.ticker, state.game_id,
                                                            state.entry_price * sold))
        if state.contracts == 0:
            state = close_position(state, now)
            self.send(self.refs.store, SavePosition(state))
            self.rt.audit.emit(ae.PositionClosed(
                position_id=state.position_id, market=state.ticker, side=state.side, reason=state.exit_reason,
                priority=state.exit_priority, realized_pnl=state.realized_pnl, exit_fees=state.exit_fees,
                entry_fees=state.entry_fees, closed_by=ae.CLOSED_FROM_LEDGER))
            closed = PositionClosed(state.position_id, state.ticker, state.side, state.exit_reason)
            for ref in (self.refs.exit_router, self.refs.entry_manager):
                self.send(ref, closed)
            self.closed += 1

    def _restart_position(self, pid: str, error: str) -> None:
        self.positions.pop(pid, None)
        now = self.rt.clock.now()
        history = self.restarts[pid]
        history.append(now)
        while history and history[0] <= now - self.window:
            history.popleft()
        try:
            self.rt.ask(self.refs.store, Flush())
        except Exception as exc:  # noqa: BLE001
            logger.error("supervisor: store flush before restart failed: {}", type(exc).__name__)
        state = self.repo.load_position(pid)
        if state is None:
            return
        saved = state
        state, applied = rebuild_position(self.repo, state)
        self._absorbed(saved, state, now)
        if state.contracts == 0:
            self.by_market[state.ticker].discard(pid)
            return
        self._start(state, applied)
        self.rt.audit.emit(ae.ActorRestarted(position_id=pid, market=state.ticker, contracts=state.contracts,
                                             restarts_in_window=len(history), error=error))
        if len(history) > self.max_restarts and pid not in self.flagged:
            self.flagged.add(pid)
            self.rt.audit.emit(ae.Alert(said=f"ALERT position {pid} crashed {len(history)} times in "
                                             f"{self.window.total_seconds():.0f}s: flagged, exit escalated to CRITICAL",
                                        position_id=pid, market=state.ticker, restarts_in_window=len(history)))
            self.send(self.positions[pid], CircuitBreakerTripped())
