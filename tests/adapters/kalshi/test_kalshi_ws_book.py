"""Kalshi's WebSocket frames parsed into types, and books built from snapshot + deltas (pure)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from adapters.kalshi import ws_protocol as wp
from adapters.kalshi.book import BookInconsistent, MarketBook, Sequences
from models.venue import MalformedPayload
from models.market import Side

T = datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc)
M = "KXNBAGAME-26JAN11LALBOS-BOS"


def frame(kind: str, msg: dict, **top) -> str:
    return json.dumps({"type": kind, "msg": msg, **top})


def snapshot(yes, no, *, sid=3, seq=1, yes_terms=False) -> wp.BookSnapshot:
    text = frame("orderbook_snapshot", {"market_ticker": M, "market_id": "x", "yes_dollars_fp": yes,
                                        "no_dollars_fp": no}, sid=sid, seq=seq)
    parsed = wp.parse_frame(text, use_yes_price=yes_terms)
    assert isinstance(parsed, wp.BookSnapshot)
    return parsed


def delta(side, price, size, *, seq, sid=3, yes_terms=False) -> wp.BookDelta:
    text = frame("orderbook_delta", {"market_ticker": M, "price_dollars": price, "delta_fp": size, "side": side},
                 sid=sid, seq=seq)
    parsed = wp.parse_frame(text, use_yes_price=yes_terms)
    assert isinstance(parsed, wp.BookDelta)
    return parsed


def test_a_snapshot_gives_the_top_of_book_in_yes_terms_with_whole_sizes():
    book = MarketBook(M)
    book.apply_snapshot(snapshot([["0.4500", "10.00"], ["0.4700", "24.64"]], [["0.5100", "5.00"], ["0.5000", "8.00"]]))
    q = book.to_quote(T, volume=1000)
    assert (q.yes_bid, q.yes_bid_size, q.yes_ask, q.yes_ask_size) == (D("0.4700"), 24, D("0.4900"), 5)
    assert q.ts == T and q.volume == 1000


@pytest.mark.parametrize("yes_terms", [False, True])
def test_both_price_terms_of_the_no_side_give_the_same_book(yes_terms):
    """use_yes_price=true quotes a NO bid at its YES price (1 - p): the book comes out the same."""
    no_level = "0.4900" if yes_terms else "0.5100"      # a NO bid at 0.51 = a YES ask at 0.49
    book = MarketBook(M)
    book.apply_snapshot(snapshot([["0.4700", "10.00"]], [[no_level, "5.00"]], yes_terms=yes_terms))
    book.apply_delta(delta("no", "0.4800" if yes_terms else "0.5200", "3.00", seq=2, yes_terms=yes_terms))
    _, _, ask, ask_size = book.top()
    assert (ask, ask_size) == (D("0.4800"), 3)


def test_a_snapshot_with_an_empty_bid_side_has_no_bid_not_the_last_one():
    book = MarketBook(M)
    book.apply_snapshot(snapshot([["0.4700", "10.00"]], [["0.5100", "5.00"]]))
    book.apply_snapshot(snapshot([], [["0.5100", "5.00"]], seq=2))
    q = book.to_quote(T)
    assert q.yes_bid is None and q.yes_bid_size is None and q.yes_ask == D("0.4900")
    assert q.bid(Side.NO) == D("0.5100")


def test_fractional_deltas_accumulate_exactly_and_a_level_taken_to_zero_is_gone():
    book = MarketBook(M)
    book.apply_snapshot(snapshot([["0.4700", "1.25"]], []))
    book.apply_delta(delta("yes", "0.4700", "0.75", seq=2))
    assert book.top()[:2] == (D("0.4700"), 2)
    book.apply_delta(delta("yes", "0.4700", "-2.00", seq=3))
    assert book.top()[:2] == (None, None)


def test_a_delta_that_would_take_a_level_below_zero_is_an_inconsistent_book():
    book = MarketBook(M)
    book.apply_snapshot(snapshot([["0.4700", "1.00"]], []))
    with pytest.raises(BookInconsistent):
        book.apply_delta(delta("yes", "0.4700", "-2.00", seq=2))


def test_sequence_numbers_are_checked_per_subscription():
    seqs = Sequences()
    assert seqs.check(3, 1) is None and seqs.check(3, 2) is None
    assert seqs.check(4, 10) is None                     # another subscription: its own numbers
    assert seqs.check(3, 2) == "duplicate"
    assert seqs.check(3, 5) == "sequence gap on subscription 3: expected 3, got 5"


def test_commands_send_the_price_terms_explicitly():
    assert wp.subscribe(1, wp.BOOK, [M], use_yes_price=False) == {
        "id": 1, "cmd": "subscribe",
        "params": {"channels": ["orderbook_delta"], "market_tickers": [M], "use_yes_price": False}}
    assert wp.subscribe(2, wp.BOOK, [M], use_yes_price=True)["params"]["use_yes_price"] is True
    assert wp.subscribe(3, wp.FILLS) == {"id": 3, "cmd": "subscribe", "params": {"channels": ["fill"]}}
    assert wp.update_subscription(4, 9, "add_markets", [M])["params"] == {
        "sids": [9], "action": "add_markets", "market_tickers": [M]}
    assert wp.unsubscribe(5, [9, 10]) == {"id": 5, "cmd": "unsubscribe", "params": {"sids": [9, 10]}}


def test_control_fills_and_lifecycle_frames_parse_into_types():
    sub = wp.parse_frame(frame("subscribed", {"channel": "ticker", "sid": 7}, id=2), use_yes_price=False)
    assert sub == wp.Subscribed(2, "ticker", 7)
    err = wp.parse_frame(frame("error", {"code": 25, "msg": "subscription buffer overflow"}), use_yes_price=False)
    assert isinstance(err, wp.WsError) and err.needs_resubscribe
    assert not wp.WsError(1, 8, "unknown channel").needs_resubscribe
    fill = wp.parse_frame(frame("fill", {"trade_id": "t1", "order_id": "o1", "client_order_id": "x-1",
                                         "market_ticker": M, "side": "yes", "action": "sell",
                                         "yes_price_dollars": "0.5500", "count_fp": "5.00", "is_taker": False,
                                         "ts": 1768154400}, sid=1), use_yes_price=False)
    assert isinstance(fill, wp.FillReport)
    assert (fill.fill.client_order_id, fill.fill.count, fill.fill.price) == ("x-1", 5, D("0.5500"))
    life = wp.parse_frame(frame("market_lifecycle_v2", {"market_ticker": M, "event_type": "determined",
                                                        "result": "no"}, sid=2), use_yes_price=False)
    assert life == wp.Lifecycle(M, "determined", None, Side.NO)
    moved = wp.parse_frame(frame("market_lifecycle_v2", {"market_ticker": M, "event_type": "close_date_updated",
                                                         "close_ts": 1768158000}, sid=2), use_yes_price=False)
    assert moved.close_time == datetime(2026, 1, 11, 19, 0, tzinfo=timezone.utc)
    assert wp.parse_frame(frame("trade", {"market_ticker": M}, sid=4), use_yes_price=False) is None


def test_a_malformed_frame_names_the_field():
    with pytest.raises(MalformedPayload, match=r"orderbook_delta\.msg\.delta_fp"):
        wp.parse_frame(frame("orderbook_delta", {"market_ticker": M, "price_dollars": "0.5", "delta_fp": 3,
                                                 "side": "yes"}, sid=1, seq=2), use_yes_price=False)
    with pytest.raises(MalformedPayload, match="price_dollars"):
        wp.parse_frame(frame("orderbook_delta", {"market_ticker": M, "price_dollars": "1.5", "delta_fp": "3",
                                                 "side": "yes"}, sid=1, seq=2), use_yes_price=False)
    with pytest.raises(MalformedPayload, match="not JSON"):
        wp.parse_frame("{", use_yes_price=False)


@pytest.mark.parametrize("base, ws", [
    ("https://api.elections.kalshi.com/trade-api/v2", "wss://api.elections.kalshi.com/trade-api/ws/v2"),
    ("https://demo-api.kalshi.co/trade-api/v2", "wss://demo-api.kalshi.co/trade-api/ws/v2"),
    ("http://127.0.0.1:8080/trade-api/v2", "ws://127.0.0.1:8080/trade-api/ws/v2"),
])
def test_the_websocket_endpoint_is_the_api_hosts_trade_api_ws_v2(base, ws):
    from actors.clock import WallClock
    from adapters.kalshi.auth import KalshiCredentials
    from adapters.kalshi.client import KalshiClient
    from tests.fakes.kalshi_server import generate_test_key

    client = KalshiClient(base, KalshiCredentials("k", generate_test_key(1024)), WallClock())
    assert client.ws_url == ws
