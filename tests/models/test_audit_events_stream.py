"""The market-data WebSocket's audit events (models/audit_events/stream.py) write the very records
and console lines adapters/kalshi/stream.py and stream_health.py wrote as string emits, and read
back as what was written."""
from __future__ import annotations

from datetime import datetime, timezone

from models import audit_events as ae

TS = datetime(2026, 1, 5, 19, 30, 12, tzinfo=timezone.utc)


def _record(event: ae.AuditEvent) -> dict:
    record = ae.to_record(event, TS)
    assert record["ts"] == TS.isoformat()
    back = ae.parse(record)
    assert back == event and back.text() == record["message"] and not back.extra
    return {k: v for k, v in record.items() if k != "ts"}


def test_stream_connected():
    assert _record(ae.StreamConnected(connection=3, markets=12, use_yes_price=True)) == {
        "event": "STREAM_CONNECTED", "connection": 3, "markets": 12, "use_yes_price": True,
        "message": "market data: WebSocket connected (connection 3); subscribing 12 markets"}


def test_stream_disconnected_shows_the_unrounded_wait_and_records_it_to_the_millisecond():
    event = ae.StreamDisconnected(connection=2, reason="connect failed: refused", attempt=4,
                                  retry_in_secs=round(7.04999, 3), polled=12, wait_secs=7.04999)
    assert _record(event) == {
        "event": "STREAM_DISCONNECTED", "connection": 2, "reason": "connect failed: refused", "attempt": 4,
        "retry_in_secs": 7.05,
        "message": "market data: WebSocket down (connect failed: refused); 12 markets polled; reconnecting in 7.0 s"}


def test_stream_error_keeps_only_the_fields_it_was_given_in_their_order():
    assert _record(ae.StreamError(kind="error 6", error="Already subscribed", code=6, channel="orderbook_delta")) == {
        "event": "STREAM_ERROR", "kind": "error 6", "error": "Already subscribed", "code": 6,
        "channel": "orderbook_delta", "message": "market data: error 6: Already subscribed"}
    assert _record(ae.StreamError(kind="error 8", error="unknown", code=8)) == {
        "event": "STREAM_ERROR", "kind": "error 8", "error": "unknown", "code": 8,
        "message": "market data: error 8: unknown"}
    assert _record(ae.StreamError(kind="crossed book", error="KXA: best yes bid 0.56 >= best yes ask 0.55",
                                  markets=("KXA",))) == {
        "event": "STREAM_ERROR", "kind": "crossed book", "error": "KXA: best yes bid 0.56 >= best yes ask 0.55",
        "markets": ["KXA"], "message": "market data: crossed book: KXA: best yes bid 0.56 >= best yes ask 0.55"}


def test_markets_streamed_and_polled():
    assert _record(ae.MarketStreamed(markets=("KXA", "KXB"), streamed=5, wanted=7)) == {
        "event": "MARKET_STREAMED", "markets": ["KXA", "KXB"], "streamed": 5, "wanted": 7,
        "message": "market data: 2 market(s) streamed (5 of 7)"}
    assert _record(ae.MarketPolled(markets=("KXA",), reason="disconnected: closed")) == {
        "event": "MARKET_POLLED", "markets": ["KXA"], "reason": "disconnected: closed",
        "message": "market data: 1 market(s) polled from REST: disconnected: closed"}


def test_the_stream_events_are_documented_and_not_alerts():
    names = {"STREAM_CONNECTED", "STREAM_DISCONNECTED", "STREAM_ERROR", "MARKET_STREAMED", "MARKET_POLLED"}
    assert names <= set(ae.EVENTS) and not names & ae.ALERT_EVENTS
    assert all(ae.REGISTRY[n].LEVEL == "INFO" for n in names)
    assert all(f"| {n} |" in ae.event_table() for n in names)
