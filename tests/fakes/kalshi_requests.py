"""Reading what the fake Kalshi (kalshi_server.py) is sent, as Kalshi does: an order body, a page
cursor, integer and decimal parameters; and the HTTP status each venue error answers with.
"""
from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from models.market import Side
from models.money import HUNDRED
from models.orders import Action, OrderRequest, TimeInForce
from models.venue import (
    AuthError, DuplicateClientOrderId, OrderNotFound, OrderRejected, RateLimited, VenueError, VenueUnavailable,
)

class BadRequest(Exception):
    pass


def status_for(exc: VenueError) -> int:
    for cls, status in ((DuplicateClientOrderId, 409), (OrderNotFound, 404), (OrderRejected, 400),
                        (RateLimited, 429), (AuthError, 401), (VenueUnavailable, 503)):
        if isinstance(exc, cls):
            return status
    return 500


def int_param(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{name}: expected an integer, found {text!r}") from None


def page_of(rows: list, request: web.Request) -> tuple[list, str]:
    """Cursor pagination: the cursor is the offset of the next page ("" when none)."""
    start = int_param(request.query.get("cursor") or "0", "cursor")
    limit = int_param(request.query.get("limit") or "100", "limit")
    if limit < 1:
        raise BadRequest(f"limit: expected at least 1, found {limit}")
    end = start + limit
    return rows[start:end], (str(end) if end < len(rows) else "")


def read_order_request(body: Any) -> OrderRequest:
    """A CreateOrderRequest body -> OrderRequest, with Kalshi's rules on what must be present."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    for name in ("ticker", "side", "action"):
        if not isinstance(body.get(name), str):
            raise BadRequest(f"{name} is required")
    try:
        side, action = Side(body["side"]), Action(body["action"])
        tif = TimeInForce(body.get("time_in_force") or TimeInForce.GTC.value)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    count = body.get("count")
    if count is None and body.get("count_fp") is not None:
        count = decimal_field(body["count_fp"], "count_fp")
    if isinstance(count, bool) or not isinstance(count, (int, Decimal)) or count < 1 or count != int(count):
        raise BadRequest("count: expected a whole number of contracts >= 1")
    prices = [(k, v) for k, v in body.items() if k in ("yes_price", "no_price", "yes_price_dollars", "no_price_dollars")]
    if len(prices) != 1:
        raise BadRequest("exactly one of yes_price, no_price, yes_price_dollars, no_price_dollars is required")
    name, value = prices[0]
    if name.endswith("_dollars"):
        price = decimal_field(value, name)
    elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 99:
        price = Decimal(value) / HUNDRED
    else:
        raise BadRequest(f"{name}: expected whole cents between 1 and 99")
    if not name.startswith(side.value):
        price = 1 - price
    client_order_id = body.get("client_order_id") or f"fake-{uuid.uuid4()}"
    try:
        return OrderRequest(client_order_id, body["ticker"], side, action, int(count), price, tif)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def decimal_field(value: Any, name: str) -> Decimal:
    try:
        d = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite():
        raise BadRequest(f"{name}: expected a decimal string, found {value!r}")
    return d
