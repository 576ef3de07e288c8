"""The merged supervision (issue 10), risk controls (issue 9) and exits (issue 8), together:
core actors crashed or stuck while the breaker, the entry path, the request gate, the
liquidity samples and the exits hold state, on virtual time through the real actors."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from models.position import PositionStatus

D = Decimal
LIMITS = {"circuit_breaker": {"daily_loss_limit_dollars": 5}}


def _kill(ref) -> None:  # type: ignore[no-untyped-def]
    target = getattr(ref, "target", ref)
    target.stop(block=True, timeout=10)
    assert not target.is_alive()


def _lose_by_settlement(h, ticker: str, contracts: int) -> None:  # type: ignore[no-untyped-def]
    """Buy YES at 0.50 and see the market settle NO: -0.50 x contracts and the entry fee."""
    h.market(ticker, "0.49", "0.50")
    h.enter(ticker, contracts=contracts, game_id=f"G-{ticker}", signal_id=f"loss-{ticker}")
    h.settle(ticker, "no")
    assert h.events("POSITION_SETTLED", market=ticker)


# --- RiskManager ------------------------------------------------------------------------------------

def test_a_loss_realized_while_the_risk_manager_is_stuck_is_counted_once_after_its_restart(make_engine):
    """The RiskManager is stuck with a PnlRealized waiting behind it (the handle journals it);
    the Store commits the position's loss meanwhile. The new RiskManager reloads the day's
    realized P&L from the database and is then sent the journaled PnlRealized: the same loss
    must not count twice (-3.63 is under the $5 limit; counted twice it trips the breaker and
    closes every position)."""
    from actors.registry import Stall

    h = make_engine(LIMITS, threads=True)       # a stalled handler needs the Watchdog beside it
    h.scheduler.stuck_after_s = 2.0                     # the Store commits long before that
    h.market("M1", "0.49", "0.50")
    h.enter("M1", contracts=7, game_id="G-M1", signal_id="loss-M1")
    h.run(0)
    release = threading.Event()
    h.system.rt.send(h.system.refs.risk_manager, Stall(release, max_wait_s=20))
    try:
        h.settle("M1", "no")                             # -3.63 realized while it is stuck
        h.run(1)
    finally:
        release.set()
    assert h.events("ACTOR_RESTARTED", actor="risk_manager")
    assert not h.events("CIRCUIT_BREAKER_TRIPPED"), h.events("CIRCUIT_BREAKER_TRIPPED")
    assert h.system.refs.risk_manager.proxy().realized.get(timeout=10) == D("-3.63")


def test_a_risk_manager_killed_after_the_breaker_tripped_stays_tripped_and_exits_once(make_engine):
    h = make_engine(LIMITS)
    h.market("M2", "0.49", "0.50")
    pid = h.enter("M2", contracts=4, game_id="G-M2", signal_id="open-M2")
    h.levels("M2", [("0.48", 1)], [("0.50", None)])     # one contract of bid: the breaker's exit rests
    _lose_by_settlement(h, "M1", 12)                     # -6.22: tripped
    assert len(h.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    h.run_until(lambda: bool(h.events("EXIT_ROUTED", position_id=pid)), limit=60)
    h.system.flush()
    _kill(h.system.refs.risk_manager)
    h.run(10)                                            # the heartbeat finds it dead
    assert h.events("ACTOR_RESTARTED", actor="risk_manager")
    assert h.system.refs.risk_manager.proxy().tripped.get(timeout=10)
    h.market("M2", "0.48", "0.50")
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=600)
    assert len(h.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    assert len(h.repo.breaker_trips(h.now().date().isoformat())) == 1
    assert not h.double_exit_orders
    h.system.flush()
    assert sum(o.filled_count for o in h.sells("M2")) == 4
    assert len(h.events("EXIT_ROUTED", position_id=pid)) == 1, h.events("EXIT_ROUTED", position_id=pid)
    sig = h.signal("M3", contracts=5, signal_id="after")
    h.market("M3", "0.49", "0.50")
    h.run(1)
    assert not h.events("TRADE_EXECUTED", signal_id="after")


# --- EntryManager ------------------------------------------------------------------------------------

def test_an_entry_filled_while_the_entry_manager_died_becomes_a_protected_position_once(make_engine):
    """The EntryManager dies while its IOC entry is at the venue, and the entry fills. The new
    EntryManager must turn that fill into its position (monitored, with a stop), keep the market
    and side reserved meanwhile, and never buy again for it."""
    from models.orders import Action

    h = make_engine()
    h.market("M5", "0.49", "0.50")
    original = h.venue.place_order
    killed = []

    def place_order(request):  # type: ignore[no-untyped-def]
        snap = original(request)
        if request.action is Action.BUY and not killed:
            killed.append(True)
            _kill(h.system.refs.entry_manager)           # dies while its entry's answer is on the way
        return snap

    h.venue.place_order = place_order  # type: ignore[method-assign]
    sig = h.signal("M5", contracts=10, signal_id="held")
    h.run(5)
    assert killed and h.events("ACTOR_RESTARTED", actor="entry_manager")
    h.signal("M5", contracts=10, signal_id="again")      # the same market and side: still reserved
    h.run(5)
    buys = [o for o in h.venue.list_orders("M5") if o.action is Action.BUY]
    assert len(buys) == 1, buys
    (opened,) = h.events("TRADE_EXECUTED", signal_id=sig.signal_id)
    pid = opened["position_id"]
    assert h.events("SIGNAL_REJECTED", signal_id="again")
    h.market("M5", "0.39", "0.40", push=True)            # -20%: the position is monitored and stopped out
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=300)
    assert h.position(pid).exit_reason == "stop_loss"
    assert h.venue.holding("M5", h.position(pid).side) == 0


# --- RateLimiter and the Kalshi request gate ---------------------------------------------------------

def test_a_replaced_rate_limiter_never_leaves_the_venue_without_the_new_limiters_gate(make_engine):
    """The Watchdog stops the old RateLimiter without waiting, so its on_stop can run after the
    new one installed its gate: from the moment the new gate is in, the venue must never be
    ungated (a request in that gap would spend no slot: more requests than the budget)."""
    from actors.rate_limiter import RateLimiter
    from actors.registry import ActorHandle

    h = make_engine()
    rt = h.system.rt
    gates: list = []

    class GatedVenue:
        """The paper venue with Kalshi's request gate (set_request_gate returns the old gate)."""

        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner, self.gate = inner, None

        def set_request_gate(self, gate):  # type: ignore[no-untyped-def]
            previous, self.gate = self.gate, gate
            gates.append(gate)
            return previous

        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(self.inner, name)

    venue = GatedVenue(h.venue)
    handle = ActorHandle("rate_limiter_test", rt.activity, rt.clock)
    old = RateLimiter.start(rt, venue, 10, None, handle=handle)
    handle.attach(old)
    old_gate = venue.gate
    assert old_gate is not None
    handle.begin_restart()                           # as the Watchdog: hold, build the new one, ...
    new = RateLimiter.start(rt, venue, 10, None, handle=handle)
    handle.complete_restart(new)
    new_gate = venue.gate
    assert new_gate is not None and new_gate != old_gate
    since = len(gates)
    old.stop(block=True, timeout=10)                 # ... the old one's on_stop runs late
    assert venue.gate == new_gate
    assert None not in gates[since:], gates[since:]
    handle.stop(block=True, timeout=10)              # the engine stops: the gate goes with it
    assert venue.gate is None


