"""The fault simulation (`python run.py simulate`): seeds that CI runs, and the invariant
checker shown to catch planted violations (so a clean run means something).

CI runs seeds 0-15. Some larger seeds fail today on engine gaps reported in
/work/notes/simulate.md (the call budget across a process restart, reconciliation that
cannot confirm an order before positions resume); `python run.py simulate --seed S` reruns one.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from loguru import logger

from actors.clock import VirtualClock
from adapters.cli import simulate as simulate_cmd
from adapters.harness.fault_sim.faults import KINDS
from adapters.harness.fault_sim.invariants import check_invariants
from adapters.harness.fault_sim.runner import SimRun, run_seed
from adapters.harness.fault_sim.venue import ObservedVenue, position_of
from config.loader import load_config
from models.market import Side
from models.orders import Action, OrderRequest, TimeInForce
from models.position import PositionStatus
from adapters.storage.tables import FillRow
from adapters.engine.build import build_engine

CI_SEEDS = range(0, 16)
T0 = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def quiet_logs(monkeypatch):
    """Thousands of audit lines per seed: keep them out of the test output (and fast)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    logger.disable("")
    yield
    logger.enable("")


@pytest.fixture(scope="module")
def config():
    return load_config()


def _names(violations) -> set[str]:
    return {v.invariant for v in violations}


# -- the seeds CI runs --------------------------------------------------------------------------

def test_the_ci_seeds_hold_every_invariant_under_every_kind_of_fault(config):
    results = [run_seed(s, config=config, build_engine=build_engine) for s in CI_SEEDS]
    failures = {r.seed: [str(v) for v in r.violations] for r in results if not r.ok}
    assert failures == {}
    injected = Counter()
    fired = Counter()
    for r in results:
        injected.update(dict(r.injected))
        fired.update(dict(r.fired))
    # The faults really happen: every kind is injected, and the venue errors hit real calls.
    assert set(injected) == set(KINDS)
    for kind in ("create_timeout", "cancel_timeout", "create_5xx", "cancel_5xx", "create_429"):
        assert fired[kind] > 0, kind
    assert sum(r.restarts for r in results) >= 2     # (fewer since core-actor faults share the draw)
    assert sum(r.positions for r in results) > 50


def test_a_seed_is_deterministic(config):
    a = run_seed(4, config=config, build_engine=build_engine)
    b = run_seed(4, config=config, build_engine=build_engine)
    assert (a.faults, a.fired, a.positions, a.closed, a.orders, a.venue_calls, a.virtual_s) == (
        b.faults, b.fired, b.positions, b.closed, b.orders, b.venue_calls, b.virtual_s)
    assert a.positions > 0 and a.faults


# -- the checker catches what it should -------------------------------------------------------

@pytest.fixture
def clean_run(tmp_path, config):
    """A finished seed whose invariants all hold, kept open so a test can doctor it."""
    run = SimRun(3, tmp_path, config=config, build_engine=build_engine)
    run.execute()
    assert check_invariants(run.observation()) == []
    yield run
    run.close()


def _venue_with(contracts: int) -> ObservedVenue:
    venue = ObservedVenue(VirtualClock(T0))
    venue.set_book("PLANT", [(Decimal("0.40"), 100)], [(Decimal("0.42"), 100)])
    venue.place_order(OrderRequest("en-plant", "PLANT", Side.YES, Action.BUY, contracts, Decimal("0.42"),
                                   TimeInForce.IOC))
    return venue


def _sell(venue: ObservedVenue, cid: str, count: int) -> None:
    venue.place_order(OrderRequest(cid, "PLANT", Side.YES, Action.SELL, count, Decimal("0.60")))


def test_a_second_live_exit_order_for_a_position_is_caught(clean_run):
    venue = _venue_with(10)
    _sell(venue, "pos-plant-abc123x1-1", 5)          # rests (the bid is 0.40)
    _sell(venue, "pos-plant-abc123x2-1", 5)          # a second live exit for the same position
    assert len(venue.double_exits) == 1 and "pos-plant-abc123x1-1" in venue.double_exits[0]
    found = check_invariants(dataclasses.replace(clean_run.observation(), venue=venue))
    assert "one_live_exit_order" in _names(found)


def test_a_resend_of_the_same_order_is_not_a_second_exit_order():
    venue = _venue_with(10)
    _sell(venue, "pos-plant-abc123x1-1", 5)
    with pytest.raises(Exception):
        _sell(venue, "pos-plant-abc123x1-1", 5)      # same client_order_id: the venue refuses it as a duplicate
    assert venue.double_exits == [] and venue.oversells == []


def test_selling_more_than_is_held_is_caught_before_the_venue_refuses_it(clean_run):
    venue = _venue_with(4)
    with pytest.raises(Exception, match="cannot sell"):
        _sell(venue, "pos-plant-abc123x1-1", 5)
    assert len(venue.oversells) == 1 and "4 held" in venue.oversells[0]
    assert "no_oversell" in _names(check_invariants(dataclasses.replace(clean_run.observation(), venue=venue)))


