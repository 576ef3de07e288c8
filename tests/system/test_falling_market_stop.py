"""A stop loss in a falling, polled market: the bid drops again while its IOC travels.

Before: the IOC at the bid it was priced from (0.42) found nothing (the bid was 0.40 by then);
the executor sent 0.42 again at +5 s and +10 s from the cached quote (fresh for 10 s by the
TTL) and sold only at +15 s. The IOC's answer proved that quote gone: the next attempt is priced
from a book read after it.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

from models.market import Quote
from models.orders import Action


def test_a_stop_ioc_that_found_nothing_is_priced_again_from_a_fresh_read(make_engine):
    h = make_engine()
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(5)
    place = h.venue.place_order
    moved = []

    def falling(request):  # type: ignore[no-untyped-def]
        if request.action is Action.SELL and not moved:
            moved.append(h.now())       # the book falls 2 cents as our first stop order travels
            h.venue.set_quote(Quote("M1", h.now(), D("0.40"), D("0.41"), None, None, None, 1000, None))
        return place(request)

    h.venue.place_order = falling
    h.venue.set_quote(Quote("M1", h.now(), D("0.42"), D("0.43"), None, None, None, 1000, None))
    h.run_until(lambda: h.events("EXIT_ROUTED", position_id=pid), limit=60)
    t = datetime.fromisoformat(h.events("EXIT_ROUTED", position_id=pid)[0]["ts"])
    h.run_until(lambda: h.position(pid).contracts == 0, limit=300)
    orders = [(round((datetime.fromisoformat(e["ts"]) - t).total_seconds(), 1), D(e["price"]))
              for e in h.events() if e["event"] in ("ORDER_PLACED", "ORDER_ESCALATED")
              and e.get("position_id") == pid and e.get("condition") == "stop_loss"]
    assert orders == [(0, D("0.42")), (5, D("0.40"))]
    assert [(e["contracts"], D(e["price"])) for e in h.events("ORDER_FILLED", position_id=pid)] == [(20, D("0.40"))]
    assert len([at for at in h.calls("get_quotes") if at >= t]) <= 2    # the retry's read (and a position's own)
