"""Issue 14, time bands (models/time_band.py): the moments a quiet position may sleep until.

- `volume_low_at` is the first moment the recent volume (models/liquidity.recent_volume) is known
  and below the floor, if no sample comes: checked against recent_volume itself at that moment,
  just before it and at every moment a sample leaves the window before it; the bisection for
  monotone samples agrees with the scan; and a later sample whose volume is not lower never
  brings the moment forward (what lets a quiet position sleep past quotes it is not sent).
- `quiet_until`: evaluating the same quote (its recent volume re-stamped) at any moment before it
  fires exactly what it fires now, with the model just as fresh.
- the grid helpers: `last_tick_before` and `time_band_wake`.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from config.loader import load_config
from models.exit_rules import ExitContext, evaluate_exits, model_is_fresh
from models.liquidity import recent_volume
from models.market import Quote, Side
from models.pnl import mark_position
from models.position import PositionState
from models.time_band import last_tick_before, quiet_until, time_band_wake, volume_low_at

CONFIG = load_config(None)
T0 = datetime(2025, 11, 22, 18, 0, tzinfo=timezone.utc)
W = timedelta(seconds=300)


@st.composite
def sample_lists(draw, monotone: bool = False):  # type: ignore[no-untyped-def]
    n = draw(st.integers(0, 25))
    ts, v, out = T0, draw(st.integers(0, 1000)), []
    for _ in range(n):
        ts += timedelta(seconds=draw(st.integers(1, 200)))
        v = v + draw(st.integers(0, 120)) if monotone else max(0, v + draw(st.integers(-80, 120)))
        out.append((ts, v))
    return out


def low(samples, t, floor):  # type: ignore[no-untyped-def]
    r = recent_volume(samples, t, W)
    return r is not None and r < floor


@settings(max_examples=300, deadline=None)
@given(sample_lists(), st.integers(0, 5000), st.integers(0, 120))
def test_volume_low_at_is_the_first_moment_the_recent_volume_is_below_the_floor(samples, after, floor):
    now = (samples[0][0] if samples else T0) + timedelta(seconds=after)
    at = volume_low_at(samples, now, W, floor)
    moments = [now] + [ts + W for ts, _ in samples if ts + W > now]
    if at is None:
        assert not any(low(samples, t, floor) for t in moments)
        return
    assert at >= now and low(samples, at, floor)
    assert not any(low(samples, t, floor) for t in moments if t < at)
    if at > now:
        assert not low(samples, at - timedelta(microseconds=1), floor)


@settings(max_examples=300, deadline=None)
@given(sample_lists(monotone=True), st.integers(0, 5000), st.integers(0, 120), st.integers(0, 300), st.integers(0, 200))
def test_monotone_samples_bisect_alike_and_a_new_sample_never_brings_it_forward(samples, after, floor, gap, more):
    now = (samples[0][0] if samples else T0) + timedelta(seconds=after)
    at = volume_low_at(samples, now, W, floor, monotone=True)
    assert at == volume_low_at(samples, now, W, floor)
    if samples and at is not None:
        later = samples + [(max(samples[-1][0], now) + timedelta(seconds=gap + 1), samples[-1][1] + more)]
        again = volume_low_at(later, now, W, floor, monotone=True)
        assert again is not None and again >= at


@st.composite
def quiet_cases(draw):  # type: ignore[no-untyped-def]
    side = draw(st.sampled_from([Side.YES, Side.NO]))
    entry = Decimal(draw(st.integers(30, 70))) / 100
    state = PositionState(position_id="p", ticker="T", side=side, signal_type="default", sport="nba", game_id=None,
                          entry_price=entry, initial_contracts=10, contracts=10, entry_fees=Decimal(0), opened_at=T0)
    samples = draw(sample_lists(monotone=True))
    now = T0 + timedelta(seconds=draw(st.integers(0, 4000)))
    samples = [s for s in samples if s[0] <= now]
    close = now + timedelta(minutes=draw(st.integers(1, 120))) if draw(st.booleans()) else None
    mid = draw(st.integers(20, 80))
    q = Quote("T", now, Decimal(mid) / 100, Decimal(mid + 1) / 100, close_time=close, volume=samples[-1][1] if samples else None)
    prob = Decimal(draw(st.integers(0, 100))) / 100 if draw(st.booleans()) else None
    ts = now - timedelta(seconds=draw(st.integers(0, 300))) if prob is not None else None
    return state, q, samples, now, ExitContext(model_probability=prob, model_probability_ts=ts)


def stamped(q, samples, t):  # type: ignore[no-untyped-def]
    return dataclasses.replace(q, ts=t, recent_volume=recent_volume(samples, t, W),
                               volume_low_at=volume_low_at(samples, t, W, CONFIG.liquidity.min_volume))


@settings(max_examples=300, deadline=None)
@given(quiet_cases(), st.lists(st.integers(0, 10_000), min_size=1, max_size=8))
def test_nothing_changes_before_quiet_until(case, offsets):
    state, q, samples, now, context = case
    quote = stamped(q, samples, now)
    state = mark_position(state, quote, now, CONFIG)
    verdict = evaluate_exits(state, quote, now, CONFIG, context)
    until = quiet_until(state, quote, now, CONFIG, context)
    fresh = model_is_fresh(context.model_probability_ts, now, CONFIG, state.sport)
    for off in offsets:
        t = now + timedelta(seconds=off)
        if until is not None and t >= until:
            continue
        assert evaluate_exits(state, stamped(q, samples, t), t, CONFIG, context) == verdict
        assert model_is_fresh(context.model_probability_ts, t, CONFIG, state.sport) == fresh


@given(st.integers(0, 10_000), st.integers(1, 120), st.integers(0, 100_000))
def test_last_tick_before_is_the_last_tick_of_the_grid_before_now(start, every, later):
    last, interval, now = T0 + timedelta(seconds=start), timedelta(seconds=every), T0 + timedelta(seconds=later)
    tick = last_tick_before(last, interval, now)
    if now <= last:
        assert tick == last
        return
    assert tick < now <= tick + interval and (tick - last) % interval == timedelta(0) and tick >= last


@given(st.integers(0, 3000), st.one_of(st.none(), st.integers(-100, 3000)))
def test_time_band_wake_is_after_the_next_tick_and_never_past_until_or_the_cap(start, until_s):
    last, interval, cap = T0 + timedelta(seconds=start), timedelta(seconds=30), timedelta(minutes=10)
    until = None if until_s is None else last + timedelta(seconds=until_s)
    wake = time_band_wake(last, interval, until, cap)
    if wake is None:
        assert min(until or last + cap, last + cap) <= last + interval
    else:
        assert last + interval < wake <= last + cap and (until is None or wake <= until)
