"""An exit with no bid to sell into alerts once, not at every attempt.

Before: every attempt of an exit whose book had no bid was an ALERT ("no bid to sell into;
waiting"): 13 an exit, 39 a position in 10 minutes (36 in the outside review's count). The alert
channels' queues hold 100 and drop what comes after, so a later CIRCUIT_BREAKER_TRIPPED could
be lost behind them.
"""
from __future__ import annotations

from collections import Counter
from decimal import Decimal as D


def no_bid_alerts(h, pid):  # type: ignore[no-untyped-def]
    return [e for e in h.events("ALERT", position_id=pid) if "bid to sell into" in (e.get("detail") or "")]


def test_an_exit_without_a_bid_alerts_once_and_its_order_names_the_bid_when_it_returns(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", None, "0.50", push=True)     # nobody bids: liquidity_dried_up (HIGH), nothing to sell into
    h.run(600)
    alerts = no_bid_alerts(h, pid)
    exits = [e["exit_id"] for e in h.events("EXIT_ROUTED", position_id=pid)]
    # one for the episode (the first exit's), not one an exit: the later exits of the episode say
    # "gave up (N give-ups in a row)" and page only at the 2nd, 4th, 8th ... (test_give_up_alerts.py)
    assert len(exits) >= 3 and Counter(e["exit_id"] for e in alerts) == Counter(exits[:1])
    assert len(h.events("ALERT")) + len(h.events("EXIT_GAVE_UP")) <= 2 * len(exits)
    # The bid comes back: the exit in flight sells, and its order's line shows the bid it found.
    h.market("M1", "0.45", "0.50", push=True)
    h.run(120)
    assert h.position(pid).contracts == 0
    placed = [e for e in h.events() if e["event"] in ("ORDER_PLACED", "ORDER_ESCALATED", "ORDER_WALKED")
              and e.get("position_id") == pid and e.get("priority") != "LOW"]
    assert placed and D(placed[-1]["bid"]) == D("0.45")
    assert len(no_bid_alerts(h, pid)) == len(alerts)
