"""The liquidity measure (models/liquidity.py): what can dry up, and what is unknown."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from config.schema import LiquidityConfig
from models.liquidity import liquidity_breach, recent_volume
from models.market import Quote, Side

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)
W = timedelta(minutes=5)
LIQ = LiquidityConfig(max_spread_cents=D(3), min_volume=50, volume_window_secs=D(300), breach_for_secs=D(30))


def at(secs: float) -> datetime:
    return T0 + timedelta(seconds=secs)


def test_recent_volume_is_what_traded_since_the_window_began():
    samples = [(at(0), 1000), (at(100), 1040), (at(200), 1090), (at(320), 1100)]
    # at 320 s the window starts at 20 s: the last sample at or before it is the one at 0 s
    assert recent_volume(samples, at(320), W) == 100
    # at 420 s it starts at 120 s: base = the sample at 100 s (1040); latest = 1100
    assert recent_volume(samples, at(420), W) == 60


def test_with_less_history_than_the_window_the_recent_volume_is_unknown_not_zero():
    assert recent_volume([], at(0), W) is None
    assert recent_volume([(at(10), 5)], at(200), W) is None            # first seen 190 s ago
    assert recent_volume([(at(0), 5)], at(300), W) == 0                # exactly one window: known


def test_a_market_that_went_silent_dries_up():
    assert recent_volume([(at(0), 10 ** 6)], at(3600), W) == 0


def test_a_volume_that_goes_backwards_never_counts_negative():
    assert recent_volume([(at(0), 500), (at(10), 400)], at(400), W) == 0


def q(bid, ask, recent=1000) -> Quote:  # type: ignore[no-untyped-def]
    return Quote("T", T0, None if bid is None else D(bid), None if ask is None else D(ask),
                 volume=10 ** 6, recent_volume=recent)


def test_the_breach_names_its_measure_with_the_numbers():
    assert liquidity_breach(q("0.50", "0.51"), Side.YES, LIQ) is None
    wide = liquidity_breach(q("0.50", "0.54"), Side.YES, LIQ)
    assert wide is not None and wide.measure == "spread" and wide.value == D(4) and wide.threshold == D(3)
    thin = liquidity_breach(q("0.50", "0.51", recent=12), Side.NO, LIQ)
    assert thin is not None and thin.measure == "recent_volume" and (thin.value, thin.threshold) == (D(12), D(50))
    assert "12" in thin.detail and "5 min" in thin.detail
    assert liquidity_breach(q("0.50", "0.51", recent=None), Side.YES, LIQ) is None    # unknown: no verdict


def test_a_side_with_no_bid_at_all_is_illiquid():
    none_yes = liquidity_breach(q(None, "0.05"), Side.YES, LIQ)
    assert none_yes is not None and none_yes.measure == "no_bid" and "no bid" in none_yes.detail
    none_no = liquidity_breach(q("0.95", None), Side.NO, LIQ)
    assert none_no is not None and none_no.measure == "no_bid"
    assert liquidity_breach(q("0.95", None), Side.YES, LIQ) is None     # our side's bid is there, 0 volume rule aside
