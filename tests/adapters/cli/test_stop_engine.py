"""stop_engine (adapters/cli/running.py): a final flush that fails still stops the engine (its
actors, the database lock, the garbage-collection trigger) before the error goes on."""
from __future__ import annotations

import gc

import pykka
import pytest

from adapters.cli.running import stop_engine
from adapters.engine.lock import lock_database


def test_a_failed_final_flush_still_stops_the_engine_then_raises(make_engine):
    before = gc.get_threshold()
    h = make_engine()
    engine = h.engine

    def broken_flush(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    engine.system.flush = broken_flush  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="disk full"):
        stop_engine(engine)
    h._stopped = True                                    # the harness has nothing left to stop
    assert pykka.ActorRegistry.get_all() == []           # the actors were stopped
    assert gc.get_threshold() == before                  # the collector's trigger put back
    lock_database(str(h.db_path)).release()              # the database is free for the next engine
