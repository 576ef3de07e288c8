"""models/closing.py: the one owner of selling and closing a position's arithmetic."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from models.closing import apply_exit_fill, apply_settlement, close_position
from models.ledger import reconcile_with_fills
from models.market import Side
from models.orders import Action, Fill
from models.position import IllegalTransition, PositionState, PositionStatus

D = Decimal
T0 = datetime(2026, 1, 11, 19, 0, tzinfo=timezone.utc)


def held(contracts: int = 10, entry: str = "0.50", fees: str = "0.10") -> PositionState:
    return PositionState(position_id="p1", ticker="KX-A", side=Side.YES, signal_type="model_edge", sport="nba",
                         game_id="g1", entry_price=D(entry), initial_contracts=contracts, contracts=contracts,
                         entry_fees=D(fees), opened_at=T0)


def test_an_exit_fill_books_its_pnl_net_of_its_fee_and_its_share_of_the_entry_fee():
    s = apply_exit_fill(held(), 4, D("0.60"), D("0.02"), reason="profit_target", priority="MEDIUM")
    # (0.60 - 0.50) x 4 - 0.02 - 0.10 x 4/10
    assert s.realized_pnl == D("0.34") and s.contracts == 6 and s.exit_fees == D("0.02")
    assert (s.exit_reason, s.exit_priority, s.status) == ("profit_target", "MEDIUM", PositionStatus.OPEN)


def test_an_exit_fill_never_sells_more_than_is_held():
    s = apply_exit_fill(held(contracts=3), 5, D("0.40"), D("0.01"))
    assert s.contracts == 0
    assert s.realized_pnl == D("-0.41")        # 3 contracts: -0.30 - 0.01 fee - 0.10 entry fee


def test_a_fill_for_nothing_changes_nothing():
    s = held(contracts=0)
    assert apply_exit_fill(s, 2, D("0.9"), D("0.01"), reason="x") is s
    assert apply_exit_fill(held(), 0, D("0.9"), D("0.01"), reason="x") == held()


def test_a_partial_stage_that_sold_is_done_and_never_goes_back():
    s = apply_exit_fill(held(), 5, D("0.58"), D("0"), stage=1)
    assert s.partial_stages_done == 2
    assert apply_exit_fill(s, 1, D("0.58"), D("0"), stage=0).partial_stages_done == 2


@pytest.mark.parametrize("result,payout,pnl", [(Side.YES, D("1"), D("4.90")), (Side.NO, D("0"), D("-5.10"))])
def test_a_settlement_pays_every_contract_held_without_a_fee(result, payout, pnl):
    s = apply_settlement(held(), result)
    assert (s.contracts, s.current_price, s.realized_pnl, s.exit_fees) == (0, payout, pnl, D("0"))
    assert (s.exit_reason, s.exit_priority) == ("settlement", None)


def test_closing_stamps_when_why_and_zeroes_what_is_unrealized():
    s = apply_exit_fill(held(), 10, D("0.55"), D("0.01"), reason="trailing_stop", priority="HIGH")
    s = s.replace(unrealized_pnl=D("0.3"), unrealized_pnl_pct=D("2"))
    closed = close_position(s, T0)
    assert (closed.status, closed.closed_at, closed.exit_reason, closed.exit_priority) == \
        (PositionStatus.CLOSED, T0, "trailing_stop", "HIGH")
    assert (closed.unrealized_pnl, closed.unrealized_pnl_pct, closed.contracts) == (D("0"), D("0"), 0)
    assert close_position(s, T0, "manual", None).exit_reason == "manual"
    assert close_position(s.replace(closed_at=T0), T0 + timedelta(hours=1)).closed_at == T0   # already stamped


def test_a_closed_position_cannot_be_closed_again():
    closed = close_position(held(), T0, "reconciled: not on venue")
    assert closed.contracts == 0 and closed.exit_reason == "reconciled: not on venue"
    with pytest.raises(IllegalTransition):
        closed.replace(status=PositionStatus.OPEN)


def test_the_ledger_rebuild_books_fills_exactly_as_the_position_does():
    fills = [Fill(f"o-{n}", "o", "c", "KX-A", Side.YES, Action.SELL, n, D(p), D(fee), T0)
             for n, p, fee in ((4, "0.60", "0.02"), (3, "0.45", "0.01"), (9, "0.70", "0.03"))]
    by_position = held()
    for f in fills:
        by_position = apply_exit_fill(by_position, f.count, f.price, f.fee)
    rebuilt = reconcile_with_fills(held(), fills)
    assert (rebuilt.contracts, rebuilt.realized_pnl, rebuilt.exit_fees) == \
        (by_position.contracts, by_position.realized_pnl, by_position.exit_fees) == (0, D("0.69"), D("0.06"))
    assert rebuilt.status is PositionStatus.CLOSED
