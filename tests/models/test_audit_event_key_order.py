"""Records keep the key order their emit sites always wrote (a record is the very line it was)."""
from __future__ import annotations

from datetime import datetime, timezone

from models import audit_events as ae

TS = datetime(2026, 1, 6, 5, 0, tzinfo=timezone.utc)


def test_the_day_end_breaker_reset_writes_reason_by_day():
    event = ae.CircuitBreakerReset(reason="daily loss -$51.00", by="day_end", day="2026-01-05",
                                   why="the trading day 2026-01-05 ended (America/New_York)")
    record = ae.to_record(event, TS)
    assert list(record) == ["ts", "event", "reason", "by", "day", "message"]
    assert record["message"] == "CIRCUIT BREAKER reset: the trading day 2026-01-05 ended (America/New_York); entries resume"
    assert ae.parse(record) == event


def test_the_operator_breaker_reset_keeps_the_field_order():
    event = ae.CircuitBreakerReset(reason="daily loss -$51.00", kind="daily_loss", day="2026-01-05", by="operator")
    assert list(ae.to_record(event, TS)) == ["ts", "event", "reason", "kind", "day", "by", "message"]
