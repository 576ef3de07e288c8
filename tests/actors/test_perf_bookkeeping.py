"""Issue 14, the costs the profile showed outside the positions, removed without changing what
is computed: the heartbeat reads only the columns it reports (not every open position as a
PositionState every 30 s of engine time), and the RiskManager keeps the open positions'
unrealized total as marks arrive instead of re-summing every position on every mark."""
from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from actors.risk_manager import RiskManager
from models.position import PositionStatus
from tests.adapters.storage.test_persistence import T0, a_position, clock, db, repo  # noqa: F401 - fixtures

from models.market import Side


def test_open_marks_are_the_heartbeat_columns_of_the_open_positions_oldest_first(repo):  # noqa: F811
    repo.upsert_position(a_position("late", opened_at=T0 + timedelta(minutes=2), status=PositionStatus.EXITING,
                                    current_price=Decimal("0.61"), trailing_stop_price=Decimal("0.56"),
                                    model_probability=Decimal("0.634512"), last_update=T0 + timedelta(minutes=3)))
    repo.upsert_position(a_position("early", opened_at=T0, side=Side.NO))
    repo.upsert_position(a_position("done", opened_at=T0 + timedelta(minutes=1), status=PositionStatus.CLOSED,
                                    contracts=0, closed_at=T0 + timedelta(minutes=9)))
    expected = tuple((p.position_id, p.current_price, p.trailing_stop_price, p.model_probability, p.contracts,
                      p.last_update) for p in repo.load_open_positions())
    assert repo.open_marks() == expected
    assert [m[0] for m in expected] == ["early", "late"]
    assert all(type(a) is type(b) for a, b in zip(repo.open_marks()[1], expected[1]))


def test_the_running_unrealized_total_is_the_sum_of_the_marks_after_any_sequence():
    from config.loader import load_config
    from models.events import PositionMarked

    risk = RiskManager.__new__(RiskManager)      # the bookkeeping only: no actor thread
    risk.unrealized, risk.unrealized_total, risk.tripped = {}, Decimal(0), "already"   # no trip side effects
    risk.floors, risk.floor_gap, risk.waiting, risk.marks_needed = {}, Decimal(0), set(), False
    risk.cfg = load_config(None).circuit_breaker
    risk._roll_day = lambda: None                 # type: ignore[method-assign]
    rng = random.Random(14)
    for _ in range(3000):
        pid = f"p{rng.randrange(40)}"
        u = Decimal(rng.randrange(-5000, 5000)) / Decimal(rng.choice((1, 100, 10000))) if rng.random() > 0.2 else Decimal(0)
        risk.handle(PositionMarked(pid, u))
        assert risk.unrealized_total == sum(risk.unrealized.values(), Decimal(0))
    assert risk.unrealized                       # the sequence left some positions marked
