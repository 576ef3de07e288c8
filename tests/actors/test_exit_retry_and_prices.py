"""Exits that give up, and exit prices (issue 8 §3).

- A stop loss that gave up is re-attacked when the cooldown ends and whenever our side's bid or
  size changes, for as long as the position is past its stop.
- A profit-taking exit (partial stage, profit target) never offers below its threshold price
  (rounded up to the tick) nor below entry; with no bid it waits instead of walking down.
- The first conservative (LOW) or fair (MEDIUM) order rests as a maker: above the bid.
- The mark of a side with no bid is unknown, not the last bid.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from config.loader import load_config
from models.execution import initial_exit_price, marketable_price, walked_price
from models.exit_rules import evaluate_exits
from models.market import Quote, Side
from models.orders import TimeInForce
from models.pnl import mark_position
from models.position import PositionState

T0 = datetime(2025, 11, 22, 19, 0, tzinfo=timezone.utc)
CFG = load_config()
EXE = CFG.exit_execution
YES, NO = Side.YES, Side.NO


def q(bid: str | None, ask: str | None, bid_size: int | None = None) -> Quote:
    return Quote("M1", T0, None if bid is None else D(bid), None if ask is None else D(ask), bid_size)


def position(entry: str = "0.50", **kw) -> PositionState:  # type: ignore[no-untyped-def]
    return PositionState("p1", "M1", kw.pop("side", YES), "default", "nba", "G", D(entry), 20, 20, D("0.10"), T0,
                         **kw)


# --- pure: prices -------------------------------------------------------------------------------------

@pytest.mark.parametrize("priority, side, bid, ask, price", [
    ("LOW", YES, "0.50", "0.51", "0.51"),      # one-tick market: the ask, never the bid (no taker fee)
    ("LOW", YES, "0.50", None, "0.51"),        # no ask: one tick above the bid
    ("LOW", NO, None, "0.54", "0.47"),         # NO bid 0.46, no NO ask: 0.47
    ("MEDIUM", YES, "0.50", None, "0.51"),
    ("MEDIUM", YES, "0.50", "0.51", "0.51"),   # mid 0.505 rounds up to the ask
    ("LOW", YES, "0.50", "0.54", "0.53"),      # unchanged where there is room
    ("MEDIUM", YES, "0.50", "0.54", "0.52"),
])
def test_the_first_low_or_medium_order_rests_above_the_bid(priority, side, bid, ask, price):
    order = initial_exit_price(EXE.for_priority(priority), q(bid, ask), side)
    assert (order.price, order.time_in_force) == (D(price), TimeInForce.GTC)
    assert order.price > q(bid, ask).bid(side)


def test_a_floor_holds_every_price_of_a_profit_taking_exit():
    floor = D("0.58")
    assert initial_exit_price(EXE.for_priority("MEDIUM"), q("0.50", "0.62"), YES, floor=floor).price == D("0.58")
    assert initial_exit_price(EXE.for_priority("MEDIUM"), q("0.58", "0.62"), YES, floor=floor).price == D("0.60")
    assert marketable_price(q("0.50", "0.62"), YES, floor=floor).price == D("0.58")
    prices, price = [], D("0.60")
    for walk in range(1, 6):
        price = walked_price(price, walk, EXE, q("0.48", "0.62"), YES, floor=floor)
        prices.append(price)
    assert prices == [D("0.59"), D("0.58"), D("0.58"), D("0.58"), D("0.58")]


def test_profit_taking_triggers_carry_their_threshold_price_rounded_up_and_never_below_entry():
    (stage,) = [t for t in evaluate_exits(position(), q("0.58", "0.59"), T0, CFG) if t.condition == "partial_exit_target"]
    assert stage.min_price == D("0.58")          # +15% on 0.50 = 0.575, rounded up to the tick
    (stop,) = [t for t in evaluate_exits(position(), q("0.43", "0.45"), T0, CFG) if t.condition == "stop_loss"]
    assert stop.min_price is None                # capital protection sells wherever it can


def test_profit_target_carries_its_threshold_price(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("partial_exits:\n  enabled: false\n", encoding="utf-8")
    cfg = load_config(path)
    (t,) = [t for t in evaluate_exits(position("0.33"), q("0.40", "0.41"), T0, cfg) if t.condition == "profit_target"]
    assert t.min_price == D("0.40")              # +20% on 0.33 = 0.396 -> 0.40


# --- pure: the mark of a side with no bid ---------------------------------------------------------------

def test_a_side_with_no_bid_has_no_mark_and_no_unrealized_pnl():
    s = mark_position(position(), q("0.55", "0.56"), T0, CFG)
    assert (s.current_price, s.unrealized_pnl, s.peak_price) == (D("0.55"), D("1.00"), D("0.55"))
    gone = mark_position(s, q(None, "0.56"), T0, CFG)
    assert (gone.current_price, gone.unrealized_pnl, gone.unrealized_pnl_pct) == (None, None, None)
    assert gone.peak_price == D("0.55")          # the peak is history, not a price to sell at
    back = mark_position(gone, q("0.52", "0.56"), T0, CFG)
    assert back.current_price == D("0.52")


def test_a_position_that_lost_its_bid_is_watched_at_the_urgent_cadence():
    from models.exit_rules import near_threshold
    marked = mark_position(position(), q("0.50", "0.51"), T0, CFG)
    assert not near_threshold(marked, CFG)
    assert near_threshold(mark_position(marked, q(None, "0.51"), T0, CFG), CFG)
    assert not near_threshold(position(), CFG)          # never marked yet: the normal cadence


def test_a_position_without_a_bid_polls_at_the_urgent_cadence(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    h.enter("M1", contracts=20)
    h.run(31)
    h.market("M1", None, "0.50")                         # the bid vanishes
    h.run(31)                                            # seen at the next wake-up
    before = len(h.calls("get_quotes"))
    h.run(60)
    # wakes every 5 s; the cache serves a quote while it is at most 10 s old: a read every 15 s, not 30 s
    assert len(h.calls("get_quotes")) - before >= 4


def test_a_position_whose_bid_vanished_is_saved_with_an_unknown_mark(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(31)
    assert h.position(pid).current_price == D("0.49")
    h.market("M1", None, "0.50")
    h.run(31)
    p = h.position(pid)
    assert (p.current_price, p.unrealized_pnl) == (None, None)


# --- actors: profit-taking never walks below its threshold ---------------------------------------------

def medium_orders(h, pid):  # type: ignore[no-untyped-def]
    return [D(e["price"]) for e in h.audit if e["event"] in ("ORDER_PLACED", "ORDER_WALKED", "ORDER_ESCALATED")
            and e.get("position_id") == pid]


WIDE = {"liquidity": {"max_spread_cents": 50}}   # so a wide book does not fire liquidity_dried_up


def test_a_partial_stage_never_offers_below_its_threshold_price(make_engine):
    h = make_engine(WIDE)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.54", "0.62")                     # the venue: nobody bids near the stage (+8%)
    h.phantom("M1", "0.58", "0.62")                    # the stream showed +16%: stage 1 fires
    h.run(400)
    prices = medium_orders(h, pid)
    assert prices and prices[0] == D("0.60")           # the mid
    assert min(prices) == D("0.58")                    # never below 0.575 rounded up
    assert not h.events("ORDER_FILLED", position_id=pid)
    assert h.events("EXIT_GAVE_UP", position_id=pid, condition="partial_exit_target")
    assert h.position(pid).contracts == 20


def test_a_partial_stage_with_no_bid_waits_instead_of_walking_down(make_engine):
    h = make_engine(WIDE)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", None, "0.62")                       # no bid at all
    h.phantom("M1", "0.58", "0.62")
    h.run(400)
    prices = medium_orders(h, pid)
    assert all(p >= D("0.58") for p in prices)
    assert not h.events("ORDER_FILLED", position_id=pid)


# --- actors: the first LOW order is a maker -------------------------------------------------------------

def test_the_first_low_exit_in_a_one_tick_market_rests_at_the_ask_and_pays_no_fee(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20, win_probability="0.60")
    h.run(3)
    h.set_model("M1", "0.50")                          # edge 1 point: early_exit (LOW)
    h.run(1)
    (placed,) = h.events("ORDER_PLACED", position_id=pid)
    assert (D(placed["price"]), placed["time_in_force"]) == (D("0.50"), "good_till_canceled")
    assert not h.events("ORDER_FILLED", position_id=pid)          # rests above the 0.49 bid
    h.market("M1", "0.50", "0.51")                                 # a buyer comes up to 0.50
    h.run(61)                                                      # the executor learns at its timeout
    fills = h.events("ORDER_FILLED", position_id=pid)
    assert fills and all(D(f["fee"]) == 0 for f in fills)          # a maker fill


# --- actors: a stop loss that gave up is re-attacked --------------------------------------------------

def gave_up_stop(h) -> tuple[str, datetime]:  # type: ignore[no-untyped-def]
    """A position past its stop whose IOCs found nothing until the exit gave up."""
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", None, "0.46")                       # the venue: nobody bids
    h.phantom("M1", "0.43", "0.46")                    # the stream still shows a 0.43 bid
    h.run_until(lambda: h.events("EXIT_GAVE_UP", position_id=pid), limit=120)
    return pid, h.now()


def test_a_stop_that_gave_up_is_re_attacked_when_the_bid_comes_back_within_the_cooldown(engine):
    h = engine
    pid, gave_up = gave_up_stop(h)
    h.run(20)
    back = h.now()
    h.market("M1", "0.43", "0.46", bid_size=50)        # liquidity returns at the same price (polled)
    h.run_until(lambda: h.position(pid).status.value == "closed", limit=200)
    assert (h.now() - gave_up).total_seconds() < 60    # not held back for the 120 s cooldown
    # While the stop cooled down, the empty book fired liquidity_dried_up (HIGH, "no bid at
    # all"); when the bid came back the stop was attacked again at once: routed itself, or
    # preempting the liquidity exit (whose order may fill first: either way we are out).
    again = [e for e in h.events("EXIT_ROUTED", position_id=pid) + h.events("EXIT_PREEMPTED", position_id=pid)
             if "stop_loss" in (e.get("condition"), e.get("by")) and datetime.fromisoformat(e["ts"]) >= back]
    assert again and (datetime.fromisoformat(again[0]["ts"]) - back).total_seconds() < 30
    assert h.position(pid).exit_reason in ("stop_loss", "liquidity_dried_up")


def test_a_streamed_stop_that_gave_up_is_re_attacked_when_only_the_size_comes_back(make_engine):
    h = make_engine(streamed=True)
    pid, gave_up = gave_up_stop(h)
    h.run(20)
    h.market("M1", "0.43", "0.46", bid_size=50, push=True)   # same prices, restored size
    h.run(5)
    assert h.position(pid).status.value == "closed"
    assert (h.now() - gave_up).total_seconds() < 60


def test_a_streamed_stop_that_gave_up_is_re_attacked_when_the_cooldown_ends(make_engine):
    h = make_engine(streamed=True)
    pid, gave_up = gave_up_stop(h)
    h.market("M1", "0.43", "0.46")                     # the venue bids again; the stream says nothing new
    h.run(200)
    p = h.position(pid)
    assert (p.status.value, p.exit_reason) == ("closed", "stop_loss")
    routed = [datetime.fromisoformat(e["ts"]) for e in h.events("EXIT_ROUTED", position_id=pid)]
    # a stop's first cooldown is 15 s (it was the whole 120 s: session 6's review)
    assert len(routed) == 2 and 15 <= (routed[1] - gave_up).total_seconds() <= 20