# --- PriceCache --------------------------------------------------------------------------------------

def test_a_restarted_price_cache_treats_recent_volume_as_unknown_not_zero(make_engine):
    """The recent-volume samples die with the PriceCache: until the new one has a window of
    history, a trading market is not judged dried up; once it has, a silent market is."""
    h = make_engine({"liquidity": {"min_volume": 50}})
    volume = 10_000
    h.market("V", "0.50", "0.51", volume=volume)
    pid = h.enter("V", win_probability="0.60", market_price="0.51")
    for _ in range(6):                                   # 100 contracts a minute: liquid
        volume += 100
        h.market("V", "0.50", "0.51", volume=volume)
        h.run(60)
    _kill(h.system.refs.price_cache)
    for _ in range(4):                                   # the new cache has less than a window
        volume += 100
        h.market("V", "0.50", "0.51", volume=volume)
        h.run(60)
    assert h.events("ACTOR_RESTARTED", actor="price_cache")
    assert not h.events("EXIT_TRIGGERED", position_id=pid, condition="liquidity_dried_up")
    h.run(300 + 60)                                       # then nothing trades for a window
    assert h.events("EXIT_TRIGGERED", position_id=pid, condition="liquidity_dried_up")


def test_a_risk_manager_rebuilt_while_the_store_is_behind_reloads_what_was_sent_to_it(make_engine):
    """The breaker trips while the Store is stuck (its trip row and the loss are not committed
    yet) and the RiskManager dies right then. The new one must not read a database that is
    behind: it waits for the Store to commit what was sent to it, so it is tripped, with the
    day's loss, and the trip is not announced twice."""
    from actors.registry import Stall
    from actors.risk_manager import TradingDayEnded

    h = make_engine(LIMITS, threads=True)      # a stalled handler needs the Watchdog beside it
    h.scheduler.stuck_after_s = 1.5
    h.market("M1", "0.49", "0.50")
    h.enter("M1", contracts=12, game_id="G-M1", signal_id="loss-M1")
    h.run(0)
    handle = h.system.refs.risk_manager
    release = threading.Event()
    killed = threading.Event()

    def kill_when_tripped() -> None:
        for _ in range(1000):
            if any(e["event"] == "CIRCUIT_BREAKER_TRIPPED" for e in list(h.audit)):
                _kill(handle)
                h.system.rt.send(handle, TradingDayEnded())    # finds it dead: restarted at once
                killed.set()
                return
            release.wait(0.01)

    h.system.rt.send(h.system.refs.store, Stall(release, max_wait_s=20))
    killer = threading.Thread(target=kill_when_tripped, daemon=True)
    killer.start()
    try:
        h.settle("M1", "no")                             # -6.21: over the $5 limit
        h.run(1)
    finally:
        release.set()
        killer.join(5)
    assert killed.is_set()
    assert h.events("ACTOR_RESTARTED", actor="risk_manager")
    assert handle.proxy().tripped.get(timeout=10)
    assert handle.proxy().realized.get(timeout=10) == D("-6.21")          # -6.00 and a 0.21 fee
    assert len(h.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    h.system.flush()
    assert len(h.repo.breaker_trips(h.now().date().isoformat())) == 1


# --- ExitRouter --------------------------------------------------------------------------------------

def test_a_router_killed_while_a_take_profit_rests_at_its_floor_keeps_the_floor(make_engine):
    """The adopted executor keeps its exit's floor: nothing is sold below it, and the order at
    the floor is not doubled by a new exit from the new router."""
    h = make_engine({"liquidity": {"max_spread_cents": 50}})
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.54", "0.62")                     # nobody bids near the stage
    h.phantom("M1", "0.58", "0.62")                    # the stream showed +16%: stage 1 fires
    h.run_until(lambda: bool(h.events("EXIT_ROUTED", position_id=pid)), limit=60)
    h.run(5)
    _kill(h.system.refs.exit_router)
    h.run(400)
    assert h.events("ACTOR_RESTARTED", actor="exit_router")
    assert not h.double_exit_orders
    assert all(o.limit_price >= D("0.58") for o in h.sells("M1")), [o.limit_price for o in h.sells("M1")]
    assert h.position(pid).contracts == 20


def test_a_router_killed_after_a_stop_gave_up_re_attacks_when_the_bid_comes_back(make_engine):
    h = make_engine()
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", None, "0.46")                       # the venue: nobody bids
    h.phantom("M1", "0.43", "0.46")                    # the stream still shows a 0.43 bid
    h.run_until(lambda: h.events("EXIT_GAVE_UP", position_id=pid), limit=120)
    gave_up = h.now()
    _kill(h.system.refs.exit_router)
    h.run(20)
    assert h.events("ACTOR_RESTARTED", actor="exit_router")
    h.market("M1", "0.43", "0.46", bid_size=50)        # liquidity returns (polled)
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=200)
    assert (h.now() - gave_up).total_seconds() < 60
    assert not h.double_exit_orders
    assert h.venue.holding("M1", h.position(pid).side) == 0


