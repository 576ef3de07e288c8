"""Telling it like it is (issue 8 §4): a trigger that leads to nothing says why once, instead of
the trigger line repeating; `triggered` rows carry the exit_id of the exit they started."""
from __future__ import annotations

from models.records import ExitStatus
WIDE = {"liquidity": {"max_spread_cents": 50}}   # so a wide book does not fire liquidity_dried_up


def lines(h, pid, event, condition=None):  # type: ignore[no-untyped-def]
    return [e for e in h.events(event, position_id=pid) if condition is None or e.get("condition") == condition]


def test_the_triggered_row_carries_the_exit_id_of_the_exit_it_started(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.43", "0.46", push=True)            # the stop loss
    h.run(5)
    (routed,) = h.events("EXIT_ROUTED", position_id=pid)
    rows = [r for r in h.exits(pid) if r.status is ExitStatus.TRIGGERED]
    assert [(r.reason, r.exit_id) for r in rows] == [("stop_loss", routed["exit_id"])]


def test_a_trigger_that_was_not_routed_keeps_no_exit_id(make_engine):
    h = make_engine(WIDE)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.46", "0.84", push=True)             # -6%: nothing yet
    h.set_model("M1", "0.47")                             # early_exit (LOW): routed, rests at 0.83
    h.set_model("M1", "0.45")                             # edge_disappeared: a LOW exit is already in flight
    rows = {r.reason: r.exit_id for r in h.exits(pid) if r.status is ExitStatus.TRIGGERED}
    (routed,) = h.events("EXIT_ROUTED", position_id=pid)
    assert rows == {"early_exit": routed["exit_id"], "edge_disappeared": None}


def test_a_flickering_trigger_during_an_exit_is_announced_once_and_says_once_why_it_waits(make_engine):
    h = make_engine(WIDE)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.46", "0.84", push=True)
    for p in ("0.47", "0.45", "0.47", "0.45", "0.47", "0.50", "0.47", "0.45"):
        h.set_model("M1", p)                              # early_exit, edge_disappeared, ... and once nothing
        h.run(2)
    assert len(lines(h, pid, "EXIT_TRIGGERED", "early_exit")) == 1
    assert len(lines(h, pid, "EXIT_TRIGGERED", "edge_disappeared")) == 1
    (held,) = lines(h, pid, "EXIT_HELD", "edge_disappeared")
    assert "the early_exit (LOW) exit is already in flight" in held["message"]
    assert len(h.events("EXIT_ROUTED", position_id=pid)) == 1


def test_a_condition_cooling_down_after_giving_up_says_so_once(make_engine):
    h = make_engine(WIDE)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.58", "0.84", push=True)             # +16%: stage 1; mid 0.71, never reaches 0.58 in 5 walks
    h.run(185)
    assert h.events("EXIT_GAVE_UP", position_id=pid)
    h.run(100)                                            # still firing, evaluated every 5-30 s, cooling down
    assert len(lines(h, pid, "EXIT_TRIGGERED", "partial_exit_target")) == 1
    (held,) = lines(h, pid, "EXIT_HELD", "partial_exit_target")
    assert "cooling down" in held["message"] and "gave up" in held["message"]
    h.run(60)                                             # the cooldown is over: tried again
    assert len(h.events("EXIT_ROUTED", position_id=pid, condition="partial_exit_target")) == 2


def test_a_less_urgent_trigger_during_a_more_urgent_exit_says_once_that_it_waits(make_engine):
    h = make_engine(WIDE)
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20)
    h.run(3)
    h.market("M1", "0.58", "0.84", push=True)             # stage 1 (MEDIUM) rests at the 0.71 mid
    for _ in range(3):
        h.set_model("M1", "0.59")                         # edge 1 point: early_exit (LOW), evaluated again and again
        h.run(10)
    (held,) = lines(h, pid, "EXIT_HELD", "early_exit")
    assert "the partial_exit_target (MEDIUM) exit is already in flight" in held["message"]
    assert len(lines(h, pid, "EXIT_TRIGGERED", "early_exit")) == 1
