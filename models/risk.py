"""The circuit breaker's arithmetic, pure: the trading day, the day's loss, the failure rate.

The trading day runs from midnight to midnight in the configured time zone
(`circuit_breaker.day_timezone`, UTC by default); a trip holds until the next midnight there.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo


def trading_day(ts: datetime, tz: ZoneInfo) -> date:
    return ts.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in `tz`, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def next_day_start(ts: datetime, tz: ZoneInfo) -> datetime:
    return day_start(trading_day(ts, tz) + timedelta(days=1), tz)


def daily_loss_breached(realized: Decimal, unrealized: Decimal, limit: Decimal) -> bool:
    """The day's realized P&L plus the open positions' unrealized P&L at their marks is a loss
    of at least `limit` dollars."""
    return realized + unrealized <= -limit


def failure_rate_breached(calls: int, failures: int, min_calls: int, rate_pct: Decimal) -> bool:
    """At least `min_calls` venue calls in the window and at least `rate_pct`% of them failed."""
    return calls >= min_calls and failures * 100 >= rate_pct * calls
