"""Retry delays, pure: one formula per kind of wait, shared by every caller.

- `lookup_delay_secs(n)`: between look-ups of an order whose state is unknown (the executor's
  exits, the EntryManager's entries): 1 s, 2 s, 4 s ... doubling, at most 60 s.
- `jittered_delay_secs(base, attempt, draw)`: a retry after a failure (the RateLimiter's venue
  calls, an alert channel's deliveries): base × 2^attempt × (0.5 + draw), `draw` in [0, 1) from the
  caller's seeded random source, so processes do not retry in step.
- `give_up_cooldown_secs(n, cap, protects_capital)`: how long the ExitRouter holds a condition
  whose exit gave up for the n-th time in a row: a capital-protection exit (stop loss, circuit
  breaker, trailing stop, time exit) 15 s, 30 s, 60 s ... doubling up to `cap`; any other the
  whole `cap` (120 s). A loss keeps growing while a stop waits; a LOW exit can wait.
"""
from __future__ import annotations

LOOKUP_DELAY_CAP_SECS = 60


def lookup_delay_secs(lookups: int) -> int:
    return min(LOOKUP_DELAY_CAP_SECS, 2 ** min(lookups, 6))


def jittered_delay_secs(base_secs: float, attempt: int, draw: float) -> float:
    # Callers cap the result; the exponent is bounded so a long outage (2**1024 overflows a
    # float) still computes its delay.
    return base_secs * (2 ** min(attempt, 30)) * (0.5 + draw)


CAPITAL_RETRY_FIRST_SECS = 15


def give_up_cooldown_secs(give_ups_in_a_row: int, cap_secs: float, protects_capital: bool) -> float:
    if not protects_capital:
        return cap_secs
    return min(cap_secs, CAPITAL_RETRY_FIRST_SECS * 2 ** min(max(give_ups_in_a_row, 1) - 1, 30))
