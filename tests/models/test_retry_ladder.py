"""models/execution.py's retry ladder: the rungs an exit climbs by priority (DESIGN.md §3), and
the price each rung gives, as one pure answer to "why this price"."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from config.loader import load_config
from models.execution import Ladder, NoMarket, Rung, climb, exit_price
from models.market import Quote, Side
from models.orders import TimeInForce

EXE = load_config().exit_execution
T0 = datetime(2026, 1, 11, 19, 0, tzinfo=timezone.utc)


def rungs(priority: str, unfilled_orders: int) -> tuple[list[Rung], str | None]:
    """The rung of each order after the first, and why the exit gave up (None: still going)."""
    ladder, seen = Ladder(), []
    for _ in range(unfilled_orders):
        ladder, gave_up = climb(EXE.for_priority(priority), ladder, remaining=7)
        if gave_up is not None:
            return seen, gave_up
        seen.append(ladder.next)
    return seen, None


@pytest.mark.parametrize("priority,orders,expected,gave_up", [
    ("CRITICAL", 9, [Rung.MARKETABLE] * 9, None),                               # immediate_market
    ("CRITICAL", 10, [Rung.MARKETABLE] * 9, "10 marketable attempts left 7 unsold"),
    ("HIGH", 4, [Rung.WALK, Rung.WALK, Rung.MARKETABLE, Rung.MARKETABLE], None),    # walk_then_market
    ("MEDIUM", 6, [Rung.WALK] * 5, "5 walks left 7 unsold"),                     # walk_price
    ("LOW", 11, [Rung.WALK] * 10, "10 walks left 7 unsold"),                     # walk_slowly
])
def test_each_priority_climbs_its_own_ladder_then_gives_up_or_goes_marketable(priority, orders, expected, gave_up):
    assert rungs(priority, orders) == (expected, gave_up)


def test_walks_are_counted_for_the_aggressiveness_of_the_next_walk():
    ladder, _ = climb(EXE.MEDIUM, Ladder(), 3)
    ladder, _ = climb(EXE.MEDIUM, ladder, 3)
    assert (ladder.next, ladder.walks, ladder.marketable_tries) == (Rung.WALK, 2, 0)


def quote(bid: str | None, ask: str | None) -> Quote:
    return Quote("KX-A", T0, D(bid) if bid else None, D(ask) if ask else None, 100, 100, None, 1000, None)


def test_each_rung_prices_its_order():
    q = quote("0.50", "0.56")
    first = exit_price(EXE.MEDIUM, EXE, Ladder(), q, Side.YES, None)
    assert (first.price, first.time_in_force) == (D("0.53"), TimeInForce.GTC)          # the mid, a maker
    walked = exit_price(EXE.MEDIUM, EXE, Ladder(Rung.WALK, 2), q, Side.YES, D("0.53"))
    assert (walked.price, walked.time_in_force) == (D("0.51"), TimeInForce.GTC)        # 1c x 1.5, up to the tick
    market = exit_price(EXE.HIGH, EXE, Ladder(Rung.MARKETABLE, 2), q, Side.YES, D("0.51"))
    assert (market.price, market.time_in_force) == (D("0.50"), TimeInForce.IOC)        # the bid, IOC
    assert exit_price(EXE.CRITICAL, EXE, Ladder(), q, Side.YES, None).time_in_force is TimeInForce.IOC


def test_a_floor_holds_every_rung_and_no_bid_means_no_market():
    q = quote("0.50", "0.56")
    assert exit_price(EXE.HIGH, EXE, Ladder(Rung.MARKETABLE), q, Side.YES, None, floor=D("0.55")).price == D("0.55")
    assert exit_price(EXE.MEDIUM, EXE, Ladder(Rung.WALK, 5), q, Side.YES, D("0.56"), floor=D("0.555")).price == D("0.56")
    with pytest.raises(NoMarket):
        exit_price(EXE.HIGH, EXE, Ladder(), quote(None, "0.56"), Side.YES, None)


def test_a_walk_without_a_previous_price_starts_at_the_first_price():
    q = quote("0.50", "0.56")
    assert exit_price(EXE.LOW, EXE, Ladder(Rung.WALK, 1), q, Side.YES, None) == exit_price(EXE.LOW, EXE, Ladder(), q,
                                                                                           Side.YES, None)
