"""Kalshi wire JSON -> models types: recorded responses, today's format, legacy fallback, garbage."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from adapters.kalshi import parsing as P
from models.venue import MalformedPayload
from models.market import Side
from models.orders import Action, OrderBook, OrderStatus
from tests.paths import SHARED

SHARED = SHARED
FIXTURES = SHARED / "reference" / "kalshi" / "golden_fixtures"
NOW = datetime(2026, 1, 12, 22, 0, tzinfo=timezone.utc)


def golden(name: str):
    if not FIXTURES.is_dir():
        pytest.skip("../shared/reference/kalshi/golden_fixtures is absent")
    return json.loads((FIXTURES / f"{name}_response.json").read_text())["response"]


# ---- every recorded response the client has a use for -----------------------------------------

def test_golden_market_single():
    q = P.parse_market_response(golden("market_single"), NOW)
    assert q.ticker == "KXMVENFLSINGLEGAME-S202513E70FA7695-688BECB3826"
    assert (q.yes_bid, q.yes_ask, q.last) == (None, None, None)  # "0.0000" everywhere: an empty market
    assert q.volume == 0
    assert q.close_time == datetime(2026, 1, 27, 1, 15, tzinfo=timezone.utc)
    assert q.ts == NOW


def test_golden_markets_list():
    quotes, cursor = P.parse_markets_response(golden("markets_list"), NOW)
    assert len(quotes) == 5 and all(t == q.ticker for t, q in quotes.items())
    assert cursor and cursor.startswith("CgwI")


def test_golden_orderbook_with_null_sides():
    assert P.parse_orderbook("T", golden("orderbook")) == OrderBook("T", (), ())


def test_golden_create_get_and_cancel_order():
    created = P.parse_order_response(golden("create_order"), "CreateOrderResponse")
    fetched = P.parse_order_response(golden("portfolio_order_single"))
    canceled = P.parse_order_response(golden("cancel_order"), "CancelOrderResponse")
    assert created.order_id == fetched.order_id == canceled.order_id == "6c170f2d-31ac-5a52-aa49-396c7be13455"
    assert created.client_order_id == "54833c7f-2a19-5f97-8463-c22582e8c893"
    assert (created.side, created.action, created.count, created.limit_price) == (Side.YES, Action.BUY, 2, Decimal("0.30"))
    assert created.status is OrderStatus.RESTING and created.remaining_count == 2
    assert canceled.status is OrderStatus.CANCELED and canceled.filled_count == 0 and canceled.remaining_count == 0
    assert created.created_ts == datetime(2026, 1, 14, 20, 18, 4, 727473, tzinfo=timezone.utc)


def test_golden_orders_list():
    orders, cursor = P.parse_orders_response(golden("portfolio_orders"))
    assert len(orders) == 5 and cursor
    first = orders[0]
    assert (first.status, first.count, first.filled_count, first.limit_price) == (
        OrderStatus.EXECUTED, 32, 32, Decimal("0.60"))
    assert first.fees == Decimal("447.40")          # taker_fees_dollars, not the legacy integer
    assert first.avg_fill_price == Decimal("0.433438")  # taker_fill_cost_dollars 13.87 / 32
    assert first.client_order_id == ""


def test_golden_fills_use_fixed_price_strings_and_legacy_counts():
    fills, cursor = P.parse_fills_response(golden("portfolio_fills"))
    assert len(fills) == 5 and cursor
    f = fills[0]
    assert (f.ticker, f.side, f.action, f.count, f.price) == ("KXEXAMPLE-9C7BFD30C721", Side.YES, Action.BUY, 32, Decimal("0.60"))
    assert f.ts == datetime(2026, 1, 10, 16, 11, 11, 109554, tzinfo=timezone.utc)
    assert f.fee == 0 and f.is_taker


def test_golden_positions():
    positions, cursor = P.parse_positions_response(golden("portfolio_positions"))
    assert len(positions) == 12 and cursor is None
    p = positions[0]
    assert (p.ticker, p.position, p.market_exposure, p.fees_paid) == (
        "KXEXAMPLE-9C7BFD30C721", 32, Decimal("393.01"), Decimal("136.19"))


def test_golden_balance_and_exchange_status():
    assert P.parse_balance(golden("portfolio_balance")) == Decimal("100.00")
    status = P.parse_exchange_status(golden("exchange_status"))
    assert status == P.ExchangeStatus(exchange_active=True, trading_active=True, estimated_resume_time=None)


# ---- today's format and the legacy fallback ------------------------------------------------------

def test_todays_market_format():
    q = P.parse_quote({
        "ticker": "KXT-1", "yes_bid_dollars": "0.5600", "yes_ask_dollars": "0.5800",
        "yes_bid_size_fp": "120.00", "yes_ask_size_fp": "40.50", "last_price_dollars": "0.5700",
        "volume_fp": "12345.00", "close_time": "2026-01-27T01:15:00Z",
    }, NOW)
    assert (q.yes_bid, q.yes_ask, q.last) == (Decimal("0.56"), Decimal("0.58"), Decimal("0.57"))
    assert (q.yes_bid_size, q.yes_ask_size, q.volume) == (120, 40, 12345)  # fractional sizes floor


def test_legacy_only_fields_are_read_in_cents_and_whole_counts():
    q = P.parse_quote({"ticker": "KXT-1", "yes_bid": 56, "yes_ask": 58, "last_price": 57, "volume": 10}, NOW)
    assert (q.yes_bid, q.yes_ask, q.last, q.volume) == (Decimal("0.56"), Decimal("0.58"), Decimal("0.57"), 10)
    o = P.parse_order({"order_id": "o1", "client_order_id": "c1", "ticker": "KXT-1", "side": "no", "action": "sell",
                       "status": "resting", "yes_price": 35, "no_price": 65, "fill_count": 3, "remaining_count": 7,
                       "taker_fees": 5, "taker_fill_cost": 195})
    assert (o.count, o.filled_count, o.limit_price, o.fees, o.avg_fill_price) == (
        10, 3, Decimal("0.65"), Decimal("0.05"), Decimal("0.65"))
    f = P.parse_fill({"trade_id": "t1", "order_id": "o1", "market_ticker": "KXT-1", "side": "no", "action": "buy",
                      "count": 4, "no_price": 41, "ts": 1768061471})
    assert (f.fill_id, f.ticker, f.count, f.price) == ("t1", "KXT-1", 4, Decimal("0.41"))
    assert f.ts == datetime(2026, 1, 10, 16, 11, 11, tzinfo=timezone.utc)
    p = P.parse_position({"ticker": "KXT-1", "position": -5, "market_exposure": 250, "realized_pnl": -30})
    assert (p.position, p.market_exposure, p.realized_pnl) == (-5, Decimal("2.50"), Decimal("-0.30"))


def test_new_fields_win_over_legacy_ones():
    q = P.parse_quote({"ticker": "T", "yes_bid_dollars": "0.5550", "yes_bid": 55}, NOW)
    assert q.yes_bid == Decimal("0.555")
    p = P.parse_position({"ticker": "T", "position_fp": "-12.00", "position": 3})
    assert p.position == -12


def test_a_partial_fill_is_a_resting_order_with_fills():
    o = P.parse_order({"order_id": "o1", "client_order_id": "c1", "ticker": "T", "side": "yes", "action": "buy",
                       "status": "resting", "yes_price_dollars": "0.4000", "no_price_dollars": "0.6000",
                       "fill_count_fp": "4.00", "remaining_count_fp": "6.00", "initial_count_fp": "10.00",
                       "taker_fees_dollars": "0.0700", "maker_fees_dollars": "0.0000",
                       "taker_fill_cost_dollars": "1.6000", "maker_fill_cost_dollars": "0.0000"})
    assert o.status is OrderStatus.RESTING and not o.is_done
    assert (o.filled_count, o.remaining_count, o.avg_fill_price, o.fees) == (4, 6, Decimal("0.40"), Decimal("0.07"))


def test_empty_side_sentinels_mean_no_quote():
    q = P.parse_quote({"ticker": "T", "yes_bid_dollars": "0.0000", "yes_ask_dollars": "1.0000"}, NOW)
    assert (q.yes_bid, q.yes_ask) == (None, None)


# ---- order books --------------------------------------------------------------------------------

def test_todays_orderbook_is_sorted_best_first_and_gives_the_yes_ask_from_no_bids():
    book = P.parse_orderbook("T", {"orderbook_fp": {
        "yes_dollars": [["0.5400", "50.00"], ["0.5500", "100.00"]],
        "no_dollars": [["0.4000", "10.00"], ["0.4200", "40.00"], ["0.4100", "0.00"]],
    }})
    assert book.yes_bids == ((Decimal("0.55"), 100), (Decimal("0.54"), 50))
    assert book.no_bids == ((Decimal("0.42"), 40), (Decimal("0.40"), 10))  # empty level dropped
    q = P.quote_from_orderbook(book, NOW)
    assert (q.yes_bid, q.yes_ask, q.yes_bid_size, q.yes_ask_size) == (Decimal("0.55"), Decimal("0.58"), 100, 40)


@pytest.mark.parametrize("sides", [
    {"yes_dollars": None, "no_dollars": None},
    {"yes_dollars": [], "no_dollars": []},
    {},
])
def test_empty_or_null_orderbook_sides(sides):
    book = P.parse_orderbook("T", {"orderbook_fp": sides})
    assert book == OrderBook("T", (), ())
    q = P.quote_from_orderbook(book, NOW)
    assert (q.yes_bid, q.yes_ask) == (None, None)


def test_legacy_orderbooks_in_cents_or_dollars():
    cents = P.parse_orderbook("T", {"orderbook": {"yes": [[30, 5], [31, 2]], "no": None}})
    assert cents.yes_bids == ((Decimal("0.31"), 2), (Decimal("0.30"), 5)) and cents.no_bids == ()
    dollars = P.parse_orderbook("T", {"orderbook": {"yes_dollars": [["0.31", 2]], "no_dollars": [["0.60", 7]], "yes": [[1, 1]]}})
    assert dollars.yes_bids == ((Decimal("0.31"), 2),) and dollars.no_bids == ((Decimal("0.60"), 7),)


# ---- error bodies -----------------------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    ('{"error": "too many requests"}', "too many requests"),
    ({"error": "too many requests"}, "too many requests"),
    ('{"error": {"code": "not_found", "message": "order not found", "service": "exchange"}}', "not_found: order not found"),
    ({"code": "invalid_parameters", "message": "count must be positive"}, "invalid_parameters: count must be positive"),
    (b"Bad Gateway", "Bad Gateway"),
    ("upstream timed out\n", "upstream timed out"),
    ("", "<empty body>"),
    ('"plain json string"', "plain json string"),
])
def test_error_bodies_as_strings_or_objects(body, expected):
    assert P.error_message(body) == expected


# ---- garbage -------------------------------------------------------------------------------------

def _order(**changes):
    base = {"order_id": "o1", "client_order_id": "c1", "ticker": "T", "side": "yes", "action": "buy",
            "status": "resting", "yes_price_dollars": "0.4000", "fill_count_fp": "0.00", "initial_count_fp": "5.00"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("parse, field", [
    (lambda: P.parse_quote({"ticker": "T", "yes_bid_dollars": "abc"}, NOW), "yes_bid_dollars"),
    (lambda: P.parse_quote({"ticker": "T", "yes_ask_dollars": "1.5000"}, NOW), "yes_ask_dollars"),
    (lambda: P.parse_quote({"ticker": "T", "yes_bid_dollars": 0.56}, NOW), "yes_bid_dollars"),
    (lambda: P.parse_quote({"ticker": "T", "close_time": "tomorrow"}, NOW), "close_time"),
    (lambda: P.parse_quote({"yes_bid_dollars": "0.5"}, NOW), "ticker"),
    (lambda: P.parse_quote(["not", "an", "object"], NOW), "market"),
    (lambda: P.parse_markets_response({"markets": "nope"}, NOW), "markets"),
    (lambda: P.parse_order(_order(status="pending")), "status"),
    (lambda: P.parse_order(_order(side="maybe")), "side"),
    (lambda: P.parse_order(_order(order_id=None)), "order_id"),
    (lambda: P.parse_order(_order(fill_count_fp="2.50")), "fill_count_fp"),
    (lambda: P.parse_order(_order(fill_count_fp="9.00")), "fill_count_fp"),
    (lambda: P.parse_order(_order(yes_price_dollars=None)), "yes_price_dollars"),
    (lambda: P.parse_order(_order(fill_count_fp=True)), "fill_count_fp"),
    (lambda: P.parse_fill({"fill_id": "f", "order_id": "o", "ticker": "T", "side": "yes", "action": "buy",
                           "count_fp": "1.00", "yes_price_dollars": "0.5", "created_time": "2026-01-01T00:00:00Z",
                           "is_taker": "yes"}), "is_taker"),
    (lambda: P.parse_fill({"fill_id": "f", "order_id": "o", "ticker": "T", "side": "yes", "action": "buy",
                           "count_fp": "1.00", "yes_price_dollars": "0.5"}), "created_time"),
    (lambda: P.parse_position({"ticker": "T", "position_fp": "lots"}), "position_fp"),
    (lambda: P.parse_orderbook("T", {"orderbook_fp": {"yes_dollars": [["0.5"]]}}), "yes_dollars[0]"),
    (lambda: P.parse_orderbook("T", {"orderbook_fp": {"no_dollars": [["1.2000", "3.00"]]}}), "no_dollars[0][0]"),
    (lambda: P.parse_orderbook("T", {"something": {}}), "orderbook_fp"),
    (lambda: P.parse_balance({"balance": "lots"}), "balance"),
    (lambda: P.parse_exchange_status({"exchange_active": True}), "trading_active"),
])
def test_garbage_raises_malformed_payload_naming_the_field(parse, field):
    with pytest.raises(MalformedPayload) as info:
        parse()
    assert field in str(info.value)
