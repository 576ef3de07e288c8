"""Live start-up: no trading until reconciliation has compared our holdings with the venue's.

When the venue cannot be reached at start (or answers errors), start-up reconciliation ends with
"holdings not compared": the database may hold positions the venue no longer has, or miss fills
an earlier process left behind, and trading on it could double a position or sell what is gone.
`reconcile_until_compared` runs reconciliation again with exponential back-off (equal jitter,
1 s doubling to at most 60 s) until it has read and compared the venue's positions; every failed
try is an ALERT in the audit log naming the next retry. It gives up (returns None) when the run's
deadline passes or the operator interrupts, and the caller then never starts trading.
"""
from __future__ import annotations

import random
import threading
from datetime import datetime
from typing import Any, Callable

from loguru import logger

from models import audit_events as ae

BACKOFF_BASE_SECS = 1.0
BACKOFF_CAP_SECS = 60.0


def backoff_delay(failures: int, rng: random.Random, *, base: float = BACKOFF_BASE_SECS,
                  cap: float = BACKOFF_CAP_SECS) -> float:
    """Seconds to wait after the `failures`-th failed try: half of min(cap, base * 2**(n-1)),
    plus up to as much again at random."""
    ceiling = min(cap, base * 2 ** (failures - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def reconcile_until_compared(run_once: Callable[[], Any], audit: Any, now: Callable[[], datetime], *,
                             deadline: datetime | None = None, stop: threading.Event | None = None,
                             rng: random.Random | None = None) -> Any | None:
    """`run_once()` (a reconciliation returning a ReconcileReport) until its holdings_compared;
    the report, or None when the deadline passed or `stop` was set (or Ctrl-C) first."""
    rng = rng or random.Random()
    stop = stop or threading.Event()
    failures = 0
    while True:
        report = run_once()
        if report.holdings_compared:
            if failures:
                audit.emit(ae.Alert(said=f"ALERT start-up: holdings compared after {failures} failed tries; trading "
                                         "starts", failed_tries=failures))
            return report
        failures += 1
        delay = backoff_delay(failures, rng)
        left = (deadline - now()).total_seconds() if deadline is not None else None
        if left is not None and left <= delay:
            audit.emit(ae.Alert(said="ALERT start-up: the venue's holdings could not be compared before the run's "
                                     "end; not trading", failed_tries=failures))
            return None
        audit.emit(ae.Alert(said=f"ALERT start-up: venue unreachable, holdings not compared: not trading; retry in "
                                 f"{delay:.1f}s", failed_tries=failures, retry_in_secs=round(delay, 1)))
        logger.warning("the venue's holdings could not be compared (try {}); not trading, retry in {:.1f}s",
                       failures, delay)
        try:
            if stop.wait(delay):
                return None
        except KeyboardInterrupt:
            return None


def reconcile_before_trading(venue: Any, repository: Any, audit: Any, clock: Any, *, budget: Any,
                             wait: Callable[[datetime], None], deadline: datetime | None = None,
                             stop: threading.Event | None = None) -> Any | None:
    """Start-up reconciliation (adapters/engine/reconcile.py) under one call budget, until it has compared
    the holdings. The report's call_times hold every request of every try (hand them to the
    RateLimiter: same budget). None: never compared, do not trade."""
    from adapters.engine.reconcile import reconcile

    spent: list[datetime] = []

    def once() -> Any:
        report = reconcile(venue, repository, audit, clock, budget=budget, wait=wait)
        spent.extend(report.call_times)
        return report

    report = reconcile_until_compared(once, audit, clock.now, deadline=deadline, stop=stop)
    if report is not None:
        report.call_times = spent
    return report
