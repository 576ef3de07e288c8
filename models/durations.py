"""Durations from configuration seconds (Decimal), exactly: no float on the way."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal


def seconds(value: Decimal | int) -> timedelta:
    return timedelta(microseconds=int(Decimal(value) * 1_000_000))
