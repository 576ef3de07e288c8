"""Retry delays, pure: one formula per kind of wait, shared by every caller.

- `lookup_delay_secs(n)`: between look-ups of an order whose state is unknown (the executor's
  exits, the EntryManager's entries): 1 s, 2 s, 4 s ... doubling, at most 60 s.
- `jittered_delay_secs(base, attempt, draw)`: a retry after a failure (the RateLimiter's venue
  calls, an alert channel's deliveries): base × 2^attempt × (0.5 + draw), `draw` in [0, 1) from the
  caller's seeded random source, so processes do not retry in step.
"""
from __future__ import annotations

LOOKUP_DELAY_CAP_SECS = 60


def lookup_delay_secs(lookups: int) -> int:
    return min(LOOKUP_DELAY_CAP_SECS, 2 ** min(lookups, 6))


def jittered_delay_secs(base_secs: float, attempt: int, draw: float) -> float:
    # Callers cap the result; the exponent is bounded so a long outage (2**1024 overflows a
    # float) still computes its delay.
    return base_secs * (2 ** min(attempt, 30)) * (0.5 + draw)
