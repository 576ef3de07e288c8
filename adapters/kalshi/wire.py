"""models/ types -> today's Kalshi wire JSON (the inverse of parsing.py), for the fake server.

Only today's format is written: prices as `*_dollars` strings with 4 decimals ("0.5600"),
counts as `*_fp` strings with 2 decimals ("10.00"), times as RFC 3339 with a Z. No legacy
integer cent or count fields. Every object carries the fields the v3.13.0 OpenAPI spec marks
required, so the contract tests can hold the fake to the spec.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from adapters.kalshi.auth import timestamp_ms
from models.market import Quote, Side
from models.money import ONE, ZERO
from models.orders import Fill, OrderBook, OrderSnapshot, OrderStatus, VenuePosition

_DOLLAR_QUANTUM = Decimal("0.0001")


def dollars_text(value: Decimal | None) -> str:
    """Decimal dollars -> "0.5600" (None -> "0.0000", Kalshi's empty value)."""
    return str((value if value is not None else ZERO).quantize(_DOLLAR_QUANTUM))


def fp_text(value: int | None) -> str:
    """Contracts -> "10.00" (None -> "0.00")."""
    return f"{value or 0}.00"


def time_text(value: datetime) -> str:
    """An aware datetime -> "2026-01-27T01:15:00Z" (microseconds kept when present)."""
    text = value.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def market(quote: Quote, now: datetime) -> dict[str, Any]:
    """A Market object for a quote. An empty bid or ask is "0.0000", as Kalshi shows it."""
    close = quote.close_time or now + timedelta(days=1)
    no_bid = ONE - quote.yes_ask if quote.yes_ask is not None else None
    no_ask = ONE - quote.yes_bid if quote.yes_bid is not None else None
    return {
        "ticker": quote.ticker,
        "event_ticker": quote.ticker.rsplit("-", 1)[0],
        "market_type": "binary",
        "yes_sub_title": "",
        "no_sub_title": "",
        "created_time": time_text(now - timedelta(days=1)),
        "updated_time": time_text(now),
        "open_time": time_text(now - timedelta(days=1)),
        "close_time": time_text(close),
        "latest_expiration_time": time_text(close + timedelta(days=7)),
        "settlement_timer_seconds": 300,
        "status": "active",
        "notional_value_dollars": dollars_text(ONE),
        "yes_bid_dollars": dollars_text(quote.yes_bid),
        "yes_ask_dollars": dollars_text(quote.yes_ask),
        "no_bid_dollars": dollars_text(no_bid),
        "no_ask_dollars": dollars_text(no_ask),
        "yes_bid_size_fp": fp_text(quote.yes_bid_size),
        "yes_ask_size_fp": fp_text(quote.yes_ask_size),
        "last_price_dollars": dollars_text(quote.last),
        "previous_yes_bid_dollars": dollars_text(None),
        "previous_yes_ask_dollars": dollars_text(None),
        "previous_price_dollars": dollars_text(None),
        "volume_fp": fp_text(quote.volume),
        "volume_24h_fp": fp_text(quote.volume),
        "liquidity_dollars": dollars_text(None),
        "open_interest_fp": fp_text(0),
        "result": "",
        "can_close_early": True,
        "fractional_trading_enabled": False,
        "expiration_value": "",
        "rules_primary": "",
        "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
    }


def orderbook(book: OrderBook) -> dict[str, Any]:
    """GetMarketOrderbookResponse. Levels go worst-to-best (ascending price), as Kalshi lists them."""
    def levels(side: tuple[tuple[Decimal, int], ...]) -> list[list[str]]:
        return [[dollars_text(p), fp_text(n)] for p, n in sorted(side, key=lambda lv: lv[0])]

    return {"orderbook_fp": {"yes_dollars": levels(book.yes_bids), "no_dollars": levels(book.no_bids)}}


def _yes_no(side: Side, price: Decimal) -> tuple[Decimal, Decimal]:
    return (price, ONE - price) if side is Side.YES else (ONE - price, price)


def order(snapshot: OrderSnapshot, now: datetime) -> dict[str, Any]:
    """An Order object. Fill cost and fees are reported as taker amounts."""
    yes, no = _yes_no(snapshot.side, snapshot.limit_price)
    cost = (snapshot.avg_fill_price or ZERO) * snapshot.filled_count
    remaining = snapshot.count - snapshot.filled_count if snapshot.status is OrderStatus.RESTING else 0
    created = snapshot.created_ts or now
    return {
        "order_id": snapshot.order_id,
        "user_id": "fake-user",
        "client_order_id": snapshot.client_order_id,
        "ticker": snapshot.ticker,
        "side": snapshot.side.value,
        "action": snapshot.action.value,
        "type": "limit",
        "status": snapshot.status.value,
        "yes_price_dollars": dollars_text(yes),
        "no_price_dollars": dollars_text(no),
        "fill_count_fp": fp_text(snapshot.filled_count),
        "remaining_count_fp": fp_text(remaining),
        "initial_count_fp": fp_text(snapshot.count),
        "taker_fees_dollars": dollars_text(snapshot.fees),
        "maker_fees_dollars": dollars_text(ZERO),
        "taker_fill_cost_dollars": dollars_text(cost),
        "maker_fill_cost_dollars": dollars_text(ZERO),
        "expiration_time": None,
        "created_time": time_text(created),
        "last_update_time": time_text(now),
        "order_group_id": None,
        "cancel_order_on_pause": False,
        "subaccount_number": 0,
    }


def fill(f: Fill) -> dict[str, Any]:
    yes, no = _yes_no(f.side, f.price)
    return {
        "fill_id": f.fill_id,
        "trade_id": f.fill_id,
        "order_id": f.order_id,
        "ticker": f.ticker,
        "market_ticker": f.ticker,
        "side": f.side.value,
        "action": f.action.value,
        "count_fp": fp_text(f.count),
        "yes_price_dollars": dollars_text(yes),
        "no_price_dollars": dollars_text(no),
        "is_taker": f.is_taker,
        "fee_cost": dollars_text(f.fee),
        "created_time": time_text(f.ts),
        "ts": timestamp_ms(f.ts) // 1000,
        "subaccount_number": 0,
    }


def market_position(p: VenuePosition, now: datetime) -> dict[str, Any]:
    return {
        "ticker": p.ticker,
        "total_traded_dollars": dollars_text(p.market_exposure),
        "position_fp": fp_text(p.position),
        "market_exposure_dollars": dollars_text(p.market_exposure),
        "realized_pnl_dollars": dollars_text(p.realized_pnl),
        "resting_orders_count": 0,
        "fees_paid_dollars": dollars_text(p.fees_paid),
        "last_updated_ts": time_text(now),
    }


def error(code: str, message: str) -> dict[str, Any]:
    """An error body as Kalshi sends most of them (a 429 is just {"error": "too many requests"})."""
    return {"error": {"code": code, "message": message, "service": "fake-kalshi"}}
