"""A position whose CRITICAL exit waits (here behind the venue's call budget: 60 stop losses at 6
calls a minute) is not evaluated at its cadence while it waits: nothing can preempt a CRITICAL exit
and, with streamed quotes, every quote that changes still reaches it. Before, every waiting position
woke every 30 s (5 s near its stop), so a burst of N rate-limited exits cost N x N wake-ups. The
exits all complete, each selling what its position held, and each position evaluates again once its
exit has ended."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from adapters.harness.bench.engine import START, engine_factory, with_call_limit
from adapters.harness.bench.fleet import Spec, open_positions, quote, read_attr
from adapters.sim.session import VirtualSession
from config.loader import load_config
from models.market import Side
from models.position import PositionStatus

TICKER = "WAIT-1"


def test_positions_waiting_for_a_critical_exit_are_not_woken_at_the_cadence(tmp_path):
    config = with_call_limit(load_config(None), 6)
    make = engine_factory(config, tmp_path)
    engine = make("waiting", start=START, streamed_quotes=True)
    try:
        session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock)
        session.run([(START, quote(TICKER, START, "0.60", "0.61"))], tail=timedelta(0))
        specs = [Spec(f"w-{i:02d}", TICKER, Side.YES, Decimal("0.61"), 5) for i in range(60)]
        open_positions(engine, specs, tag="w")
        crash = START + timedelta(seconds=5)
        session.run([(crash, quote(TICKER, crash, "0.40", "0.41"))], tail=timedelta(seconds=30))
        refs = engine.system.proxy_attr(engine.system.refs.supervisor, "positions")
        waiting = [pid for pid, ref in refs.items()]
        assert len(waiting) > 10, "the call budget should keep most exits waiting"
        before = dict(zip(waiting, read_attr([refs[p] for p in waiting], "evaluations", 10)))
        engine.scheduler.run_for(timedelta(minutes=2))          # no quote changes meanwhile
        still = engine.system.proxy_attr(engine.system.refs.supervisor, "positions")
        after = dict(zip(list(still), read_attr(list(still.values()), "evaluations", 10)))
        # Positions whose exit still waits have not been evaluated at all (30 s / 5 s cadence: 4-24 each).
        for pid in set(after) & set(before):
            assert after[pid] == before[pid], pid
        engine.scheduler.run_for(timedelta(minutes=30))
        engine.system.flush()
        states = [s for s in engine.repository.all_positions() if s.position_id.startswith("w-")]
        assert len(states) == 60
        assert all(s.status is PositionStatus.CLOSED and s.contracts == 0 for s in states)
        assert {s.exit_reason for s in states} == {"stop_loss"}
        assert engine.venue.holding(TICKER, Side.YES) == 0
    finally:
        engine.stop()