def test_a_doctored_position_row_is_caught(clean_run):
    repo = clean_run.engine.repository
    closed = next(p for p in repo.all_positions() if p.status is PositionStatus.CLOSED)
    repo.upsert_position(dataclasses.replace(closed, initial_contracts=closed.initial_contracts + 1))
    found = check_invariants(clean_run.observation())
    assert {"exits_sum_to_contracts", "db_venue_audit_agree"} <= _names(found)
    assert any(closed.position_id in v.detail for v in found)


def test_a_fill_missing_from_the_ledger_is_caught(clean_run):
    sell = next(f for f in FillRow.select() if f.action == "sell")
    FillRow.delete().where(FillRow.fill_id == sell.fill_id).execute()
    found = check_invariants(clean_run.observation())
    assert "db_venue_audit_agree" in _names(found)
    assert any(sell.client_order_id in v.detail and "fills ledger" in v.detail for v in found)


def test_an_open_position_the_venue_no_longer_holds_is_caught(clean_run):
    repo = clean_run.engine.repository
    closed = next(p for p in repo.all_positions()
                  if p.status is PositionStatus.CLOSED and not p.exit_reason.startswith("reconciled"))
    # The database says it is still open with everything held; the venue sold it all.
    repo.upsert_position(dataclasses.replace(closed, status=PositionStatus.OPEN, contracts=closed.initial_contracts))
    found = check_invariants(clean_run.observation())
    assert any(v.invariant == "exits_sum_to_contracts" and "the venue holds 0" in v.detail for v in found)


def test_a_doubled_trade_event_and_an_unplanned_crash_are_caught(clean_run):
    obs = clean_run.observation()
    opened = next(e for e in obs.audit if e["event"] == "TRADE_EXECUTED")
    crash = {"event": "ACTOR_CRASHED", "key": "pos-x-1a2b3cx1", "error": "KeyError: 'boom'"}
    found = check_invariants(dataclasses.replace(obs, audit=[*obs.audit, dict(opened), crash]))
    assert any(v.invariant == "db_venue_audit_agree" and "TRADE_EXECUTED 2 times" in v.detail for v in found)
    assert any(v.invariant == "engine_health" and "KeyError" in v.detail for v in found)


def test_the_call_budget_is_checked_over_every_sliding_minute(clean_run):
    obs = clean_run.observation()
    at = T0 + timedelta(hours=3)
    within = [at + timedelta(seconds=i * 59 / obs.budget) for i in range(obs.budget)]

    def seen(calls=(), reconciled=()):  # type: ignore[no-untyped-def]
        # what the limiters and reconciliation sent, and (the same requests) what the venue saw
        return dataclasses.replace(obs, call_times=(*obs.call_times, *calls),
                                   reconcile_times=(*obs.reconcile_times, *reconciled),
                                   request_times=(*obs.request_times, *calls, *reconciled))

    assert check_invariants(seen(within)) == []
    found = check_invariants(seen((*within, at + timedelta(seconds=59.5))))
    assert [v.invariant for v in found] == ["call_budget"]
    # Reconciliation's calls count too (they go to the same venue).
    found = check_invariants(seen(within, (at + timedelta(seconds=30),)))
    assert [v.invariant for v in found] == ["call_budget"] and "1 by start-up reconciliation" in found[0].detail
    # Requests the venue saw that no limiter logged (a page, a client retry) count as well.
    found = check_invariants(dataclasses.replace(seen(within), request_times=(*seen(within).request_times, at)))
    assert [v.invariant for v in found] == ["call_budget"] and "1 by neither" in found[0].detail


def test_exit_order_ids_name_their_position():
    assert position_of("pos-fsim3-m1-s2-4bd081x12-3") == "pos-fsim3-m1-s2"
    assert position_of("en-fsim3-m1-s2") is None


# -- the command ------------------------------------------------------------------------------

def _args(**kw) -> argparse.Namespace:
    base = dict(seeds=None, seed=None, json=False, config=None, verbose=False)
    base.update(kw)
    return argparse.Namespace(**base)


def test_the_command_reruns_one_seed_and_exits_0_when_it_holds():
    out = io.StringIO()
    assert simulate_cmd.run(_args(seed=3), out=out, build_engine=build_engine) == 0
    text = out.getvalue()
    assert text.startswith("seed 3 ") and " ok " in text and "Seeds run: 1, passed 1, failed 0" in text


def test_a_failing_seed_is_printed_with_its_invariant_and_how_to_rerun_it():
    def broken(*args, **kwargs):
        raise RuntimeError("engine would not start")

    out = io.StringIO()
    assert simulate_cmd.run(_args(seeds=2, seed=40), out=out, build_engine=broken) == 1
    text = out.getvalue()
    assert "seed 40     FAIL" in text and "engine_health: the run raised RuntimeError" in text
    assert "rerun alone: python run.py simulate --seed 41" in text and "failed 2: 40, 41" in text


def test_bad_arguments_exit_2():
    err = io.StringIO()
    assert simulate_cmd.run(_args(seeds=0), err=err, build_engine=build_engine) == 2
    assert "--seeds must be at least 1" in err.getvalue()
    assert simulate_cmd.seed_range(None, None) == range(0, 20)
    assert simulate_cmd.seed_range(5, 10) == range(10, 15)
