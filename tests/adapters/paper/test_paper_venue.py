"""The paper venue: crossing rules, time in force, maker fills, fees, holdings, cancel, settlement, faults."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from actors.clock import VirtualClock
from adapters.paper.venue import PaperVenue, UnknownMarket
from models.venue import (
    DuplicateClientOrderId, OrderNotFound, OrderRejected, Venue, VenueUnavailable,
)
from models.market import Quote, Side
from models.orders import Action, OrderRequest, OrderStatus, TimeInForce

T0 = datetime(2025, 11, 22, 19, 0, tzinfo=timezone.utc)
MKT = "KXNBA-TEST"
BIDS = ((D("0.55"), 10), (D("0.54"), 20), (D("0.52"), 30))
ASKS = ((D("0.57"), 10), (D("0.58"), 20), (D("0.60"), 30))

YES, NO, BUY, SELL = Side.YES, Side.NO, Action.BUY, Action.SELL
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def venue(clock: VirtualClock) -> PaperVenue:
    v = PaperVenue(clock)
    v.set_book(MKT, BIDS, ASKS, volume=1000, close_time=T0 + timedelta(hours=3), last=D("0.56"))
    return v


_seq = iter(range(1, 1_000_000))


def order(side: Side, action: Action, price: str, count: int, tif: TimeInForce = GTC,
          ticker: str = MKT, cid: str | None = None) -> OrderRequest:
    return OrderRequest(cid or f"c{next(_seq)}", ticker, side, action, count, D(price), tif)


def give(venue: PaperVenue, side: Side, count: int, price: str = "0.50") -> None:
    """Hold `count` contracts of `side`, bought at `price` from an unlimited quote, then restore the book."""
    if side is YES:
        venue.set_quote(Quote(MKT, T0, yes_bid=None, yes_ask=D(price)))
    else:
        venue.set_quote(Quote(MKT, T0, yes_bid=1 - D(price), yes_ask=None))
    venue.place_order(order(side, BUY, price, count))
    venue.set_book(MKT, BIDS, ASKS)


def fills_of(venue: PaperVenue, order_id: str) -> list[tuple[int, D]]:
    return [(f.count, f.price) for f in venue.get_fills() if f.order_id == order_id]


def test_paper_venue_implements_the_venue_protocol(venue):
    assert isinstance(venue, Venue)
    assert venue.name == "paper"


# -- crossing rules: one row per side and action ------------------------------------------------
@pytest.mark.parametrize("side, action, limit, expected", [
    (YES, BUY, "0.58", [(10, D("0.57")), (15, D("0.58"))]),     # takes yes asks <= 0.58
    (YES, SELL, "0.54", [(10, D("0.55")), (15, D("0.54"))]),    # takes yes bids >= 0.54
    (NO, BUY, "0.46", [(10, D("0.45")), (15, D("0.46"))]),      # = sell YES at 0.54: bids >= 0.54
    (NO, SELL, "0.42", [(10, D("0.43")), (15, D("0.42"))]),     # = buy YES at 0.58: asks <= 0.58
])
def test_an_order_walks_the_levels_it_crosses_best_first(venue, side, action, limit, expected):
    if action is SELL:
        give(venue, side, 25)
    snap = venue.place_order(order(side, action, limit, 25))
    assert snap.status is OrderStatus.EXECUTED and snap.filled_count == 25
    assert fills_of(venue, snap.order_id) == expected
    total = sum(n * p for n, p in expected)
    assert snap.avg_fill_price == (total / 25).quantize(D("0.0001"))


@pytest.mark.parametrize("side, action, limit", [
    (YES, BUY, "0.56"), (YES, SELL, "0.56"), (NO, BUY, "0.44"), (NO, SELL, "0.44"),
])
def test_an_order_that_does_not_cross_rests_unfilled(venue, side, action, limit):
    if action is SELL:
        give(venue, side, 5)
    snap = venue.place_order(order(side, action, limit, 5))
    assert snap.status is OrderStatus.RESTING and snap.filled_count == 0 and snap.remaining_count == 5
    assert fills_of(venue, snap.order_id) == []


def test_a_gtc_order_larger_than_the_crossing_liquidity_fills_partly_and_rests(venue):
    snap = venue.place_order(order(YES, BUY, "0.58", 40))
    assert snap.status is OrderStatus.RESTING
    assert snap.filled_count == 30 and snap.remaining_count == 10
    assert snap.avg_fill_price == D("0.5767")      # (10*0.57 + 20*0.58) / 30 = 0.57666...


def test_liquidity_taken_stays_taken_until_the_next_book(venue):
    venue.place_order(order(YES, BUY, "0.57", 10, IOC))
    second = venue.place_order(order(YES, BUY, "0.57", 5, IOC))
    assert second.filled_count == 0 and second.status is OrderStatus.CANCELED
    assert venue.get_quotes([MKT])[MKT].yes_ask == D("0.58")
    venue.set_book(MKT, BIDS, ASKS)
    assert venue.place_order(order(YES, BUY, "0.57", 5, IOC)).filled_count == 5


# -- fees and cash ----------------------------------------------------------------------------
def test_taker_fills_pay_the_taker_fee_per_fill_and_debit_price_plus_fee(venue):
    snap = venue.place_order(order(YES, BUY, "0.58", 25))
    # 0.07*10*0.57*0.43 = 0.17157 -> 0.18 ; 0.07*15*0.58*0.42 = 0.25578 -> 0.26
    assert [f.fee for f in venue.get_fills()] == [D("0.18"), D("0.26")]
    assert snap.fees == D("0.44")
    assert venue.get_balance() == D("1000") - D("5.70") - D("8.70") - D("0.44")


def test_a_sell_credits_proceeds_less_the_fee(venue):
    give(venue, YES, 10, "0.50")                    # 5.00 + fee 0.18 (0.07*10*0.25 = 0.175)
    assert venue.get_balance() == D("994.82")
    venue.place_order(order(YES, SELL, "0.55", 10))  # 5.50 - fee ceil(0.17325) = 0.18
    assert venue.get_balance() == D("994.82") + D("5.50") - D("0.18")
    [pos] = venue.get_positions()
    assert pos.position == 0 and pos.realized_pnl == D("0.50") and pos.fees_paid == D("0.36")


def test_a_buy_beyond_the_balance_is_rejected_and_changes_nothing(clock):
    venue = PaperVenue(clock, starting_balance=D("10"))
    venue.set_book(MKT, BIDS, ((D("0.57"), 100),))
    with pytest.raises(OrderRejected, match="available"):
        venue.place_order(order(YES, BUY, "0.57", 18))   # 10.26 + fee
    assert venue.get_balance() == D("10") and venue.get_fills() == [] and venue.list_orders() == []
    assert venue.get_quotes([MKT])[MKT].yes_ask_size == 100


def test_a_resting_buy_holds_back_its_cost_until_canceled(venue):
    snap = venue.place_order(order(YES, BUY, "0.50", 100))
    assert venue.get_balance() == D("950")
    venue.cancel_order(snap.order_id)
    assert venue.get_balance() == D("1000")


# -- time in force ----------------------------------------------------------------------------
def test_ioc_cancels_the_remainder(venue):
    snap = venue.place_order(order(YES, BUY, "0.58", 40, IOC))
    assert snap.status is OrderStatus.CANCELED and snap.filled_count == 30 and snap.remaining_count == 0


def test_ioc_filled_in_full_is_executed(venue):
    snap = venue.place_order(order(YES, BUY, "0.60", 40, IOC))
    assert snap.status is OrderStatus.EXECUTED and snap.filled_count == 40


def test_fok_short_of_liquidity_fills_nothing_and_leaves_the_book(venue):
    snap = venue.place_order(order(YES, BUY, "0.58", 31, FOK))
    assert snap.status is OrderStatus.CANCELED and snap.filled_count == 0
    assert venue.get_fills() == [] and venue.get_balance() == D("1000")
    assert venue.get_quotes([MKT])[MKT].yes_ask_size == 10


def test_fok_with_enough_liquidity_executes(venue):
    snap = venue.place_order(order(NO, BUY, "0.46", 30, FOK))
    assert snap.status is OrderStatus.EXECUTED and snap.filled_count == 30


# -- resting orders on book moves -------------------------------------------------------------
def test_a_resting_buy_fills_at_its_own_limit_as_maker_when_the_book_moves(venue, clock):
    snap = venue.place_order(order(YES, BUY, "0.55", 10))
    clock.advance_to(T0 + timedelta(seconds=7))
    fills = venue.set_book(MKT, ((D("0.52"), 10),), ((D("0.54"), 4), (D("0.56"), 50)))
    assert [(f.count, f.price, f.fee, f.is_taker) for f in fills] == [(4, D("0.55"), D("0"), False)]
    assert fills[0].ts == T0 + timedelta(seconds=7)
    mid = venue.get_order(snap.order_id)
    assert mid.status is OrderStatus.RESTING and mid.filled_count == 4 and mid.remaining_count == 6
    venue.set_book(MKT, ((D("0.50"), 10),), ((D("0.53"), 100),))
    done = venue.get_order(snap.order_id)
    assert done.status is OrderStatus.EXECUTED and done.avg_fill_price == D("0.55") and done.fees == D("0")
    assert venue.get_quotes([MKT])[MKT].yes_ask_size == 94      # the maker fill took liquidity


def test_a_resting_no_sell_fills_when_yes_asks_come_down(venue):
    give(venue, NO, 10, "0.45")
    snap = venue.place_order(order(NO, SELL, "0.44", 10))          # crosses yes asks <= 0.56
    assert snap.filled_count == 0
    venue.set_book(MKT, BIDS, ((D("0.56"), 3),))
    assert venue.get_order(snap.order_id).filled_count == 3
    assert venue.holding(MKT, NO) == 7


def test_a_quote_without_size_fills_in_full(venue):
    venue.set_quote(Quote(MKT, T0, yes_bid=D("0.40"), yes_ask=D("0.41")))
    snap = venue.place_order(order(YES, BUY, "0.41", 500))
    assert snap.status is OrderStatus.EXECUTED and fills_of(venue, snap.order_id) == [(500, D("0.41"))]
    rest = venue.place_order(order(YES, BUY, "0.39", 300))
    venue.set_quote(Quote(MKT, T0, yes_bid=D("0.37"), yes_ask=D("0.38")))
    assert venue.get_order(rest.order_id).status is OrderStatus.EXECUTED


def test_a_quote_with_a_size_fills_only_that_size(venue):
    venue.set_quote(Quote(MKT, T0, yes_bid=D("0.40"), yes_ask=D("0.41"), yes_bid_size=5, yes_ask_size=7))
    assert venue.place_order(order(YES, BUY, "0.45", 20, IOC)).filled_count == 7


# -- holdings ---------------------------------------------------------------------------------
def test_selling_more_than_held_is_rejected(venue):
    give(venue, YES, 10)
    with pytest.raises(OrderRejected, match="cannot sell 11 yes"):
        venue.place_order(order(YES, SELL, "0.55", 11))
    with pytest.raises(OrderRejected, match="0 held"):
        venue.place_order(order(NO, SELL, "0.40", 1))


def test_resting_sells_commit_the_contracts_they_would_sell(venue):
    give(venue, YES, 10)
    resting = venue.place_order(order(YES, SELL, "0.70", 6))
    with pytest.raises(OrderRejected, match="6 already committed"):
        venue.place_order(order(YES, SELL, "0.70", 5))
    assert venue.place_order(order(YES, SELL, "0.71", 4)).status is OrderStatus.RESTING
    venue.cancel_order(resting.order_id)
    assert venue.place_order(order(YES, SELL, "0.55", 6)).filled_count == 6


def test_positions_are_positive_for_yes_and_negative_for_no(clock):
    venue = PaperVenue(clock)
    for t in ("A", "B"):
        venue.set_book(t, ((D("0.40"), 100),), ((D("0.42"), 100),))
    venue.place_order(order(YES, BUY, "0.42", 10, ticker="A"))
    venue.place_order(order(NO, BUY, "0.60", 7, ticker="B"))
    pos = {p.ticker: p for p in venue.get_positions()}
    assert pos["A"].position == 10 and pos["A"].market_exposure == D("4.20")
    assert pos["B"].position == -7 and pos["B"].market_exposure == D("4.20")   # 7 x (1 - 0.40)


# -- ids and look-ups -------------------------------------------------------------------------
def test_ids_are_deterministic_and_fills_carry_the_clock(venue, clock):
    clock.advance_to(T0 + timedelta(minutes=1))
    a = venue.place_order(order(YES, BUY, "0.57", 1))
    b = venue.place_order(order(YES, BUY, "0.50", 1))
    assert (a.order_id, b.order_id) == ("PAPER-000001", "PAPER-000002")
    [fill] = venue.get_fills()
    assert fill.fill_id == "PAPER-F000001" and fill.ts == T0 + timedelta(minutes=1) == a.created_ts


def test_get_fills_since_keeps_later_fills(venue, clock):
    venue.place_order(order(YES, BUY, "0.57", 1))
    clock.advance_to(T0 + timedelta(seconds=30))
    venue.place_order(order(YES, BUY, "0.57", 1))
    assert [f.ts for f in venue.get_fills(since=T0 + timedelta(seconds=1))] == [T0 + timedelta(seconds=30)]


def test_a_reused_client_order_id_is_refused_and_find_order_finds_the_first(venue):
    first = venue.place_order(order(YES, BUY, "0.57", 5, cid="entry-1"))
    with pytest.raises(DuplicateClientOrderId, match="entry-1"):
        venue.place_order(order(YES, BUY, "0.50", 1, cid="entry-1"))
    assert venue.find_order("entry-1") == first
    assert venue.find_order("never-sent") is None
    assert len(venue.list_orders()) == 1


def test_list_orders_filters_by_ticker_and_status(venue):
    venue.set_book("OTHER", BIDS, ASKS)
    venue.place_order(order(YES, BUY, "0.50", 1))
    venue.place_order(order(YES, BUY, "0.57", 1))
    venue.place_order(order(YES, BUY, "0.50", 1, ticker="OTHER"))
    assert len(venue.list_orders(MKT)) == 2
    assert [o.status for o in venue.list_orders(MKT, OrderStatus.RESTING)] == [OrderStatus.RESTING]
    assert len(venue.list_orders(status=OrderStatus.RESTING)) == 2


@pytest.mark.parametrize("price", ["0.555", "0", "1", "0.995", "-0.10"])
def test_a_limit_off_the_tick_or_outside_1_to_99_cents_is_rejected(venue, price):
    with pytest.raises(OrderRejected, match="tick"):
        venue.place_order(order(YES, BUY, price, 1))


def test_an_order_for_an_unknown_market_is_rejected(venue):
    with pytest.raises(OrderRejected, match="unknown market NOPE"):
        venue.place_order(order(YES, BUY, "0.50", 1, ticker="NOPE"))


# -- cancel -----------------------------------------------------------------------------------
def test_cancel_keeps_the_filled_count_and_stops_further_fills(venue):
    snap = venue.place_order(order(YES, BUY, "0.58", 40))
    canceled = venue.cancel_order(snap.order_id)
    assert canceled.status is OrderStatus.CANCELED and canceled.filled_count == 30
    venue.set_book(MKT, BIDS, ((D("0.56"), 100),))
    assert venue.get_order(snap.order_id).filled_count == 30


def test_cancel_of_a_finished_order_returns_its_final_snapshot(venue):
    executed = venue.place_order(order(YES, BUY, "0.57", 5))
    assert venue.cancel_order(executed.order_id) == executed
    resting = venue.place_order(order(YES, BUY, "0.50", 5))
    first = venue.cancel_order(resting.order_id)
    assert venue.cancel_order(resting.order_id) == first and first.status is OrderStatus.CANCELED


def test_cancel_and_get_of_an_unknown_order_raise_order_not_found(venue):
    with pytest.raises(OrderNotFound):
        venue.cancel_order("PAPER-999999")
    with pytest.raises(OrderNotFound):
        venue.get_order("PAPER-999999")


# -- market data out --------------------------------------------------------------------------
def test_get_quotes_reports_top_of_book_and_skips_unknown_tickers(venue, clock):
    clock.advance_to(T0 + timedelta(seconds=5))
    quotes = venue.get_quotes([MKT, "NOPE"])
    assert list(quotes) == [MKT]
    q = quotes[MKT]
    assert (q.yes_bid, q.yes_ask, q.yes_bid_size, q.yes_ask_size) == (D("0.55"), D("0.57"), 10, 10)
    assert (q.volume, q.last, q.close_time, q.ts) == (1000, D("0.56"), T0 + timedelta(hours=3), clock.now())


def test_our_fills_add_to_volume_and_set_last(venue):
    venue.place_order(order(NO, BUY, "0.45", 3))               # at yes bid 0.55
    q = venue.get_quotes([MKT])[MKT]
    assert q.volume == 1003 and q.last == D("0.55") and q.yes_bid_size == 7


def test_get_orderbook_lists_bids_only_with_no_bids_from_yes_asks(venue):
    book = venue.get_orderbook(MKT)
    assert book.yes_bids == BIDS
    assert book.no_bids == ((D("0.43"), 10), (D("0.42"), 20), (D("0.40"), 30))
    with pytest.raises(UnknownMarket):
        venue.get_orderbook("NOPE")


def test_a_crossed_or_off_tick_book_is_refused(venue):
    with pytest.raises(ValueError, match="crossed"):
        venue.set_book(MKT, ((D("0.57"), 1),), ((D("0.57"), 1),))
    with pytest.raises(ValueError, match="tick"):
        venue.set_book(MKT, ((D("0.505"), 1),), ())


# -- settlement -------------------------------------------------------------------------------
def test_settlement_pays_the_winners_and_cancels_resting_orders(venue, clock):
    give(venue, YES, 10, "0.50")                            # cost 5.00 + fee 0.18
    resting = venue.place_order(order(YES, BUY, "0.30", 10))
    clock.advance_to(T0 + timedelta(hours=3))
    settlement = venue.settle(MKT, YES)
    assert settlement.result is YES and settlement.ts == T0 + timedelta(hours=3)
    assert venue.get_order(resting.order_id).status is OrderStatus.CANCELED
    assert venue.get_balance() == D("1000") - D("5.18") + D("10")
    [pos] = venue.get_positions()
    assert pos.position == 0 and pos.realized_pnl == D("5.00") and pos.market_exposure == 0
    with pytest.raises(OrderRejected, match="settled"):
        venue.place_order(order(YES, BUY, "0.50", 1))


def test_a_losing_side_settles_at_zero(venue):
    give(venue, NO, 4, "0.40")
    venue.settle(MKT, YES)
    [pos] = venue.get_positions()
    assert pos.realized_pnl == D("-1.60") and venue.holding(MKT, NO) == 0
    assert venue.settlements[0].result is YES


# -- fault injection --------------------------------------------------------------------------
def test_an_injected_fault_raises_before_acting(venue):
    venue.inject_fault("place_order", VenueUnavailable("timeout"), times=2)
    for _ in range(2):
        with pytest.raises(VenueUnavailable):
            venue.place_order(order(YES, BUY, "0.57", 1, cid="retry-me"))
    assert venue.find_order("retry-me") is None
    assert venue.place_order(order(YES, BUY, "0.57", 1, cid="retry-me")).filled_count == 1
    assert venue.calls["place_order"] == 3 and venue.calls["find_order"] == 1


def test_an_injected_fault_after_acts_then_raises(venue):
    venue.inject_fault_after("place_order", VenueUnavailable("timeout after send"))
    with pytest.raises(VenueUnavailable):
        venue.place_order(order(YES, BUY, "0.57", 2, cid="sent"))
    assert venue.find_order("sent").filled_count == 2
    resting = venue.place_order(order(YES, BUY, "0.50", 2))
    venue.inject_fault_after("cancel_order", VenueUnavailable("timeout after cancel"))
    with pytest.raises(VenueUnavailable):
        venue.cancel_order(resting.order_id)
    assert venue.get_order(resting.order_id).status is OrderStatus.CANCELED


def test_an_after_fault_waits_for_a_call_that_succeeds(venue):
    venue.inject_fault_after("place_order", VenueUnavailable("late"))
    with pytest.raises(OrderRejected):
        venue.place_order(order(YES, BUY, "0.555", 1))
    with pytest.raises(VenueUnavailable):
        venue.place_order(order(YES, BUY, "0.50", 1))
    assert venue.place_order(order(YES, BUY, "0.50", 1)).status is OrderStatus.RESTING


def test_faults_are_only_for_venue_methods(venue):
    with pytest.raises(ValueError, match="not a venue method"):
        venue.inject_fault("set_book", VenueUnavailable())
    with pytest.raises(ValueError, match="times"):
        venue.inject_fault("get_quotes", VenueUnavailable(), times=0)


def test_clear_faults_disarms_pending_faults(venue):
    venue.inject_fault("get_balance", VenueUnavailable("down"))
    venue.inject_fault_after("get_balance", VenueUnavailable("late"))
    venue.clear_faults()
    assert venue.get_balance() == D("1000") and venue.calls["get_balance"] == 1
