"""After a stop loss closes a position, the same market and side is not entered again for
`signals.reentry_after_stop_secs` (300 s by default): the model that said "edge" just lost to
the market, and buying straight back is how a stop becomes a string of stops (review of session 6:
a market re-signalled 3 minutes after a stop-out, and a later signal entered it)."""
from __future__ import annotations

from datetime import datetime


def stopped_out(h):  # type: ignore[no-untyped-def]
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.market("M1", "0.40", "0.41", push=True)           # through the 0.4312 stop
    h.run(10)
    assert h.position(pid).exit_reason == "stop_loss"
    return pid, datetime.fromisoformat(h.events("POSITION_CLOSED", position_id=pid)[0]["ts"])


def test_the_same_market_and_side_is_not_bought_back_within_the_cooldown(engine):
    h = engine
    pid, closed = stopped_out(h)
    h.run(120)
    sig = h.signal("M1", contracts=10, market_price="0.41")
    h.run(1)
    (rej,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert "stopped out of M1 yes" in rej["reason"] and "signals.reentry_after_stop_secs" in rej["reason"]
    assert f"{closed:%H:%M:%S}" in rej["reason"]
    h.run(200)                                           # past 300 s after the stop
    again = h.signal("M1", contracts=10, market_price="0.41")
    h.run(1)
    assert h.events("TRADE_EXECUTED", signal_id=again.signal_id)


def test_a_zero_cooldown_turns_it_off(make_engine):
    h = make_engine({"signals": {"reentry_after_stop_secs": 0}})
    stopped_out(h)
    sig = h.signal("M1", contracts=10, market_price="0.41")
    h.run(1)
    assert h.events("TRADE_EXECUTED", signal_id=sig.signal_id)


def test_a_position_closed_at_a_profit_may_be_entered_again_at_once(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20, win_probability="0.60")
    h.run(3)
    h.set_model("M1", "0.50")                            # early_exit (LOW)
    h.market("M1", "0.50", "0.51")
    h.run(61)
    assert h.position(pid).contracts == 0 and h.position(pid).exit_reason != "stop_loss"
    sig = h.signal("M1", contracts=10, win_probability="0.90", market_price="0.51")
    h.run(1)
    assert h.events("TRADE_EXECUTED", signal_id=sig.signal_id)


def test_a_restarted_engine_still_holds_off_a_market_stopped_out_before_it(engine):
    """The stop-out is read back from the database when the EntryManager starts: a restart two
    minutes after a stop does not buy the market straight back."""
    from datetime import timedelta

    from adapters.cli.running import build_paper_engine
    from config.loader import load_config
    from models.market import Side
    from models.signal import TradingSignal
    from decimal import Decimal

    h = engine
    pid, closed = stopped_out(h)
    h.run(120)
    venue, now = h.venue, h.now()
    h.stop()
    audit: list = []
    b = build_paper_engine(load_config(), now, db_path=str(h.db_path), audit_path=None, fresh=False,
                           recorder=audit, venue_factory=lambda clock: venue)
    try:
        b.system.push_signal(TradingSignal("back", b.clock.now(), "G1", "nba", "M1", "paper", Side.YES, "default",
                                           Decimal("0.90"), Decimal("0.41"), contracts=10))
        b.scheduler.run_for(timedelta(seconds=1))
        (rej,) = [e for e in audit if e.get("signal_id") == "back" and e["event"] == "SIGNAL_REJECTED"]
        assert "stopped out of M1 yes" in rej["reason"], rej["reason"]
    finally:
        b.stop()
