"""Every exit order's line says the book it was priced from (the held side's bid and ask), so a
trader can tell why a walk moved 4 cents at once: it was pulled down to a falling ask."""
from __future__ import annotations

from decimal import Decimal as D


def test_a_walk_pulled_down_to_a_falling_ask_says_the_book_it_priced_from(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20, win_probability="0.60")
    h.run(3)
    h.set_model("M1", "0.50")                  # early_exit (LOW): a conservative limit near the ask
    h.run(1)
    (placed,) = h.events("ORDER_PLACED", position_id=pid)
    assert (D(placed["bid"]), D(placed["ask"])) == (D("0.49"), D("0.50"))
    assert "bid 0.4900, ask 0.5000" in placed["message"]
    h.market("M1", "0.44", "0.46")             # the market falls under the resting sell
    h.run(61)
    walked = h.events("ORDER_WALKED", position_id=pid)[0]
    assert D(walked["previous_price"]) - D(walked["price"]) > D("0.01")   # more than one step ...
    assert D(walked["price"]) == D(walked["ask"]) == D("0.46")             # ... because the ask fell
    assert D(walked["bid"]) == D("0.44")
    assert "walked 0.5000 -> 0.4600" in walked["message"] and "bid 0.4400, ask 0.4600" in walked["message"]
