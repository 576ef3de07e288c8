"""The venue call budget: at most N calls in any sliding 60-second window (pure)."""
from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(seconds=60)


class CallBudget:
    def __init__(self, calls_per_minute: int) -> None:
        self.limit = calls_per_minute
        self._calls: deque[datetime] = deque()

    def _trim(self, now: datetime) -> None:
        while self._calls and self._calls[0] <= now - WINDOW:
            self._calls.popleft()

    def available(self, now: datetime) -> bool:
        self._trim(now)
        return len(self._calls) < self.limit

    def spend(self, now: datetime) -> None:
        self._trim(now)
        if len(self._calls) >= self.limit:
            raise RuntimeError("call budget exceeded")
        self._calls.append(now)

    def record(self, at: datetime) -> None:
        """Count a call made elsewhere (kept in time order; it may exceed the limit)."""
        self._calls.append(at)
        if len(self._calls) > 1 and self._calls[-2] > at:
            self._calls = deque(sorted(self._calls))

    def next_free(self, now: datetime) -> datetime:
        """When the next call may be made (now if there is room)."""
        self._trim(now)
        if len(self._calls) < self.limit:
            return now
        return self._calls[0] + WINDOW

    def available_for(self, now: datetime, limit: int) -> bool:
        """Room under a lower limit than the budget's own (a share of the same calls)."""
        self._trim(now)
        return len(self._calls) < limit

    def next_free_for(self, now: datetime, limit: int) -> datetime:
        """When the calls in the window drop below `limit`."""
        self._trim(now)
        if len(self._calls) < limit:
            return now
        return self._calls[len(self._calls) - limit] + WINDOW

    def used(self, now: datetime) -> int:
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
