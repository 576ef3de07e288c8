"""Kalshi's WebSocket market-data protocol (/trade-api/ws/v2): commands out, typed frames in. Pure.

Facts (Kalshi's AsyncAPI document, https://docs.kalshi.com/asyncapi.yaml, and the WebSocket
quick start; quoted with sources in docs/_incoming_ws.md):
- Commands are `{"id": n, "cmd": "subscribe" | "unsubscribe" | "update_subscription", "params"}`;
  a subscribe is answered per channel with `{"type": "subscribed", "id": n, "msg": {"channel",
  "sid"}}`, an update with `{"type": "ok", ...}`, a failure with `{"type": "error", "id": n,
  "msg": {"code", "msg"}}`.
- `orderbook_delta` sends an `orderbook_snapshot` first (`yes_dollars_fp` / `no_dollars_fp`:
  `[[price_dollars, size_fp], ...]`, bids only), then `orderbook_delta` frames (`price_dollars`,
  `delta_fp`, `side`); both carry `seq`, numbered per subscription (sid).
- `use_yes_price` chooses the price terms of the NO side's levels (NO prices, or YES prices);
  its default is announced to change, so it is always sent explicitly. Books here are kept in
  NO-price terms whichever was asked for (`to_no_terms`).
- `ticker` carries `yes_bid_dollars`, `yes_ask_dollars`, `price_dollars`, `volume_fp`; `fill`
  our fills with `client_order_id`; `market_lifecycle_v2` every market's lifecycle
  (`event_type`: close_date_updated with `close_ts`, determined / settled with `result`).

Every frame is parsed once here into a frozen type; domain code never sees a raw dict. A frame
that cannot be read raises MalformedPayload naming the field (adapters/kalshi/fields.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping, Sequence

from adapters.kalshi.fields import as_list, as_object, bad, count, decimal_text, dollars, get_str, legacy_int
from adapters.kalshi.parsing import parse_fill
from models.venue import MalformedPayload
from models.market import Side
from models.money import ONE
from models.orders import Fill

WS_PATH = "/trade-api/ws/v2"
BOOK = "orderbook_delta"
TICKER = "ticker"
FILLS = "fill"
LIFECYCLE = "market_lifecycle_v2"
# Error codes after which the subscription is gone and must be made again (AsyncAPI error table:
# 7 unknown subscription id, 18 command timeout, 25 subscription buffer overflow, 27 too many
# requests). The others are mistakes in a command, which a resend would repeat.
RESUBSCRIBE_CODES = frozenset({7, 18, 25, 27})

Level = tuple[Decimal, Decimal]          # (price in dollars, size in contracts, exact)


# ---- frames in ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Subscribed:
    req_id: int | None
    channel: str
    sid: int


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    sid: int


@dataclass(frozen=True, slots=True)
class Ok:
    req_id: int | None
    sid: int | None


@dataclass(frozen=True, slots=True)
class WsError:
    req_id: int | None
    code: int | None
    text: str

    @property
    def needs_resubscribe(self) -> bool:
        return self.code in RESUBSCRIBE_CODES


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    sid: int
    seq: int
    ticker: str
    yes: tuple[Level, ...]       # YES bids
    no: tuple[Level, ...]        # NO bids, in NO-price terms


@dataclass(frozen=True, slots=True)
class BookDelta:
    sid: int
    seq: int
    ticker: str
    side: Side
    price: Decimal               # YES side: YES price; NO side: NO price
    delta: Decimal               # contracts added (negative: removed), exact


@dataclass(frozen=True, slots=True)
class TickerUpdate:
    sid: int
    ticker: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    last: Decimal | None
    volume: int | None


@dataclass(frozen=True, slots=True)
class FillReport:
    fill: Fill                   # with the client_order_id the frame carries


@dataclass(frozen=True, slots=True)
class Lifecycle:
    ticker: str
    event_type: str              # created, activated, deactivated, close_date_updated, determined, settled, ...
    close_time: datetime | None
    result: Side | None


Frame = Subscribed | Unsubscribed | Ok | WsError | BookSnapshot | BookDelta | TickerUpdate | FillReport | Lifecycle


def parse_frame(text: str, *, use_yes_price: bool) -> Frame | None:
    """One text frame -> its type; None for a type this adapter does not use (trade, ...)."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedPayload(f"Kalshi WebSocket frame: not JSON: {text[:120]!r}") from None
    frame = as_object(raw, "frame")
    kind = get_str(frame, "type", "frame")
    where = f"{kind}"
    msg = frame.get("msg")
    req_id = _opt_int(frame, "id", where)
    if kind == "subscribed":
        m = as_object(msg, f"{where}.msg")
        return Subscribed(req_id, get_str(m, "channel", f"{where}.msg"), _int(m, "sid", f"{where}.msg"))
    if kind == "unsubscribed":
        return Unsubscribed(_int(frame, "sid", where))
    if kind == "ok":
        return Ok(req_id, _opt_int(frame, "sid", where))
    if kind == "error":
        m = msg if isinstance(msg, Mapping) else {}
        code = m.get("code")
        return WsError(req_id, code if isinstance(code, int) and not isinstance(code, bool) else None,
                       str(m.get("msg") or "")[:300])
    if kind == "orderbook_snapshot":
        m = as_object(msg, f"{where}.msg")
        no = _levels(m.get("no_dollars_fp"), f"{where}.msg.no_dollars_fp")
        return BookSnapshot(_int(frame, "sid", where), _int(frame, "seq", where),
                            get_str(m, "market_ticker", f"{where}.msg"),
                            _levels(m.get("yes_dollars_fp"), f"{where}.msg.yes_dollars_fp"),
                            tuple((to_no_terms(p), s) for p, s in no) if use_yes_price else no)
    if kind == "orderbook_delta":
        m = as_object(msg, f"{where}.msg")
        side = _side(m, f"{where}.msg")
        price = _price(m.get("price_dollars"), f"{where}.msg.price_dollars")
        if use_yes_price and side is Side.NO:
            price = to_no_terms(price)
        return BookDelta(_int(frame, "sid", where), _int(frame, "seq", where),
                         get_str(m, "market_ticker", f"{where}.msg"), side, price,
                         decimal_text(m.get("delta_fp"), f"{where}.msg.delta_fp"))
    if kind == "ticker":
        m = as_object(msg, f"{where}.msg")
        w = f"{where}.msg"
        return TickerUpdate(_int(frame, "sid", where), get_str(m, "market_ticker", w),
                            dollars(m, "yes_bid_dollars", w, required=False),
                            dollars(m, "yes_ask_dollars", w, required=False),
                            dollars(m, "price_dollars", w, required=False),
                            count(m, "volume_fp", w, legacy="volume", required=False, whole=False))
    if kind == "fill":
        m = as_object(msg, f"{where}.msg")
        cid = get_str(m, "client_order_id", f"{where}.msg", required=False) or ""
        return FillReport(parse_fill(m, f"{where}.msg", client_order_id=cid))
    if kind == "market_lifecycle_v2":
        m = as_object(msg, f"{where}.msg")
        w = f"{where}.msg"
        close = m.get("close_ts")
        result = m.get("result")
        return Lifecycle(get_str(m, "market_ticker", w), get_str(m, "event_type", w),
                         None if close is None else _unix(close, f"{w}.close_ts"),
                         Side(result) if result in ("yes", "no") else None)
    return None


