"""Repository.exit_ledger reads, for many positions at once, what rebuilding each position from
the database reads one by one (its sell orders' fills in order, and the contracts start-up
reconciliation found gone): over random ledgers -- buys and sells, orders never sent (no venue
id), several fills per order, orders of positions not asked about, reconciled-away rows and
other exit rows -- the two agree for every position, and for more positions than one query
chunk (500)."""
from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from actors.supervisor import rebuild_position, rebuild_positions
from adapters.storage.database import Repository
from models.ledger import RECONCILED_AWAY
from models.market import Side
from models.orders import Action, Fill, OrderRequest, OrderSnapshot, OrderStatus, TimeInForce
from models.position import PositionState
from models.records import ExitRecord, ExitStatus
from tests.adapters.storage.conftest import T0  # the fixture `repo` is there too


def one_by_one(repo: Repository, pid: str) -> tuple[tuple[Fill, ...], int]:
    fills = tuple(f for o in repo.orders_for(pid) if o.order_id and o.request.action is Action.SELL
                  for f in repo.fills_for_order(o.order_id))
    return fills, repo.contracts_reconciled_away(pid)


def state(pid: str) -> PositionState:
    return PositionState(position_id=pid, ticker=f"T-{pid}", side=Side.YES, signal_type="default", sport="nba",
                         game_id=None, entry_price=Decimal("0.50"), initial_contracts=60, contracts=60,
                         entry_fees=Decimal("0.35"), opened_at=T0)


def fill_ledger(repo: Repository, rng: random.Random, positions: list[str]) -> None:
    n_order = n_fill = 0
    for pid in positions + ["not-asked-1", "not-asked-2"]:
        repo.upsert_position(state(pid))
        for _ in range(rng.randint(0, 4)):
            n_order += 1
            action = rng.choice((Action.BUY, Action.SELL, Action.SELL))
            count = rng.randint(1, 30)
            req = OrderRequest(f"c{n_order:05d}", "T", Side.YES, action, count, Decimal("0.55"), TimeInForce.GTC)
            repo.record_order_pending(req, pid, None)
            if rng.random() < 0.2:
                continue                                   # never sent: no venue order id, no fills
            filled = 0
            for _ in range(rng.randint(0, 3)):
                n_fill += 1
                k = rng.randint(1, 5)
                filled += k
                repo.record_fill(Fill(f"f{n_fill:05d}", f"o{n_order:05d}", req.client_order_id, "T", Side.YES,
                                      action, k, Decimal(rng.randint(1, 99)) / 100, Decimal("0.01"),
                                      T0 + timedelta(seconds=rng.randint(0, 50)), rng.random() < 0.5))
            repo.update_order(OrderSnapshot(f"o{n_order:05d}", req.client_order_id, "T", Side.YES, action, count,
                                            req.limit_price, OrderStatus.RESTING, filled_count=filled))
        for _ in range(rng.randint(0, 2)):
            reason = rng.choice((RECONCILED_AWAY, "stop_loss"))
            repo.record_exit_event(ExitRecord(pid, reason, "", ExitStatus.TRIGGERED, T0, contracts=rng.randint(1, 9)))


@pytest.mark.parametrize("seed,positions", [(1, 12), (2, 40), (3, 620)])
def test_the_ledger_of_many_positions_is_what_each_reads_alone(repo, seed, positions):
    rng = random.Random(seed)
    pids = [f"p{i:04d}" for i in range(positions)]
    fill_ledger(repo, rng, pids)
    ledger = repo.exit_ledger(pids)
    assert set(ledger) == set(pids)
    for pid in pids:
        assert ledger[pid] == one_by_one(repo, pid), pid
    assert any(fills for fills, _ in ledger.values()) and any(away for _, away in ledger.values())


def test_rebuilding_many_positions_is_rebuilding_each_from_its_own_reads(repo):
    from models.ledger import reconcile_with_fills

    rng = random.Random(4)
    pids = [f"p{i:04d}" for i in range(30)]
    fill_ledger(repo, rng, pids)
    states = [state(pid) for pid in pids]
    expected = []
    for s in states:
        fills, away = one_by_one(repo, s.position_id)
        expected.append((reconcile_with_fills(s, list(fills), away), frozenset(f.fill_id for f in fills)))
    assert rebuild_positions(repo, states) == expected
    assert [rebuild_position(repo, s) for s in states] == expected
    assert any(state.contracts < 60 for state, _ in expected)
