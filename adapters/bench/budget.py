"""The venue call budget: reads per minute needed to hold N positions over M markets.

No quote is pushed: every position must poll (wake every 30 s, every 5 s when near a
threshold), the PriceCache answers from its cache while a quote is younger than the TTL
(10 s) and sends what is missing through the RateLimiter. The venue has a quote for every
market. The budget is lifted for the run so the RateLimiter's call_log shows the demand
(what the engine asks for), not the 60 a minute it would be held to; `get_quotes` calls are
counted over whole virtual minutes after a warm-up. One position in `urgent_every` is opened
1.5 points above its stop loss so it wakes at the urgent cadence.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable, Sequence

from adapters.bench.engine import UNLIMITED_CALLS, with_call_limit
from adapters.bench.fleet import Spec, Stopwatch, open_positions, quote, settle
from config.schema import Config
from models.market import Side

BID, ASK = "0.50", "0.51"


@dataclass(frozen=True, slots=True)
class BudgetPoint:
    positions: int
    markets: int
    calls_per_minute: float
    analytic_calls_per_minute: float
    evaluations_per_position_minute: float
    wall_s: float


@dataclass(frozen=True, slots=True)
class BudgetResult:
    limit_per_minute: int
    markets: int
    points: tuple[BudgetPoint, ...]
    positions_within_budget: int        # the largest N measured whose demand fits the limit
    lower_bound: bool                   # True when even the largest N tried fits
    analytic_positions_within_budget: int | None   # None: the analytic model has no limit in N


def specs_for(n: int, markets: int, config: Config, urgent_every: int) -> list[Spec]:
    """n positions round-robin over the markets, sides alternating, most at 0% P&L."""
    stop = config.signal_type("default").stop_loss_pct
    out = []
    for i in range(n):
        m = i % markets
        side = Side.YES if (i // markets) % 2 == 0 else Side.NO
        bid = Decimal(BID) if side is Side.YES else 1 - Decimal(ASK)
        entry = bid
        if _is_urgent(i, urgent_every):
            # P&L = -(stop - 1.5)%: inside the urgent band, not yet a stop loss
            entry = (bid / (1 - (stop - Decimal("1.5")) / 100)).quantize(Decimal("0.0001"))
        out.append(Spec(f"bud-{i:05d}", f"BUD-M{m:03d}", side, entry))
    return out


def measure_point(make_engine: Callable[..., Any], config: Config, n: int, markets: int, *,
                  warmup_s: int = 60, minutes: int = 3, urgent_every: int = 10) -> BudgetPoint:
    watch = Stopwatch()
    engine = make_engine(f"budget-{n}", config_override=with_call_limit(config, UNLIMITED_CALLS))
    try:
        now = engine.clock.now()
        for m in range(markets):
            engine.venue.set_quote(quote(f"BUD-M{m:03d}", now, BID, ASK))
        specs = specs_for(n, markets, config, urgent_every)
        open_positions(engine, specs, tag="bud")
        engine.scheduler.run_for(timedelta(seconds=warmup_s))
        start = engine.clock.now()
        evals_before = _evaluations(engine)
        engine.scheduler.run_for(timedelta(minutes=minutes))
        settle(engine)
        end = engine.clock.now()
        log = list(engine.system.proxy_attr(engine.system.refs.rate_limiter, "call_log"))
        evals = _evaluations(engine) - evals_before
    finally:
        engine.stop()
    reads = sum(1 for t, method in log if method == "get_quotes" and start < t <= end)
    return BudgetPoint(n, markets, reads / minutes, analytic_calls_per_minute(specs, config, urgent_every),
                       evals / n / minutes, watch.elapsed)


def _evaluations(engine: Any) -> int:
    system = engine.system
    refs = system.proxy_attr(system.refs.supervisor, "positions")
    futures = [ref.proxy().evaluations for ref in refs.values()]
    return sum(f.get(timeout=system.rt.ask_timeout_s) for f in futures)


def analytic_calls_per_minute(specs: Sequence[Spec], config: Config, urgent_every: int) -> float:
    """Reads a minute by the PriceCache's rule: a market is read when one of its positions wakes
    and its cached quote is older than the TTL; every position's wake-ups fall in the same
    second of each cycle (the stagger is < 1 s), so a market is read once per refresh period:
    the first multiple of the cadence past the TTL (30 s normal; 15 s when a position of it is
    urgent: 5 s wake-ups, fresh at 5 and 10 s)."""
    active = {s.ticker for s in specs}
    urgent = {s.ticker for i, s in enumerate(specs) if _is_urgent(i, urgent_every)}
    return (len(active - urgent) * 60 / _refresh_s(config, urgent=False)
            + len(urgent) * 60 / _refresh_s(config, urgent=True))


def _is_urgent(i: int, urgent_every: int) -> bool:
    return bool(urgent_every) and i % urgent_every == urgent_every - 1


def _refresh_s(config: Config, *, urgent: bool) -> float:
    m = config.monitoring
    cadence = float(m.urgent_interval_secs if urgent else m.normal_interval_secs)
    ttl = float(m.price_cache_ttl_secs)
    k = 1
    while cadence * k <= ttl:
        k += 1
    return cadence * k


def measure_budget(make_engine: Callable[..., Any], config: Config, sizes: Sequence[int], *, markets: int = 100,
                   minutes: int = 3) -> BudgetResult:
    limit = config.monitoring.max_api_calls_per_minute
    points = []
    for n in sizes:
        points.append(measure_point(make_engine, config, n, markets, minutes=minutes))
    best = 0
    for p in sorted(points, key=lambda p: p.positions):   # the largest N below the first that does not fit
        if p.calls_per_minute > limit:
            break
        best = p.positions
    lower = bool(points) and best == max(p.positions for p in points)
    analytic = _analytic_limit(markets, limit, config)
    return BudgetResult(limit, markets, tuple(points), best, lower, analytic)


def _analytic_limit(markets: int, limit: int, config: Config, urgent_every: int = 10) -> int | None:
    """The largest N whose analytic demand fits `limit`; None when it never stops fitting."""
    best = 0
    for n in range(1, markets * urgent_every * 2 + 1):
        if analytic_calls_per_minute(specs_for(n, markets, config, urgent_every), config, urgent_every) > limit:
            return best
        best = n
    return None
