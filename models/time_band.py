"""Time bands (issue 14): the cadence ticks a quiet position may sleep through.

A position holding a quiet band (models/exit_band.py) is sent only the quotes that leave it. Its
cadence ticks (every `normal_interval_secs` after its last evaluation) re-evaluate the same quote
stamped "now"; such a tick can change a verdict only through an input that moves with the clock
alone:
- time_based_urgent becomes due at close_time - minutes_before_close (the position already wakes
  exactly there);
- the model probability grows too old (model_is_fresh flips at its ts + max_model_age_secs): the
  edge rules stop and MODEL_STALE is said at the first evaluation from then on;
- the recent volume (models/liquidity.recent_volume) falls as samples leave its window: the
  PriceCache stamps each quote with `volume_low_at`, the first moment it falls below
  liquidity.min_volume if no new sample came (`volume_low_at` below). A new sample whose lifetime
  volume is not below the last one never brings that moment forward (the recent volume at every
  moment can only grow): the cache forwards a quote whose volume went down as a change.
Cooldowns, a restart's hot period and everything else that is not quiet give no band at all.

`quiet_until` is the earliest of those moments: every tick strictly before it evaluates with
nothing firing and nothing said. A banded position wakes at `time_band_wake` instead of its next
tick, and whatever wakes it first catches up with `last_tick_before`: the last tick that would
have run (the grid restarts at every evaluation, also at the quotes the band held back, which the
cache reports in BandReleased), so every later decision sees the same last evaluation time.
`QUIET_MAX` caps a quiet stretch, so the saved mark (the database's current_price) is never older
than that while the position is open.
"""
from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from typing import Sequence

from config.schema import Config
from models.durations import seconds
from models.exit_rules import ExitContext
from models.market import Quote
from models.position import PositionState

QUIET_MAX = timedelta(minutes=10)    # the longest a banded position sleeps without a wake-up


def volume_low_at(samples: Sequence[tuple[datetime, int]], now: datetime, window: timedelta,
                  min_volume: int, monotone: bool = False) -> datetime | None:
    """The first moment at or after `now` at which recent_volume(samples, moment, window) is known
    and below `min_volume`, if no sample is added; None: never. It changes only when a sample
    leaves the window (at its ts + window). `monotone`: the samples' volumes never go down (then a
    bisection finds it; otherwise every sample is looked at)."""
    if not samples or min_volume <= 0:
        return None
    last = samples[-1][1]
    start = now - window
    i, base = 0, None
    for ts, volume in samples:          # the base at `now` (samples are trimmed: a few steps)
        if ts > start:
            break
        base = volume
        i += 1
    if base is not None and max(last - base, 0) < min_volume:
        return now
    # After `now` the base becomes sample k at samples[k].ts + window, and the recent volume is
    # max(last - volume_k, 0) < min_volume exactly when volume_k > last - min_volume.
    over = last - min_volume
    if monotone:
        k = bisect_right(samples, over, lo=i, key=lambda s: s[1])
    else:
        k = next(j for j in range(i, len(samples)) if samples[j][1] > over)   # the last one always is
    return samples[k][0] + window


def quiet_until(state: PositionState, quote: Quote | None, now: datetime, config: Config,
                context: ExitContext) -> datetime | None:
    """The first moment a time-only input can change the verdict of evaluating `quote` unchanged
    (see the module docstring); None: none ever does."""
    times = []
    close = (quote.close_time if quote is not None else None) or state.close_time
    if close is not None:
        times.append(close - seconds(config.time_based_urgent.minutes_before_close * 60))
    ts = context.model_probability_ts
    if context.model_probability is not None and ts is not None:
        stale_at = ts + seconds(config.max_model_age_secs(state.sport))
        if stale_at >= now:          # already stale: said at this evaluation, nothing more to come
            times.append(stale_at)
    if quote is not None and quote.volume_low_at is not None:
        times.append(quote.volume_low_at)
    return min(times) if times else None


def time_band_wake(last_eval: datetime, interval: timedelta, until: datetime | None,
                   cap: timedelta = QUIET_MAX) -> datetime | None:
    """When a banded position evaluated at `last_eval` next wakes: `until` (at most `cap` later)
    when that is after its next tick; None: at its next tick, as without a time band."""
    end = last_eval + cap if until is None else min(until, last_eval + cap)
    return end if end > last_eval + interval else None


def last_tick_before(last_eval: datetime, interval: timedelta, now: datetime) -> datetime:
    """The last tick of the grid last_eval + k * interval (k >= 0) strictly before `now`."""
    if now <= last_eval:
        return last_eval
    k = (now - last_eval) // interval
    if last_eval + k * interval >= now:
        k -= 1
    return last_eval + k * interval


__all__ = ["QUIET_MAX", "last_tick_before", "quiet_until", "time_band_wake", "volume_low_at"]
