"""A restarted EntryManager knows from the database that the breaker tripped today.

A signal sent to the EntryManager while it is down is delivered right after its Rebuild; the
RiskManager's re-announced halt travels three hops (Watchdog, RiskManager, Supervisor) and may
come after that signal's quote. Here nobody re-announces it at all: the EntryManager must still
refuse the signal, from the trip written in the database.
"""
from __future__ import annotations

LIMITS = {"circuit_breaker": {"daily_loss_limit_dollars": 5}}


def _kill(ref) -> None:  # type: ignore[no-untyped-def]
    target = getattr(ref, "target", ref)
    target.stop(block=True, timeout=10)
    assert not target.is_alive()


def test_a_rebuilt_entry_manager_refuses_signals_while_todays_breaker_holds(make_engine):
    h = make_engine(LIMITS)
    h.market("M1", "0.49", "0.50")
    h.enter("M1", contracts=12, game_id="G-M1", signal_id="loss-M1")
    h.settle("M1", "no")                       # -0.50 x 12 and the fee: past the $5 limit
    assert len(h.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    # The RiskManager will not re-announce it (as if its message came late): only the database says so.
    h.system.refs.risk_manager.proxy().tripped = None
    h.market("M7", "0.49", "0.50")
    h.run(0)
    _kill(h.system.refs.entry_manager)
    sig = h.signal("M7", contracts=5, signal_id="while-down")    # finds it dead: restarted
    h.run(5)
    assert h.events("ACTOR_RESTARTED", actor="entry_manager")
    assert not h.events("TRADE_EXECUTED", signal_id=sig.signal_id)
    (rejected,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert rejected["reason"].startswith("entries halted (daily loss")


def test_a_breaker_cleared_by_the_day_end_does_not_halt_a_rebuilt_entry_manager(make_engine):
    h = make_engine(LIMITS)
    h.market("M1", "0.49", "0.50")
    h.enter("M1", contracts=12, game_id="G-M1", signal_id="loss-M1")
    h.settle("M1", "no")
    assert len(h.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    h.run(24 * 3600)                            # the trading day ends: entries resume
    assert h.events("CIRCUIT_BREAKER_RESET")
    h.market("M7", "0.49", "0.50")
    h.run(0)
    _kill(h.system.refs.entry_manager)
    sig = h.signal("M7", contracts=5, signal_id="next-day")
    h.run(5)
    assert h.events("ACTOR_RESTARTED", actor="entry_manager")
    assert h.events("TRADE_EXECUTED", signal_id=sig.signal_id)