def test_a_signal_waiting_for_its_quote_when_the_entry_manager_dies_is_decided_by_the_new_one(make_engine):
    """Chosen: a signal received and not decided when the EntryManager died is decided by the
    rebuilt one (as a restarted process decides the pending signals: its age checked first),
    not left pending until the next start. It is decided once."""
    h = make_engine()
    h.market("M6", "0.49", "0.50")
    h.run(60)                                            # the cache's quote is stale: the signal polls
    original = h.venue.get_quotes
    killed = []

    def get_quotes(tickers):  # type: ignore[no-untyped-def]
        if "M6" in tickers and not killed:
            killed.append(True)
            _kill(h.system.refs.entry_manager)           # dies while its signal waits for the quote
        return original(tickers)

    h.venue.get_quotes = get_quotes  # type: ignore[method-assign]
    sig = h.signal("M6", contracts=10, signal_id="waiting")
    h.run(5)
    assert killed and h.events("ACTOR_RESTARTED", actor="entry_manager")
    decided = h.events("TRADE_EXECUTED", signal_id=sig.signal_id) + h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert len(decided) == 1, decided
    assert decided[0]["event"] == "TRADE_EXECUTED"
    h.system.flush()
    assert not [s for s in h.repo.pending_signals() if s.signal_id == sig.signal_id]
    assert len([o for o in h.venue.list_orders("M6")]) == 1


def test_a_signal_sent_while_the_entry_manager_is_down_after_a_trip_is_refused(make_engine):
    """The rebuilt EntryManager is sent the signal that waited for it right after its Rebuild,
    before the RiskManager's re-announced halt can reach it: it must know the breaker is
    tripped from the database, or it buys while the breaker is tripped."""
    h = make_engine(LIMITS)
    _lose_by_settlement(h, "M1", 12)
    assert len(h.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    h.market("M7", "0.49", "0.50")
    h.run(0)
    _kill(h.system.refs.entry_manager)
    sig = h.signal("M7", contracts=5, signal_id="while-down")    # finds it dead: restarted
    h.run(5)
    assert h.events("ACTOR_RESTARTED", actor="entry_manager")
    assert not h.events("TRADE_EXECUTED", signal_id=sig.signal_id)
    (rejected,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert rejected["reason"].startswith("entries halted")
