"""Supervision of the core actors (issue 10 §1), on virtual time through the real actors.

A core actor is "killed" the way a thread dies: its pykka actor is stopped behind everyone's
back (nobody is told). The engine must notice, restart it from persisted state, deliver the
messages sent to it meanwhile, and keep every position protected.
"""
from __future__ import annotations

import threading

import pykka
import pytest

from models.position import PositionStatus

TICKER = "KXSUP-1"


def _kill(ref) -> None:  # type: ignore[no-untyped-def]
    """Stop the actor behind a reference (a handle's target, or the actor itself) unannounced."""
    target = getattr(ref, "target", ref)
    target.stop(block=True, timeout=10)
    assert not target.is_alive()


def _alerts(h, actor: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in h.events("ALERT") if e.get("actor") == actor]


def _open(h, contracts: int = 10) -> str:  # type: ignore[no-untyped-def]
    h.market(TICKER, "0.49", "0.50", push=True)
    return h.enter(TICKER, "yes", contracts=contracts, win_probability="0.70", market_price="0.50")


def test_with_the_price_cache_killed_a_position_that_falls_40pct_is_still_exited_and_alerted(make_engine):
    h = make_engine()
    pid = _open(h)
    _kill(h.system.refs.price_cache)
    h.market(TICKER, "0.29", "0.30")              # the venue falls 40%; positions must poll to see it
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=120)
    assert h.position(pid).exit_reason == "stop_loss"
    assert _alerts(h, "price_cache"), "no ALERT for the dead price cache"
    assert h.events("ACTOR_RESTARTED", actor="price_cache")


def test_with_the_rate_limiter_killed_the_stops_order_is_still_sent(make_engine):
    h = make_engine()
    pid = _open(h)
    _kill(h.system.refs.rate_limiter)
    h.market(TICKER, "0.29", "0.30", push=True)   # the stop fires from the pushed quote
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=120)
    assert [o.count for o in h.sells(TICKER)] == [10]
    assert h.position(pid).exit_reason == "stop_loss"
    assert _alerts(h, "rate_limiter")


def test_with_the_store_killed_the_exit_does_not_give_up(make_engine):
    h = make_engine()
    pid = _open(h)
    _kill(h.system.refs.store)
    h.market(TICKER, "0.29", "0.30", push=True)
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=120)
    assert not h.events("EXIT_GAVE_UP")
    assert h.position(pid).exit_reason == "stop_loss"
    (sell,) = h.sells(TICKER)
    assert h.repo.order_by_client_id(sell.client_order_id) is not None    # written down before it was sent
    assert _alerts(h, "store")


def test_a_stuck_rate_limiter_is_restarted_and_the_stop_goes_out(make_engine):
    """A handler that never returns stops virtual time; the scheduler reports it stuck, the
    Watchdog replaces the actor, drops the message it was stuck on (with an ALERT) and the new
    RateLimiter is sent everything else (here: the stop's order)."""
    from actors.registry import Stall

    h = make_engine(threads=True)       # a stalled handler needs the Watchdog beside it
    h.scheduler.stuck_after_s = 0.3
    pid = _open(h)
    release = threading.Event()
    h.system.rt.send(h.system.refs.rate_limiter, Stall(release, max_wait_s=20))
    try:
        h.market(TICKER, "0.29", "0.30", push=True)
        h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=120)
    finally:
        release.set()
    assert [o.count for o in h.sells(TICKER)] == [10]
    (stuck,) = [a for a in _alerts(h, "rate_limiter") if a.get("message_type") == "Stall"]
    assert "dropped" in stuck["message"]
    (restart,) = h.events("ACTOR_RESTARTED", actor="rate_limiter")
    assert restart["reason"].startswith("stuck")


@pytest.mark.parametrize("name", ["supervisor", "exit_router", "entry_manager", "risk_manager", "store",
                                  "price_cache", "rate_limiter"])
def test_a_core_actor_killed_mid_exit_is_rebuilt_and_the_exit_completes(make_engine, name):
    """Killed while a HIGH exit's limit order rests: the exit is neither lost nor doubled."""
    h = make_engine()
    pid = _open(h)
    h.market(TICKER, "0.60", "0.61", push=True)       # +20%: trailing stop active, peak 0.60
    h.levels(TICKER, [("0.55", 1)], [("0.56", 100)])  # the trailing stop fires; one contract of bid
    h.run_until(lambda: bool(h.events("EXIT_ROUTED", position_id=pid)), limit=120)
    _kill(getattr(h.system.refs, name))
    h.market(TICKER, "0.55", "0.56")                  # liquidity comes back
    h.run_until(lambda: h.position(pid).status is PositionStatus.CLOSED, limit=600)
    assert h.events("ACTOR_RESTARTED", actor=name)
    assert not h.double_exit_orders
    h.system.flush()
    assert sum(o.filled_count for o in h.sells(TICKER)) == 10
    assert h.venue.holding(TICKER, h.position(pid).side) == 0


