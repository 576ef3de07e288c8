"""Kalshi wire JSON -> models/ types. The only place that knows Kalshi's field names.

Today's responses carry prices as `*_dollars` strings ("0.5600") and counts as `*_fp` strings
("10.00"). Older payloads (and the recorded golden fixtures) also or only carry the legacy integer
fields (cents, whole contracts); each reader prefers the new field and falls back to the legacy one
when only it is present. Anything else raises MalformedPayload naming the field and what was
expected, so a bad payload is a clear error at the edge instead of a wrong number inside the engine.

Conventions:
- A market's quote is in YES terms. A bid of 0 means "no bid"; an ask of 0 or 1 means "no ask"
  (Kalshi reports empty sides that way), both become None.
- The order book lists bids only: best YES ask = 1 - best NO bid (see quote_from_orderbook).
- Order status is resting, canceled or executed; a partly filled order is resting with
  fill_count_fp > 0.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Mapping

from adapters.kalshi.fields import (
    as_list, as_object, bad, count, cursor, decimal_text, dollars, enum_field, fp_count, get_str, legacy_int,
    timestamp,
)
from models.market import Quote, Side
from models.money import HUNDRED, ONE, ZERO
from models.orders import Action, Fill, OrderBook, OrderSnapshot, OrderStatus, VenuePosition

_AVG_PRICE_QUANTUM = Decimal("0.000001")  # the finest precision Kalshi quotes


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    """GET /exchange/status: whether the exchange takes changes and whether trading is open."""

    exchange_active: bool
    trading_active: bool
    estimated_resume_time: datetime | None = None


# ---- markets and the order book ---------------------------------------------------------------

def parse_quote(market: object, received_at: datetime, where: str = "market") -> Quote:
    """A Market object -> Quote (YES terms), stamped with the time we received it."""
    m = as_object(market, where)
    ticker = get_str(m, "ticker", where)
    yes_bid = dollars(m, "yes_bid_dollars", where, legacy_cents="yes_bid", required=False)
    yes_ask = dollars(m, "yes_ask_dollars", where, legacy_cents="yes_ask", required=False)
    last = dollars(m, "last_price_dollars", where, legacy_cents="last_price", required=False)
    for name, value in (("yes_bid_dollars", yes_bid), ("yes_ask_dollars", yes_ask), ("last_price_dollars", last)):
        if value is not None and not ZERO <= value <= ONE:
            raise bad(f"{where}.{name}", "a price between 0 and 1 dollars", str(value))
    return Quote(
        ticker=ticker,
        ts=received_at,
        yes_bid=yes_bid if yes_bid is not None and yes_bid > ZERO else None,
        yes_ask=yes_ask if yes_ask is not None and ZERO < yes_ask < ONE else None,
        yes_bid_size=count(m, "yes_bid_size_fp", where, required=False, whole=False),
        yes_ask_size=count(m, "yes_ask_size_fp", where, required=False, whole=False),
        last=last if last is not None and last > ZERO else None,
        volume=count(m, "volume_fp", where, legacy="volume", required=False, whole=False),
        close_time=timestamp(m, "close_time", where, required=False),
    )


def parse_markets_response(body: object, received_at: datetime) -> tuple[dict[str, Quote], str | None]:
    """GET /markets -> ({ticker: Quote}, next cursor)."""
    b = as_object(body, "GetMarketsResponse")
    markets = as_list(b.get("markets"), "GetMarketsResponse.markets", allow_null=True)
    quotes = {}
    for i, market in enumerate(markets):
        q = parse_quote(market, received_at, f"GetMarketsResponse.markets[{i}]")
        quotes[q.ticker] = q
    return quotes, cursor(b, "GetMarketsResponse")


def parse_market_response(body: object, received_at: datetime) -> Quote:
    """GET /markets/{ticker} -> Quote."""
    b = as_object(body, "GetMarketResponse")
    return parse_quote(b.get("market"), received_at, "GetMarketResponse.market")


def _levels(value: object, where: str, *, cents: bool) -> tuple[tuple[Decimal, int], ...]:
    """[[price, size], ...] (null or [] = empty side) -> ((price, size), ...) best (highest) first."""
    levels = []
    for i, level in enumerate(as_list(value, where, allow_null=True)):
        w = f"{where}[{i}]"
        if not isinstance(level, list) or len(level) < 2:
            raise bad(w, "a [price, size] pair", level)
        raw_price, raw_size = level[0], level[1]
        price = Decimal(legacy_int(raw_price, f"{w}[0]")) / HUNDRED if cents else decimal_text(raw_price, f"{w}[0]")
        if not ZERO < price < ONE:
            raise bad(f"{w}[0]", "a price strictly between 0 and 1 dollars", raw_price)
        if isinstance(raw_size, str):
            size = fp_count(raw_size, f"{w}[1]", whole=False)
        else:
            size = legacy_int(raw_size, f"{w}[1]")
        if size > 0:
            levels.append((price, size))
    levels.sort(key=lambda lv: lv[0], reverse=True)
    return tuple(levels)


def parse_orderbook(ticker: str, body: object) -> OrderBook:
    """GET /markets/{ticker}/orderbook -> OrderBook (bids only, best first).

    Today: {"orderbook_fp": {"yes_dollars": [["0.1500", "100.00"], ...], "no_dollars": [...]}}.
    Legacy: {"orderbook": {"yes_dollars": [["0.15", 100]], "yes": [[15, 100]], ...}}, any side null."""
    b = as_object(body, "GetMarketOrderbookResponse")
    if b.get("orderbook_fp") is not None:
        ob = as_object(b["orderbook_fp"], "GetMarketOrderbookResponse.orderbook_fp")
        where = "GetMarketOrderbookResponse.orderbook_fp"
        yes = _levels(ob.get("yes_dollars"), f"{where}.yes_dollars", cents=False)
        no = _levels(ob.get("no_dollars"), f"{where}.no_dollars", cents=False)
        return OrderBook(ticker=ticker, yes_bids=yes, no_bids=no)
    if "orderbook" not in b:
        raise bad("GetMarketOrderbookResponse.orderbook_fp", "an order book object", "<missing>")
    where = "GetMarketOrderbookResponse.orderbook"
    ob = as_object(b["orderbook"], where)
    sides = []
    for side in ("yes", "no"):
        if ob.get(f"{side}_dollars") is not None:
            sides.append(_levels(ob[f"{side}_dollars"], f"{where}.{side}_dollars", cents=False))
        else:
            sides.append(_levels(ob.get(side), f"{where}.{side}", cents=True))
    return OrderBook(ticker=ticker, yes_bids=sides[0], no_bids=sides[1])


def quote_from_orderbook(book: OrderBook, received_at: datetime) -> Quote:
    """Top of book from bids only: YES bid = best YES bid, YES ask = 1 - best NO bid."""
    best_yes = book.yes_bids[0] if book.yes_bids else None
    best_no = book.no_bids[0] if book.no_bids else None
    return Quote(
        ticker=book.ticker,
        ts=received_at,
        yes_bid=best_yes[0] if best_yes else None,
        yes_ask=ONE - best_no[0] if best_no else None,
        yes_bid_size=best_yes[1] if best_yes else None,
        yes_ask_size=best_no[1] if best_no else None,
    )


# ---- orders, fills, positions, balance ---------------------------------------------------------

def parse_order(order: object, where: str = "order") -> OrderSnapshot:
    """An Order object -> OrderSnapshot. limit_price is the price of the order's own side."""
    o = as_object(order, where)
    side = enum_field(o, "side", where, Side)
    status = enum_field(o, "status", where, OrderStatus)
    filled = count(o, "fill_count_fp", where, legacy="fill_count")
    initial = count(o, "initial_count_fp", where, legacy="initial_count", required=False)
    if initial is None:
        initial = filled + count(o, "remaining_count_fp", where, legacy="remaining_count")
    if filled > initial:
        raise bad(f"{where}.fill_count_fp", f"at most initial_count_fp ({initial})", filled)
    if side is Side.YES:
        price = dollars(o, "yes_price_dollars", where, legacy_cents="yes_price")
    else:
        price = dollars(o, "no_price_dollars", where, legacy_cents="no_price")
    fees = ZERO
    cost = ZERO
    for kind in ("taker", "maker"):
        fees += dollars(o, f"{kind}_fees_dollars", where, legacy_cents=f"{kind}_fees", required=False) or ZERO
        cost += dollars(o, f"{kind}_fill_cost_dollars", where, legacy_cents=f"{kind}_fill_cost", required=False) or ZERO
    avg = (cost / filled).quantize(_AVG_PRICE_QUANTUM) if filled > 0 and cost > ZERO else None
    return OrderSnapshot(
        order_id=get_str(o, "order_id", where),
        client_order_id=get_str(o, "client_order_id", where, required=False) or "",
        ticker=get_str(o, "ticker", where),
        side=side,
        action=enum_field(o, "action", where, Action),
        count=initial,
        limit_price=price,
        status=status,
        filled_count=filled,
        avg_fill_price=avg,
        fees=fees,
        created_ts=timestamp(o, "created_time", where, required=False),
    )