def to_no_terms(yes_price: Decimal) -> Decimal:
    """A NO level quoted at its YES price (use_yes_price) -> its NO price."""
    return ONE - yes_price


def _levels(value: object, where: str) -> tuple[Level, ...]:
    out = []
    for i, level in enumerate(as_list(value, where, allow_null=True)):
        pair = as_list(level, f"{where}[{i}]")
        if len(pair) != 2:
            raise bad(f"{where}[{i}]", "[price_dollars, size_fp]", level)
        size = decimal_text(pair[1], f"{where}[{i}][1]")
        if size < 0:
            raise bad(f"{where}[{i}][1]", "a non-negative size", pair[1])
        out.append((_price(pair[0], f"{where}[{i}][0]"), size))
    return tuple(out)


def _price(value: object, where: str) -> Decimal:
    p = decimal_text(value, where)
    if not Decimal(0) <= p <= ONE or p != p.quantize(Decimal("0.000001")):
        raise bad(where, "a dollar price between 0 and 1 with at most 6 decimals", value)
    return p


def _side(m: Mapping[str, Any], where: str) -> Side:
    text = get_str(m, "side", where)
    if text not in ("yes", "no"):
        raise bad(f"{where}.side", "yes or no", text)
    return Side(text)


def _int(obj: Mapping[str, Any], name: str, where: str) -> int:
    if obj.get(name) is None:
        raise bad(f"{where}.{name}", "an integer", "<missing>")
    return legacy_int(obj[name], f"{where}.{name}")


def _opt_int(obj: Mapping[str, Any], name: str, where: str) -> int | None:
    return None if obj.get(name) is None else legacy_int(obj[name], f"{where}.{name}")


def _unix(value: object, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(legacy_int(value, where), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise bad(where, "a Unix time in seconds", value) from None


# ---- commands out ---------------------------------------------------------------------------

def subscribe(req_id: int, channel: str, tickers: Sequence[str] = (), *, use_yes_price: bool | None = None) -> dict:
    params: dict[str, Any] = {"channels": [channel]}
    if tickers:
        params["market_tickers"] = list(tickers)
    if channel == BOOK:
        params["use_yes_price"] = bool(use_yes_price)     # always explicit: its default is to change
    return {"id": req_id, "cmd": "subscribe", "params": params}


def unsubscribe(req_id: int, sids: Sequence[int]) -> dict:
    return {"id": req_id, "cmd": "unsubscribe", "params": {"sids": list(sids)}}


def update_subscription(req_id: int, sid: int, action: str, tickers: Sequence[str]) -> dict:
    """action: add_markets | delete_markets (AsyncAPI: exactly one sid per update)."""
    if action not in ("add_markets", "delete_markets"):
        raise ValueError(f"update_subscription action {action!r}: expected add_markets or delete_markets")
    return {"id": req_id, "cmd": "update_subscription",
            "params": {"sids": [sid], "action": action, "market_tickers": list(tickers)}}
