"""Kalshi nets YES and NO of one market: buying NO while YES is held sells the YES. The paper
venue simulates Kalshi, so paper and replay refuse the other side of a held market as live does
(before session 6 they opened it: 2 to 4 times a run in the paper seeds)."""
from __future__ import annotations


def test_a_signal_for_the_other_side_of_a_held_market_is_refused_in_paper(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    h.enter("M1", contracts=20)
    sig = h.signal("M1", side="no", contracts=10, win_probability="0.90", market_price="0.51")
    h.run(1)
    (rej,) = h.events("SIGNAL_REJECTED", signal_id=sig.signal_id)
    assert "M1 yes is held" in rej["reason"] and "nets the two sides" in rej["reason"]
    assert len(h.events("TRADE_EXECUTED")) == 1


def test_once_the_held_side_is_closed_the_other_side_may_open(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.market("M1", "0.40", "0.41", push=True)              # stop loss: out
    h.run(10)
    assert h.position(pid).contracts == 0
    sig = h.signal("M1", side="no", contracts=10, win_probability="0.90", market_price="0.60")
    h.run(1)
    assert h.events("TRADE_EXECUTED", signal_id=sig.signal_id)
