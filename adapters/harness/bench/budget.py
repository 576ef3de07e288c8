"""The venue call budget: reads per minute needed to hold N positions over M markets.

No quote is pushed: every position must poll (wake every 30 s, every 5 s when near a
threshold), the PriceCache answers from its cache while a quote is younger than the TTL
(10 s) and sends what is missing through the RateLimiter. The venue has a quote for every
market. The budget is lifted for the run so the RateLimiter's call_log shows the demand
(what the engine asks for), not the 60 a minute it would be held to; `get_quotes` calls are
counted over whole virtual minutes after a warm-up. A point is within budget when that
demand fits the reads' allowance: the limit (60) less the share reserved for orders. One
position in `urgent_every` is opened 1.5 points above its stop loss so it wakes at the
urgent cadence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable, Sequence

from adapters.harness.bench.engine import without_guards
from adapters.harness.bench.fleet import Spec, Stopwatch, open_positions, quote, read_attr, settle
from config.schema import Config
from models.market import Side

BID, ASK = "0.50", "0.51"
CACHE_BATCH = 100          # tickers per multi-market read: the PriceCache's default max_batch


@dataclass(frozen=True, slots=True)
class BudgetPoint:
    positions: int
    markets: int
    calls_per_minute: float
    analytic_calls_per_minute: float
    evaluations_per_position_minute: float
    wall_s: float              # the whole point: start-up, warm-up and the measured minutes
    realtime_factor: float     # virtual seconds / wall seconds of the measured minutes (>= 1 keeps up live)


@dataclass(frozen=True, slots=True)
class BudgetResult:
    limit_per_minute: int
    read_allowance_per_minute: int      # the limit less the share reserved for orders
    markets: int
    points: tuple[BudgetPoint, ...]
    positions_within_budget: int        # the largest N measured whose read demand fits the allowance
    lower_bound: bool                   # True when even the largest N tried fits
    analytic_positions_within_budget: int | None   # None: the analytic model has no limit in N
    cache_fills_reads: bool             # which PriceCache rule was measured (see cache_fills_reads)


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
    # Demand is counted with the limit lifted, and the daily loss limit too: one position in ten
    # sits 1.5 points above its stop, and at 2,000 positions their marks alone (-$100.52) would trip
    # the breaker and close every position, leaving nothing to poll (a 0.0 reads/min row).
    engine = make_engine(f"budget-{n}", config_override=without_guards(config))
    try:
        now = engine.clock.now()
        for m in range(markets):
            engine.venue.set_quote(quote(f"BUD-M{m:03d}", now, BID, ASK))
        specs = specs_for(n, markets, config, urgent_every)
        open_positions(engine, specs, tag="bud")
        engine.scheduler.run_for(timedelta(seconds=warmup_s))
        start = engine.clock.now()
        evals_before = _evaluations(engine)
        run = Stopwatch()
        engine.scheduler.run_for(timedelta(minutes=minutes))
        settle(engine)
        run_s = run.elapsed
        end = engine.clock.now()
        log = list(engine.system.proxy_attr(engine.system.refs.rate_limiter, "call_log"))
        evals = _evaluations(engine) - evals_before
        still_open = len(engine.repository.open_marks())
        if still_open != n:           # a count over fewer positions than asked would be meaningless
            raise RuntimeError(f"bench: {n - still_open} of {n} positions closed during the budget run")
    finally:
        engine.stop()
    reads = sum(1 for t, method in log if method == "get_quotes" and start < t <= end)
    return BudgetPoint(n, markets, reads / minutes, analytic_calls_per_minute(specs, config, urgent_every),
                       evals / n / minutes, watch.elapsed, minutes * 60 / run_s)


def _evaluations(engine: Any) -> int:
    system = engine.system
    refs = system.proxy_attr(system.refs.supervisor, "positions")
    return sum(read_attr(refs.values(), "evaluations", system.rt.ask_timeout_s))


def cache_fills_reads() -> bool:
    """Whether this PriceCache tops a read up with other stale subscribed markets
    (the change proposed in the performance notes) or reads only the markets that missed."""
    from actors.price_cache import PriceCache

    return bool(getattr(PriceCache, "fills_reads_with_stale_markets", False))


def analytic_calls_per_minute(specs: Sequence[Spec], config: Config, urgent_every: int, *,
                              fills: bool | None = None, max_batch: int = CACHE_BATCH) -> float:
    """Reads a minute by the PriceCache's rule. A market's quote is refreshed once per refresh
    period: the first multiple of its fastest cadence past the TTL (30 s when its positions are
    calm; 15 s with one urgent: 5 s wake-ups, fresh at 5 and 10 s).
    - Misses only (the cache as it is): positions wake at staggered instants (< 1 s apart), so
      each market's refresh is a read of its own: the sum over markets of 60 / period.
    - Filled reads (the patch): the read a miss starts carries up to `max_batch` stale
      subscribed markets, so all are refreshed in ceil(markets / max_batch) reads per period of
      the fastest market."""
    if fills is None:
        fills = cache_fills_reads()
    active = {s.ticker for s in specs}
    urgent = {s.ticker for i, s in enumerate(specs) if _is_urgent(i, urgent_every)}
    if not active:
        return 0.0
    if fills:
        return math.ceil(len(active) / max_batch) * 60 / _refresh_s(config, urgent=bool(urgent))
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
                   minutes: int = 3, refine: bool = True) -> BudgetResult:
    """Measure each N in `sizes`; then, if one fits and a larger one does not, bisect between
    them (demand never falls as N grows) to find the largest N that fits."""
    limit = config.monitoring.max_api_calls_per_minute
    allowance = limit - int(limit * getattr(config.monitoring, "reserved_for_orders_pct", 0) / 100)
    points = {n: measure_point(make_engine, config, n, markets, minutes=minutes) for n in sorted(set(sizes))}

    def largest_fit() -> tuple[int, int | None]:
        best, first_miss = 0, None
        for n in sorted(points):
            if points[n].calls_per_minute > allowance:
                first_miss = n
                break
            best = n
        return best, first_miss

    best, miss = largest_fit()
    while refine and miss is not None and miss - best > 1:
        mid = (best + miss) // 2
        points[mid] = measure_point(make_engine, config, mid, markets, minutes=minutes)
        best, miss = largest_fit()
    lower = miss is None
    analytic = _analytic_limit(markets, allowance, config)
    return BudgetResult(limit, allowance, markets, tuple(points[n] for n in sorted(points)), best, lower, analytic,
                        cache_fills_reads())


def _analytic_limit(markets: int, limit: int, config: Config, urgent_every: int = 10) -> int | None:
    """The largest N whose analytic demand fits `limit`; None when it never stops fitting
    (demand depends on the markets in use, so it stops growing once every market has an
    urgent position)."""
    best = 0
    for n in range(1, markets * urgent_every + 1):
        if analytic_calls_per_minute(specs_for(n, markets, config, urgent_every), config, urgent_every) > limit:
            return best
        best = n
    return None