def parse_order_response(body: object, where: str = "GetOrderResponse") -> OrderSnapshot:
    """GET/POST/DELETE one order: {"order": {...}} -> OrderSnapshot."""
    return parse_order(as_object(body, where).get("order"), f"{where}.order")


def parse_orders_response(body: object) -> tuple[list[OrderSnapshot], str | None]:
    """GET /portfolio/orders -> (orders, next cursor)."""
    b = as_object(body, "GetOrdersResponse")
    orders = as_list(b.get("orders"), "GetOrdersResponse.orders", allow_null=True)
    parsed = [parse_order(o, f"GetOrdersResponse.orders[{i}]") for i, o in enumerate(orders)]
    return parsed, cursor(b, "GetOrdersResponse")


def parse_fill(fill: object, where: str = "fill", client_order_id: str = "") -> Fill:
    """A Fill object -> Fill. Kalshi fills carry no client_order_id: the caller may supply it."""
    f = as_object(fill, where)
    side = enum_field(f, "side", where, Side)
    s = side.value
    price = dollars(f, f"{s}_price_dollars", where, required=False)
    if price is None:  # older payloads: "yes_price_fixed": "0.6000", then integer cents
        price = dollars(f, f"{s}_price_fixed", where, legacy_cents=f"{s}_price")
    ts = timestamp(f, "created_time", where, required=False)
    if ts is None:
        if f.get("ts") is None:
            raise bad(f"{where}.created_time (or legacy ts)", "a time", "<missing>")
        try:
            ts = datetime.fromtimestamp(legacy_int(f["ts"], f"{where}.ts"), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):   # a year the datetime type cannot hold
            raise bad(f"{where}.ts", "a Unix time in seconds", f["ts"]) from None
    fill_id = get_str(f, "fill_id", where, required=False) or get_str(f, "trade_id", where)
    ticker = get_str(f, "ticker", where, required=False) or get_str(f, "market_ticker", where)
    is_taker = f.get("is_taker", True)
    if not isinstance(is_taker, bool):
        raise bad(f"{where}.is_taker", "a boolean", is_taker)
    return Fill(
        fill_id=fill_id,
        order_id=get_str(f, "order_id", where),
        client_order_id=client_order_id,
        ticker=ticker,
        side=side,
        action=enum_field(f, "action", where, Action),
        count=count(f, "count_fp", where, legacy="count"),
        price=price,
        fee=dollars(f, "fee_cost", where, required=False) or ZERO,
        ts=ts,
        is_taker=is_taker,
    )


