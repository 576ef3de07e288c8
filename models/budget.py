"""The venue call budget: at most N calls in any sliding 60-second window (pure).

A "call" is one request the venue sees: a Kalshi list read page by page or a retried 429 is
several (the RateLimiter hands the venue a request gate that spends one slot per request).
The budget is locked, since that gate runs on the venue's I/O thread while its owner waits.
"""
from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(seconds=60)


class CallBudget:
    def __init__(self, calls_per_minute: int) -> None:
        self.limit = calls_per_minute
        self._calls: deque[datetime] = deque()
        self._lock = threading.RLock()

    def try_spend_for(self, now: datetime, limit: int) -> bool:
        """Spend one call now if fewer than `limit` are in the window (atomic); False if not."""
        with self._lock:
            if not self.available_for(now, limit):
                return False
            self._calls.append(now)
            return True

    def _trim(self, now: datetime) -> None:
        with self._lock:
            while self._calls and self._calls[0] <= now - WINDOW:
                self._calls.popleft()

    def available(self, now: datetime) -> bool:
        with self._lock:
            self._trim(now)
            return len(self._calls) < self.limit

    def spend(self, now: datetime) -> None:
        with self._lock:
            self._trim(now)
            if len(self._calls) >= self.limit:
                raise RuntimeError("call budget exceeded")
            self._calls.append(now)

    def record(self, at: datetime) -> None:
        """Count a call made elsewhere (kept in time order; it may exceed the limit)."""
        with self._lock:
            self._calls.append(at)
            if len(self._calls) > 1 and self._calls[-2] > at:
                self._calls = deque(sorted(self._calls))

    def next_free(self, now: datetime) -> datetime:
        """When the next call may be made (now if there is room)."""
        with self._lock:
            self._trim(now)
            if len(self._calls) < self.limit:
                return now
            return self._calls[0] + WINDOW

    def available_for(self, now: datetime, limit: int) -> bool:
        """Room under a lower limit than the budget's own (a share of the same calls)."""
        with self._lock:
            self._trim(now)
            return len(self._calls) < limit

    def next_free_for(self, now: datetime, limit: int) -> datetime:
        """When the calls in the window drop below `limit`."""
        with self._lock:
            self._trim(now)
            if len(self._calls) < limit:
                return now
            return self._calls[len(self._calls) - limit] + WINDOW

    def used(self, now: datetime) -> int:
        with self._lock:
            self._trim(now)
            return len(self._calls)


def max_calls_in_any_window(times: list[datetime]) -> int:
    """The largest number of calls in any sliding 60 s window (for invariant checks)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - WINDOW:
            start += 1
        best = max(best, end - start + 1)
    return best
