"""Issue 14, time bands: the PriceCache stamps every quote with `volume_low_at`, the first moment
its recent volume falls below liquidity.min_volume if no sample comes (models/time_band.py), and
a streamed quote whose lifetime volume went down is sent to every holder, banded or not (it may
bring that moment forward, which a sleeping position does not foresee); a polled one is not."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from actors.clock import VirtualClock
from actors.price_cache import PriceCache
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from config.loader import load_config
from models.commands import BandChanged, GetQuote, Subscribe
from models.events import QuotePushed
from models.exit_band import QuietBand
from models.market import Quote, Side
from models.time_band import volume_low_at

from tests.actors.test_price_cache import Probe

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)
D = Decimal
W = timedelta(seconds=300)
BAND = QuietBand(Side.YES, D("0.30"), D("0.60"), None, None, load_config(None).liquidity)


@pytest.fixture
def rig():
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    rt = Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))
    refs = []

    def start(streamed: bool):  # type: ignore[no-untyped-def]
        cache = PriceCache.start(rt, None, 10, streamed=streamed, volume_window_secs=300, min_volume=50)
        probe = Probe.start(rt)
        refs.extend((cache, probe))
        rt.send(cache, Subscribe("M", probe, "p"))
        return cache, probe

    yield rt, clock, start
    for ref in reversed(refs):
        ref.stop(block=True, timeout=5)


def push(rt, clock, cache, at: int, volume: int, bid: str = "0.45") -> None:  # type: ignore[no-untyped-def]
    clock.advance_to(T0 + timedelta(seconds=at))
    rt.send(cache, QuotePushed(Quote("M", T0 + timedelta(seconds=at), D(bid), D(bid) + D("0.01"), volume=volume)))
    assert rt.activity.wait_idle(10)


def test_quotes_carry_when_their_recent_volume_runs_dry(rig):
    rt, clock, start = rig
    cache, probe = start(streamed=True)
    samples = []
    for at, volume, bid in ((0, 1000, "0.45"), (100, 1040, "0.46"), (200, 1300, "0.45"), (320, 1320, "0.46")):
        push(rt, clock, cache, at, volume, bid)
        samples.append((T0 + timedelta(seconds=at), volume))
    got = [m.quote for m in probe.proxy().got.get(timeout=5) if not m.request_id]
    assert got[-1].volume_low_at == volume_low_at(samples, got[-1].ts, W, 50)
    # 1320 - 1300 < 50: dry from the moment the 200 s sample is the window's start (500 s)
    assert got[-1].volume_low_at == T0 + timedelta(seconds=500)
    assert got[0].volume_low_at == T0 + timedelta(seconds=300)        # one sample: dry once it is 5 min old


def test_a_streamed_quote_whose_volume_went_down_reaches_a_banded_position(rig):
    rt, clock, start = rig
    cache, probe = start(streamed=True)
    push(rt, clock, cache, 0, 1000)
    rt.send(cache, BandChanged("M", "p", BAND))
    push(rt, clock, cache, 10, 1500)                   # the same book, more volume: nothing to say
    push(rt, clock, cache, 20, 1500, "0.47")           # inside the band: held back
    assert len(probe.proxy().got.get(timeout=5)) == 1
    push(rt, clock, cache, 30, 1200, "0.47")           # the same book, LESS volume: sent, band dropped
    got = probe.proxy().got.get(timeout=5)
    assert len(got) == 2 and got[-1].quote.volume == 1200


def test_a_polled_quote_whose_volume_went_down_is_read_at_the_next_tick_as_before(rig):
    rt, clock, start = rig
    cache, probe = start(streamed=False)
    push(rt, clock, cache, 0, 1000)
    push(rt, clock, cache, 1, 900)
    assert len(probe.proxy().got.get(timeout=5)) == 1
    rt.send(cache, GetQuote("M", probe, "r"))
    assert rt.activity.wait_idle(10)
    assert probe.proxy().got.get(timeout=5)[-1].quote.volume == 900
