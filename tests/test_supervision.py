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
