"""The stream measures (python -m tests.bench_stream) run over the loopback fake and report numbers (sizes tiny; no
speed is asserted, only that the numbers exist and were measured)."""
from __future__ import annotations

import math

from adapters.harness.bench.engine import engine_factory
from tests.bench_stream import measure_stream_latency, measure_stream_reads
from config.loader import load_config


def test_the_stream_bench_measures_latency_and_reads(tmp_path):
    config = load_config(None)
    make = engine_factory(config, tmp_path)
    lat = measure_stream_latency(make, config, markets=2, per_market=2, samples=3)
    assert lat.samples == 3 and lat.positions == 4
    assert 0 < lat.p50_ms <= lat.p99_ms <= lat.max_ms and math.isfinite(lat.max_ms)
    reads = measure_stream_reads(make, config, positions=4, markets=2, minutes=1)
    assert reads.polled_reads_per_minute > 0                # polling reads at its cadence
    assert reads.streamed_reads_per_minute >= 0
