"""Building the paper engine a benchmark runs on: adapters.engine.build.build_engine (mode "bench",
the builder and start-up sequence every mode uses) over a scratch SQLite
file and no audit file (the bench command also silences the console: a benchmark of the
engine, not of its log), and the config overrides some measures need."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from config.schema import Config

UNLIMITED_CALLS = 1_000_000_000
START = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)


def engine_factory(config: Config, workdir: Path) -> Callable[..., Any]:
    """make(name, *, start=START, config_override=None, fresh=True, venue=None) -> an Engine over
    workdir/name.db (fresh=False reopens what an earlier engine of that name wrote; `venue`
    hands it the venue that engine traded on, so start-up reconciliation finds its holdings).
    The retry jitter is seeded 0: a benchmark run is reproducible."""
    from adapters.engine.build import build_engine

    def make(name: str, *, start: datetime = START, config_override: Config | None = None,
             fresh: bool = True, streamed_quotes: bool = False, venue: Any = None,
             venue_factory: Callable[[Any], Any] | None = None, quiet_bands: bool = True,
             inline: bool | None = None) -> Any:
        """`venue_factory(clock)` builds the venue on the engine's clock (the stream bench's
        Kalshi client must stamp its quotes in the engine's time). `inline=False`: a thread per
        actor, as live (the stream bench), instead of the inline dispatcher."""
        return build_engine("bench", config_override or config, db_path=str(workdir / f"{name}.db"), start=start,
                            fresh=fresh, seed=0, streamed_quotes=streamed_quotes, quiet_bands=quiet_bands,
                            venue_factory=venue_factory or (None if venue is None else (lambda clock: venue)),
                            inline=inline)

    return make


def with_call_limit(config: Config, calls_per_minute: int) -> Config:
    return dataclasses.replace(config, monitoring=dataclasses.replace(
        config.monitoring, max_api_calls_per_minute=calls_per_minute))


def without_guards(config: Config) -> Config:
    """The config with the call budget and the daily loss limit out of the way: for a latency
    run that fires hundreds of stop losses in one virtual instant (neither guard is on the
    measured path; the budget is measured on its own)."""
    lifted = with_call_limit(config, UNLIMITED_CALLS)
    return dataclasses.replace(lifted, circuit_breaker=dataclasses.replace(
        lifted.circuit_breaker, daily_loss_limit_dollars=Decimal(10) ** 9))