def test_past_the_restart_intensity_limit_the_engine_fails_safe_and_flattens_at_the_venue(make_engine):
    """More core restarts than the limit within the window: entries halt, an ALERT goes out,
    every position is sent a CRITICAL exit, and the owner (run.py) flattens at the venue
    directly (the dead actor is not on that path) and exits non-zero."""
    from adapters.engine.fail_safe import EXIT_CODE, EngineFailedSafe, check
    from models.market import Quote
    from adapters.cli.running import flatten_after_failure

    h = make_engine()
    MAX_RESTARTS = h.config.supervision.max_restarts
    pid = _open(h)
    for _ in range(MAX_RESTARTS + 1):
        _kill(h.system.refs.price_cache)
        h.system.push_quote(Quote(TICKER, h.now(), h.repo.load_position(pid).entry_price, None))   # finds it dead
        h.run(1)
    assert h.system.failure.reason and "restarts within" in h.system.failure.reason
    (failed,) = h.events("ENGINE_FAILED_SAFE")
    assert any("failing safe" in a["message"] for a in h.events("ALERT"))
    assert len(h.events("ACTOR_RESTARTED", actor="price_cache")) == MAX_RESTARTS
    h.signal("KXSUP-OTHER", "yes", contracts=5)          # entries are halted
    h.run(0)
    assert not h.events("TRADE_EXECUTED", market="KXSUP-OTHER")
    with pytest.raises(EngineFailedSafe):
        check(h.system)
    h.market(TICKER, "0.47", "0.48")
    assert flatten_after_failure(h.engine, h.system.failure.reason) == EXIT_CODE
    h._stopped = True
    assert h.venue.holding(TICKER, h.repo.load_position(pid).side) == 0
    assert h.repo.load_position(pid).status is PositionStatus.CLOSED
    assert not pykka.ActorRegistry.get_all()


def test_a_restarted_rate_limiter_counts_the_calls_of_the_last_minute(make_engine):
    """Its own calls (the call log outlives it) and those made before it started (a previous
    process, start-up reconciliation) still count against the minute's budget."""
    from datetime import timedelta

    h = make_engine(threads=True)                     # the heartbeat runs with a thread per actor
    _open(h)
    before = h.now()
    h.system.count_prior_calls([before - timedelta(seconds=10)] * 3)
    h.run(0)
    used = h.system.refs.rate_limiter.proxy().budget.get(timeout=10).used(h.now())
    _kill(h.system.refs.rate_limiter)
    h.run(6)                                          # the heartbeat finds it dead: restarted
    assert h.events("ACTOR_RESTARTED", actor="rate_limiter")
    assert h.system.refs.rate_limiter.proxy().budget.get(timeout=10).used(h.now()) >= used >= 4


def test_inline_a_core_actor_that_died_unannounced_is_restarted_when_next_used(make_engine):
    """The inline dispatcher has no heartbeat (actors/watchdog.py): an actor that stopped without
    a word is found dead by the next message or read that reaches it, restarted from what it
    persisted (the call log outlives it), and that message or read goes to the new actor."""
    from datetime import timedelta

    h = make_engine()
    _open(h)
    h.system.count_prior_calls([h.now() - timedelta(seconds=10)] * 3)
    h.run(0)
    used = h.system.refs.rate_limiter.proxy().budget.get(timeout=10).used(h.now())
    _kill(h.system.refs.rate_limiter)
    h.run(6)
    assert not h.events("ACTOR_RESTARTED", actor="rate_limiter")      # nothing reached it yet
    assert h.system.refs.rate_limiter.proxy().budget.get(timeout=10).used(h.now()) >= used >= 4
    (restart,) = h.events("ACTOR_RESTARTED", actor="rate_limiter")
    assert "found by a read" in restart["reason"]
    _kill(h.system.refs.price_cache)
    h.market(TICKER, "0.30", "0.31", push=True)        # a quote to the dead cache: -40%, a stop loss
    h.run(30)
    assert h.events("ACTOR_RESTARTED", actor="price_cache")
    assert h.events("EXIT_TRIGGERED", condition="stop_loss")


def test_a_restarted_router_drops_a_trigger_made_before_the_position_saw_its_fills(make_engine):
    """The new router has not seen what was sold: it reads the fills ledger, so an evaluation
    made before the position saw a fill (10 held, 0 sold; the ledger says 5 sold) starts no exit
    for 10 contracts (which would sell more than is held)."""
    from decimal import Decimal

    from models.exit_rules import ExitTrigger
    from models.market import Side
    from models.events import ExitTriggered
    from models.priorities import Priority

    h = make_engine()
    h.market(TICKER, "0.49", "0.50", push=True)
    pid = h.enter(TICKER, "yes", contracts=10, win_probability="0.80", market_price="0.50")
    h.market(TICKER, "0.58", "0.59", push=True)        # +16%: stage 1 sells 5
    h.run_until(lambda: h.position(pid).contracts == 5, limit=300)
    routed = len(h.events("EXIT_ROUTED", position_id=pid))
    _kill(h.system.refs.exit_router)
    stale = ExitTriggered(pid, TICKER, Side.YES, 10, 0, (ExitTrigger(
        "stop_loss", Priority.CRITICAL, (0, 0), 10, Decimal("-20"), Decimal("-12"), "stale"),))
    h.system.rt.send(h.system.refs.exit_router, stale)
    h.run(0)
    assert h.events("ACTOR_RESTARTED", actor="exit_router")
    assert len(h.events("EXIT_ROUTED", position_id=pid)) == routed
    assert not [e for e in h.events("ORDER_REJECTED") if "cannot sell" in str(e.get("error", ""))]
