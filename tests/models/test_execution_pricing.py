"""Exit order pricing by urgency (DESIGN.md §3): first prices for both sides, walks, NoMarket.

We always sell the side we hold, so the far side is our side's bid and a walk moves down.
Defaults: CRITICAL marketable at far_side (IOC), HIGH best_bid, MEDIUM mid, LOW near_ask
(limits, good till canceled); a walk is 1c x aggressiveness 1.0, 1.5, 2.0, ... rounded UP to
the tick (1.5c -> 2c), and never below bid - (ask - bid).
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.loader import load_config
from config.schema import ExecutionConfig
from models.execution import NoMarket, aggressiveness, initial_exit_price, marketable_price, walked_price
from models.market import Quote, Side
from models.orders import TimeInForce

T0 = datetime(2025, 11, 22, 19, 0, tzinfo=timezone.utc)
YES, NO = Side.YES, Side.NO
GTC, IOC = TimeInForce.GTC, TimeInForce.IOC
CONFIG = load_config()
EXE = CONFIG.exit_execution


def q(bid: str | None, ask: str | None) -> Quote:
    return Quote("KX-TEST", T0, None if bid is None else D(bid), None if ask is None else D(ask))


# (description, priority, side, yes_bid, yes_ask) -> (price, time in force)
FIRST_PRICES = [
    ("CRITICAL YES: marketable at the YES bid, IOC", "CRITICAL", YES, "0.50", "0.54", "0.50", IOC),
    ("CRITICAL NO: marketable at the NO bid = 1 - YES ask", "CRITICAL", NO, "0.50", "0.54", "0.46", IOC),
    ("HIGH YES: best_bid, resting", "HIGH", YES, "0.50", "0.54", "0.50", GTC),
    ("HIGH NO: best_bid = NO bid", "HIGH", NO, "0.50", "0.54", "0.46", GTC),
    ("MEDIUM YES: mid of 0.50/0.54", "MEDIUM", YES, "0.50", "0.54", "0.52", GTC),
    ("MEDIUM YES: mid 0.515 rounds UP to 0.52", "MEDIUM", YES, "0.50", "0.53", "0.52", GTC),
    ("MEDIUM NO: NO 0.47/0.50 -> mid 0.485 rounds up to 0.49", "MEDIUM", NO, "0.50", "0.53", "0.49", GTC),
    ("MEDIUM YES: no ask -> one tick above the bid (a maker)", "MEDIUM", YES, "0.50", None, "0.51", GTC),
    ("MEDIUM YES: mid 0.995 clamps to 0.99", "MEDIUM", YES, "0.99", "1.00", "0.99", GTC),
    ("LOW YES: near_ask = one tick below the ask", "LOW", YES, "0.50", "0.54", "0.53", GTC),
    ("LOW NO: NO 0.46/0.50 -> 0.49", "LOW", NO, "0.50", "0.54", "0.49", GTC),
    ("LOW YES: 1c spread -> the ask, above the bid (a maker)", "LOW", YES, "0.50", "0.51", "0.51", GTC),
    ("LOW YES: no ask -> one tick above the bid", "LOW", YES, "0.50", None, "0.51", GTC),
    ("LOW NO: no YES bid (no NO ask) -> one tick above the NO bid", "LOW", NO, None, "0.54", "0.47", GTC),
]


@pytest.mark.parametrize("desc,priority,side,bid,ask,price,tif", FIRST_PRICES, ids=[r[0] for r in FIRST_PRICES])
def test_first_exit_price(desc: str, priority: str, side: Side, bid: str | None, ask: str | None, price: str,
                          tif: TimeInForce) -> None:
    order = initial_exit_price(EXE.for_priority(priority), q(bid, ask), side)
    assert (order.price, order.time_in_force) == (D(price), tif)


def test_far_side_as_a_resting_limit_is_the_bid() -> None:
    cfg = dataclasses.replace(EXE.HIGH, price_strategy="far_side")
    assert initial_exit_price(cfg, q("0.50", "0.54"), NO).price == D("0.46")
    assert initial_exit_price(cfg, q("0.50", "0.54"), NO).time_in_force is GTC


def test_every_strategy_prices_inside_bid_and_ask() -> None:
    for strategy in ("far_side", "best_bid", "mid", "near_ask"):
        cfg = ExecutionConfig("limit", strategy, D(30), "walk_price", 5, 1)
        for side in (YES, NO):
            quote = q("0.31", "0.38")
            price = initial_exit_price(cfg, quote, side).price
            assert quote.bid(side) <= price <= quote.ask(side), (strategy, side)


@pytest.mark.parametrize("priority", ["CRITICAL", "HIGH", "MEDIUM", "LOW"])
@pytest.mark.parametrize("side,bid,ask", [(YES, None, "0.54"), (NO, "0.50", None), (YES, "0", "0.02"),
                                          (NO, "0.97", "1")])
def test_no_bid_on_our_side_is_no_market(priority: str, side: Side, bid: str | None, ask: str | None) -> None:
    with pytest.raises(NoMarket, match=side.value):
        initial_exit_price(EXE.for_priority(priority), q(bid, ask), side)


def test_marketable_price_is_our_bid_immediate_or_cancel() -> None:
    assert marketable_price(q("0.50", "0.54"), YES) == initial_exit_price(EXE.CRITICAL, q("0.50", "0.54"), YES)
    assert (marketable_price(q("0.50", "0.54"), NO).price, marketable_price(q("0.50", "0.54"), NO).time_in_force) \
        == (D("0.46"), IOC)
    with pytest.raises(NoMarket):
        marketable_price(q(None, "0.54"), YES)
    with pytest.raises(NoMarket):
        marketable_price(q("0.50", None), NO)


# --- walks --------------------------------------------------------------------------------------

def test_aggressiveness_grows_by_the_configured_step() -> None:
    assert [aggressiveness(n, EXE) for n in (1, 2, 3, 4)] == [D("1.0"), D("1.5"), D("2.0"), D("2.5")]


def walk_sequence(start: str, quote: Quote, side: Side, walks: int, exe=EXE, tick: D = D("0.01")) -> list[D]:
    prices, price = [], D(start)
    for n in range(1, walks + 1):
        price = walked_price(price, n, exe, quote, side, tick)
        prices.append(price)
    return prices


def test_walks_move_1c_times_aggressiveness_rounded_up_to_the_tick() -> None:
    wide = q("0.30", "0.60")                                    # floor 0.00 -> far away
    # steps 1c x 1.0, 1.5 -> 2c, 2.0, 2.5 -> 3c, 3.0
    assert walk_sequence("0.59", wide, YES, 5) == [D("0.58"), D("0.56"), D("0.54"), D("0.51"), D("0.48")]


def test_walks_for_a_no_position_mirror_the_yes_walks() -> None:
    assert walk_sequence("0.59", q("0.40", "0.70"), NO, 5) == [D("0.58"), D("0.56"), D("0.54"), D("0.51"), D("0.48")]


def test_walks_stop_at_bid_minus_the_spread() -> None:
    # YES 0.50/0.54: floor = 0.50 - 0.04 = 0.46
    assert walk_sequence("0.53", q("0.50", "0.54"), YES, 6) == [D("0.52"), D("0.50"), D("0.48"), D("0.46"),
                                                                D("0.46"), D("0.46")]
    # NO bid 0.50, NO ask 0.54 (YES 0.46/0.50): the same floor
    assert walk_sequence("0.53", q("0.46", "0.50"), NO, 6)[-1] == D("0.46")


def test_without_an_ask_the_floor_is_the_bid() -> None:
    assert walk_sequence("0.55", q("0.50", None), YES, 5) == [D("0.54"), D("0.52"), D("0.50"), D("0.50"), D("0.50")]


def test_a_walk_starting_above_the_ask_is_pulled_down_to_it() -> None:
    assert walked_price(D("0.70"), 1, EXE, q("0.50", "0.54"), YES) == D("0.54")


def test_without_a_bid_walks_continue_but_never_below_one_tick() -> None:
    assert walk_sequence("0.03", q(None, "0.05"), YES, 4) == [D("0.02"), D("0.01"), D("0.01"), D("0.01")]


def test_a_zero_aggressiveness_step_walks_one_cent_each_time() -> None:
    flat = dataclasses.replace(EXE, aggressiveness_step=D(0))
    assert walk_sequence("0.59", q("0.30", "0.60"), YES, 4, flat) == [D("0.58"), D("0.57"), D("0.56"), D("0.55")]


def test_walk_steps_round_to_a_coarser_tick() -> None:
    # tick 5c: every step (1c, 1.5c, 2c) rounds up to one 5c tick; floor = 0.40 - 0.20 = 0.20
    assert walk_sequence("0.55", q("0.40", "0.60"), YES, 3, tick=D("0.05")) == [D("0.50"), D("0.45"), D("0.40")]


def test_walk_steps_round_to_a_finer_tick() -> None:
    # tick 0.1c: 1c, 1.5c and 2c are exact
    assert walk_sequence("0.590", q("0.300", "0.600"), YES, 3, tick=D("0.001")) == [D("0.580"), D("0.565"),
                                                                                   D("0.545")]


prices = st.integers(min_value=1, max_value=98)


@settings(max_examples=300, deadline=None)
@given(bid=prices, width=st.integers(min_value=1, max_value=20), start_above=st.integers(min_value=0, max_value=20),
       walk=st.integers(min_value=1, max_value=12), side=st.sampled_from([YES, NO]))
def test_a_walk_never_rises_and_never_passes_bid_minus_spread(bid: int, width: int, start_above: int, walk: int,
                                                              side: Side) -> None:
    b, a = D(bid) / 100, min(D(bid + width) / 100, D("0.99"))
    quote = q(str(b), str(a)) if side is YES else q(str(1 - a), str(1 - b))
    assert (quote.bid(side), quote.ask(side)) == (b, a)
    floor = max(b - (a - b), D("0.01"))
    previous = min(floor + D(start_above) / 100, a)
    price = walked_price(previous, walk, EXE, quote, side)
    assert floor <= price <= previous
    assert price < previous or previous == floor
    assert price == price.quantize(D("0.01"))
