"""Issue 14, the honesty test: delivering a quote only when it leaves the position's quiet band
gives exactly the exits of evaluating every quote.

Each example is a random position (side, entry, stop basis, signal type, size, stages already
done, a model probability that may go stale on the way, partial exits on or off) and a random
path of quotes (a walk in cents with jumps and sub-cent prices, no-bid quotes on either side,
wide spreads, quotes where only the sizes change, recent volume drying up, a close time that
arrives or moves). Two copies run side by side over the same path:
- the twin marks and evaluates every quote (what the PositionActor does today);
- the banded copy evaluates a quote only when `QuietBand.leaves(quote)` (no band: every quote).
A trigger sells at once (the whole exit, sized as evaluate_exits sized it). The exits (reason,
time, mark, contracts) must be equal, and every quote the banded copy skipped must be one on
which the twin fired nothing, moved no peak, trailing stop, stage or count, and was not near a
threshold (so its wake-up cadence is the same).
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import load_config
from models.exit_band import QuietBand, quiet_band
from models.exit_rules import ExitContext, evaluate_exits, near_threshold
from models.market import Quote, Side
from models.pnl import mark_position
from models.position import PositionState

CONFIG = load_config(None)
T0 = datetime(2025, 11, 22, 18, 0, tzinfo=timezone.utc)
CENT = Decimal("0.01")


def config_for(partials: bool, min_volume: int):  # type: ignore[no-untyped-def]
    return dataclasses.replace(
        CONFIG, partial_exits=dataclasses.replace(CONFIG.partial_exits, enabled=partials),
        liquidity=dataclasses.replace(CONFIG.liquidity, min_volume=min_volume))


@st.composite
def paths(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(5, 120))
    mid = draw(st.integers(5, 95))
    close = T0 + timedelta(minutes=draw(st.integers(3, 60))) if draw(st.booleans()) else None
    ts, out = T0, []
    for _ in range(n):
        ts += timedelta(seconds=draw(st.integers(0, 120)), microseconds=draw(st.sampled_from([0, 0, 1, 500000])))
        kind = draw(st.sampled_from(["walk"] * 6 + ["jump", "size", "no_yes_bid", "no_yes_ask", "wide", "close",
                                                     "subcent"]))
        if kind == "walk":
            mid = min(98, max(2, mid + draw(st.sampled_from([-2, -1, -1, 0, 0, 0, 1, 1, 2]))))
        elif kind == "jump":
            mid = draw(st.integers(2, 98))
        bid, ask = Decimal(mid) * CENT, Decimal(mid + 1) * CENT
        if kind == "wide":
            bid = max(Decimal(0), bid - draw(st.integers(2, 8)) * CENT)
        if kind == "subcent":
            bid += Decimal(draw(st.integers(1, 99))) / 10000
        if kind == "no_yes_bid":
            bid = None
        if kind == "no_yes_ask":
            ask = None
        if kind == "close":
            close = ts + timedelta(minutes=draw(st.integers(1, 30)))
        size = draw(st.sampled_from([None, 5, 50, 500])) if kind in ("size", "walk") else None
        volume = draw(st.sampled_from([None, 0, 10, 49, 50, 500, 5000]))
        out.append(Quote("M", ts, bid, ask, yes_bid_size=size, yes_ask_size=size, close_time=close,
                         recent_volume=volume))
    return out


@st.composite
def positions(draw):  # type: ignore[no-untyped-def]
    side = draw(st.sampled_from([Side.YES, Side.NO]))
    # round entries put thresholds on whole cents (0.50: stop 0.44, urgent from 0.45), where a walk lands exactly
    entry = draw(st.sampled_from([Decimal("0.20"), Decimal("0.25"), Decimal("0.40"), Decimal("0.50"), Decimal("0.60"),
                                  Decimal("0.75"), Decimal("0.80")])) if draw(st.booleans()) else \
        Decimal(draw(st.integers(5, 95))) * CENT + Decimal(draw(st.sampled_from([0, 0, 25, 55]))) / 10000
    basis = draw(st.sampled_from([None, entry, entry - 2 * CENT, entry - 3 * CENT]))
    contracts = draw(st.integers(1, 200))
    stages = draw(st.integers(0, 2))
    state = PositionState(
        position_id="p", ticker="M", side=side, signal_type=draw(st.sampled_from(["default", "momentum",
                                                                                  "model_edge"])),
        sport="nba", game_id=None, entry_price=entry, initial_contracts=contracts, contracts=contracts,
        entry_fees=Decimal(0), opened_at=T0, stop_basis=basis, partial_stages_done=stages)
    prob = draw(st.sampled_from([None, Decimal("0.3"), Decimal("0.55"), Decimal("0.8"), Decimal("0.97")]))
    age = timedelta(seconds=draw(st.integers(-600, 100)))       # fresh for a while, then stale
    context = ExitContext(model_probability=prob, model_probability_ts=None if prob is None else T0 + age)
    return state, context


def _sell(state: PositionState, trigger) -> PositionState:  # type: ignore[no-untyped-def]
    changes = dict(contracts=state.contracts - trigger.contracts)
    if trigger.stage is not None:
        changes["partial_stages_done"] = trigger.stage + 1
    return state.replace(**changes)


DECIDING = ("peak_price", "trailing_stop_active", "trailing_stop_price", "partial_stages_done", "contracts",
            "close_time")


def run_both(state: PositionState, context: ExitContext, quotes: list[Quote], config) -> tuple[list, list, int]:  # type: ignore[no-untyped-def]
    twin, banded = state, state
    band: QuietBand | None = None
    twin_exits, banded_exits, skipped = [], [], 0
    for q in quotes:
        now = q.ts
        if twin.contracts > 0:
            twin = mark_position(twin, q, now, config)
            fired = evaluate_exits(twin, q, now, config, context)
            if fired:
                twin_exits.append((fired[0].condition, now, twin.current_price, fired[0].contracts))
                twin = _sell(twin, fired[0])
        if banded.contracts <= 0:
            continue
        if band is not None and not band.leaves(q):
            skipped += 1
            assert not fired, f"skipped a quote that fires {fired[0].condition}: {q}"
            assert not near_threshold(twin, config), f"skipped a quote near a threshold: {q}"
            for name in DECIDING:
                assert getattr(twin, name) == getattr(banded, name), f"skipped a quote that moves {name}: {q}"
            continue
        banded = mark_position(banded, q, now, config)
        found = evaluate_exits(banded, q, now, config, context)
        if found:
            banded_exits.append((found[0].condition, now, banded.current_price, found[0].contracts))
            banded = _sell(banded, found[0])
            band = None
        else:
            band = quiet_band(banded, q, now, config, context)
    return twin_exits, banded_exits, skipped


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(positions(), paths(), st.booleans(), st.sampled_from([0, 50]))
def test_the_banded_position_exits_exactly_as_the_one_that_sees_every_quote(position, quotes, partials, min_volume):
    state, context = position
    twin_exits, banded_exits, _ = run_both(state, context, quotes, config_for(partials, min_volume))
    assert banded_exits == twin_exits


def test_a_calm_market_is_mostly_skipped_and_a_crossing_is_delivered():
    state = PositionState(position_id="p", ticker="M", side=Side.YES, signal_type="default", sport="nba",
                          game_id=None, entry_price=Decimal("0.50"), initial_contracts=10, contracts=10,
                          entry_fees=Decimal(0), opened_at=T0)
    mids = [50, 51, 50, 49, 50, 51, 50, 49, 50, 51] * 5 + [40]       # then through the 12% stop
    quotes = [Quote("M", T0 + timedelta(seconds=10 * i), Decimal(m) * CENT, Decimal(m + 1) * CENT)
              for i, m in enumerate(mids)]
    twin, banded, skipped = run_both(state, ExitContext(), quotes, config_for(True, 0))
    assert twin == banded == [("stop_loss", quotes[-1].ts, Decimal("0.40"), 10)]
    assert skipped >= 40            # the wiggle inside the band reached the position only as it formed


def test_no_band_while_near_a_threshold_or_unmarked():
    state = PositionState(position_id="p", ticker="M", side=Side.YES, signal_type="default", sport="nba",
                          game_id=None, entry_price=Decimal("0.50"), initial_contracts=10, contracts=10,
                          entry_fees=Decimal(0), opened_at=T0)
    near_stop = Quote("M", T0, Decimal("0.45"), Decimal("0.46"))       # -10%: within 2 points of the 12% stop
    marked = mark_position(state, near_stop, T0, CONFIG)
    assert quiet_band(marked, near_stop, T0, CONFIG, ExitContext()) is None
    assert quiet_band(state, None, T0, CONFIG, ExitContext()) is None
    calm = Quote("M", T0, Decimal("0.50"), Decimal("0.51"))
    band = quiet_band(mark_position(state, calm, T0, CONFIG), calm, T0, CONFIG, ExitContext())
    assert band is not None and band.floor < Decimal("0.50") <= band.ceiling
    def at(bid: Decimal) -> Quote:
        return dataclasses.replace(calm, yes_bid=bid, yes_ask=bid + CENT)

    assert band.leaves(at(band.floor)) and band.leaves(at(band.ceiling + Decimal("0.000001")))
    assert not band.leaves(at(band.floor + Decimal("0.000001"))) and not band.leaves(at(band.ceiling))


def calm(entry: str = "0.50", **fields) -> tuple[PositionState, list[Quote]]:  # type: ignore[no-untyped-def]
    state = PositionState(position_id="p", ticker="M", side=Side.YES, signal_type="default", sport="nba",
                          game_id=None, entry_price=Decimal(entry), initial_contracts=10, contracts=10,
                          entry_fees=Decimal(0), opened_at=T0)
    return state, [Quote("M", T0 + timedelta(seconds=30 * i), Decimal(entry), Decimal(entry) + CENT, **fields)
                   for i in range(20)]


def test_the_time_exit_is_delivered_on_the_first_quote_at_its_due_time():
    state, quotes = calm(close_time=T0 + timedelta(minutes=10))
    twin, banded, skipped = run_both(state, ExitContext(), quotes, config_for(True, 0))
    assert twin == banded == [("time_based_urgent", T0 + timedelta(minutes=5), Decimal("0.50"), 10)]
    assert skipped == 9


def test_edge_rules_count_while_the_model_is_fresh_and_the_band_ends_when_it_goes_stale():
    state, quotes = calm()
    fresh_to_7_min = ExitContext(model_probability=Decimal("0.535"), model_probability_ts=T0 + timedelta(minutes=5))
    quotes[12] = dataclasses.replace(quotes[12], yes_bid=Decimal("0.52"), yes_ask=Decimal("0.53"))  # edge 1.5 < 2
    twin, banded, _ = run_both(state, fresh_to_7_min, quotes, config_for(True, 0))
    assert twin == banded == [("early_exit", quotes[12].ts, Decimal("0.52"), 10)]
    late = dataclasses.replace(fresh_to_7_min, model_probability_ts=T0 - timedelta(minutes=1))   # stale at 1 min
    twin, banded, skipped = run_both(state, late, quotes, config_for(True, 0))
    assert twin == banded == [] and skipped > 10


def test_a_mark_exactly_on_the_next_stages_urgent_edge_is_delivered():
    state, quotes = calm("0.50")
    # stage 1 sold, peak 0.62 (trailing stop active at 0.57), mark 0.60: stage 2 (+25%) is urgent from
    # +23% = 0.615, below the peak, so the band's ceiling is one grid step under it
    state = state.replace(partial_stages_done=1, peak_price=Decimal("0.62"), trailing_stop_active=True,
                          trailing_stop_price=Decimal("0.57"))
    quotes = [dataclasses.replace(q, yes_bid=Decimal("0.60"), yes_ask=Decimal("0.61")) for q in quotes]
    quotes[5] = dataclasses.replace(quotes[5], yes_bid=Decimal("0.615"), yes_ask=Decimal("0.62"))
    quotes[6] = dataclasses.replace(quotes[6], yes_bid=Decimal("0.625"), yes_ask=Decimal("0.63"))
    marked = mark_position(state, quotes[0], T0, CONFIG)
    band = quiet_band(marked, quotes[0], T0, CONFIG, ExitContext())
    assert band is not None and band.ceiling == Decimal("0.614999") and band.leaves(quotes[5])
    twin, banded, _ = run_both(state, ExitContext(), quotes, config_for(True, 0))
    assert twin == banded == [("partial_exit_target", quotes[6].ts, Decimal("0.625"), 2)]
