"""The least growth exponent the monitoring-heavy replay can have, from its own decisions.

Every decision is an audit event (a project standard), and every position of the
monitoring-heavy workload makes about a dozen: its triggers, routed exits, orders placed and
walked, fills, the close. However cheap everything else were, a replay with n positions costs
at least

    F + n * d * e

F the same replay with no position at all (the quotes alone, measured), d the decisions per
position (counted in the run) and e the cost of the cheapest part of one decision, building its
audit record (measured here, in the same process). Between the smallest and the largest size
that bounds k (wall ∝ positions^k) from below:

    k >= log((F + n1*d1*e) / (F + n0*d0*e)) / log(n1 / n0)

The bound leaves out every other per-position cost (messages, evaluations, the database, each
order's durable write-down), so the measured k is above it. It is a bound for an engine whose
quote path costs F and which records every decision: a cost that does not grow with the
positions (a slower quote path, a fixed cost per run) would lower k below it, so a lower k needs
a larger fixed part, not a faster engine. The decisions counted are those made inside the wall
time measured (not while positions are being opened, whose time wall_s leaves out).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from models.market import Side
from models.orders import TimeInForce


@dataclass(frozen=True, slots=True)
class GrowthFloor:
    quotes_only_s: float            # F
    record_us: float                # e, microseconds
    decisions_per_position: dict[int, float]   # d at each size
    k_floor: float | None


def audit_record_cost_s(samples: int = 20_000) -> float:
    """Seconds per Audit.emit of a typical decision (an exit order placed), as the engine emits."""
    from actors.clock import VirtualClock
    from adapters.audit.log import Audit
    from adapters.harness.bench.engine import START
    from models import audit_events as ae

    audit = Audit(VirtualClock(START))
    event = ae.OrderPlaced(position_id="bench-00001", market="KXNBAGAME-25NOV22LACCHA-LAC", exit_id="x-1",
                           client_order_id="x-1-1", price=Decimal("0.4100"), previous_price=None, contracts=10,
                           time_in_force=TimeInForce.IOC, condition="stop_loss", priority="CRITICAL", held=Side.YES)
    audit.emit(event)
    start = time.perf_counter()
    for _ in range(samples):
        audit.emit(event)
    return (time.perf_counter() - start) / samples


def growth_floor(quotes_only_s: float, record_s: float, decisions: dict[int, float]) -> GrowthFloor:
    """`decisions`: positions -> decisions per position, for each monitoring size measured."""
    k = None
    if len(decisions) >= 2:
        n0, n1 = min(decisions), max(decisions)
        low = quotes_only_s + n0 * decisions[n0] * record_s
        high = quotes_only_s + n1 * decisions[n1] * record_s
        if low > 0 and n1 > n0:
            k = math.log(high / low) / math.log(n1 / n0)
    return GrowthFloor(quotes_only_s, record_s * 1e6, dict(decisions), k)


def counting_decisions(audit: Any) -> list[int]:
    """Wrap `audit.emit` to count decisions (every event but the periodic heartbeat and the
    start-up steps); returns the one-element counter it adds to."""
    from models import audit_events as ae

    count = [0]
    emit = audit.emit
    periodic = (ae.Heartbeat, ae.EngineStartup)

    def counted(event: Any) -> Any:
        if not isinstance(event, periodic):
            count[0] += 1
        return emit(event)

    audit.emit = counted
    return count