def parse_fills_response(body: object) -> tuple[list[Fill], str | None]:
    """GET /portfolio/fills -> (fills, next cursor)."""
    b = as_object(body, "GetFillsResponse")
    fills = as_list(b.get("fills"), "GetFillsResponse.fills", allow_null=True)
    return [parse_fill(f, f"GetFillsResponse.fills[{i}]") for i, f in enumerate(fills)], cursor(b, "GetFillsResponse")


def parse_position(position: object, where: str = "market_position") -> VenuePosition:
    """A MarketPosition -> VenuePosition (positive = YES contracts, negative = NO)."""
    p = as_object(position, where)
    return VenuePosition(
        ticker=get_str(p, "ticker", where),
        position=count(p, "position_fp", where, legacy="position", signed=True),
        market_exposure=dollars(p, "market_exposure_dollars", where, legacy_cents="market_exposure", required=False) or ZERO,
        realized_pnl=dollars(p, "realized_pnl_dollars", where, legacy_cents="realized_pnl", required=False) or ZERO,
        fees_paid=dollars(p, "fees_paid_dollars", where, legacy_cents="fees_paid", required=False) or ZERO,
    )


def parse_positions_response(body: object) -> tuple[list[VenuePosition], str | None]:
    """GET /portfolio/positions -> (market positions, next cursor). Event positions are ignored."""
    b = as_object(body, "GetPositionsResponse")
    rows = as_list(b.get("market_positions"), "GetPositionsResponse.market_positions", allow_null=True)
    parsed = [parse_position(p, f"GetPositionsResponse.market_positions[{i}]") for i, p in enumerate(rows)]
    return parsed, cursor(b, "GetPositionsResponse")


def parse_balance(body: object) -> Decimal:
    """GET /portfolio/balance -> available balance in dollars (the spec gives integer cents;
    a `balance_dollars` string is preferred when present)."""
    b = as_object(body, "GetBalanceResponse")
    return dollars(b, "balance_dollars", "GetBalanceResponse", legacy_cents="balance")


def parse_exchange_status(body: object) -> ExchangeStatus:
    b = as_object(body, "ExchangeStatus")
    flags = []
    for name in ("exchange_active", "trading_active"):
        value = b.get(name)
        if not isinstance(value, bool):
            raise bad(f"ExchangeStatus.{name}", "a boolean", "<missing>" if value is None else value)
        flags.append(value)
    resume = timestamp(b, "exchange_estimated_resume_time", "ExchangeStatus", required=False)
    return ExchangeStatus(exchange_active=flags[0], trading_active=flags[1], estimated_resume_time=resume)


# ---- error bodies -----------------------------------------------------------------------------

def error_message(body: object, limit: int = 300) -> str:
    """A readable message from an error body, whatever its shape: plain text, {"error": "..."},
    {"error": {"code": ..., "message": ...}} or {"code": ..., "message": ...}."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        text = body.strip()
        try:
            decoded = json.loads(text) if text[:1] in ("{", "[", '"') else None
        except (ValueError, RecursionError):
            decoded = None
        if decoded is not None:
            return error_message(decoded, limit)
        return (text or "<empty body>")[:limit]
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, str):
            return inner[:limit]
        if isinstance(inner, Mapping):
            parts = [str(inner[k]) for k in ("code", "message", "details") if inner.get(k) not in (None, "")]
            if parts:
                return ": ".join(parts)[:limit]
    if body is None:
        return "<empty body>"
    return json.dumps(body, default=str)[:limit]
