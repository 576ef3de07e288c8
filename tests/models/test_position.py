"""A position's lifecycle table and its P&L arithmetic.

OPEN -> EXITING -> CLOSED, a partial exit going EXITING -> OPEN, a preempted exit going
EXITING -> EXITING; CLOSED is final. P&L % is of the entry price, gross of fees; realized P&L is
net of the exit fee and this sale's share of the entry fee.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from models.market import Side
from models.pnl import pnl_pct, price_at_pct, realized_pnl
from models.position import IllegalTransition, PositionState, PositionStatus, check_transition

T0 = datetime(2025, 11, 22, 19, 0, tzinfo=timezone.utc)
OPEN, EXITING, CLOSED = PositionStatus.OPEN, PositionStatus.EXITING, PositionStatus.CLOSED

ALLOWED = {(OPEN, EXITING), (OPEN, CLOSED), (EXITING, OPEN), (EXITING, CLOSED), (EXITING, EXITING)}


def position(status: PositionStatus = OPEN) -> PositionState:
    return PositionState("p1", "KX-TEST", Side.YES, "default", "nba", "g1", D("0.50"), 10, 10, D("0.18"), T0,
                         status=status)


@pytest.mark.parametrize("old", list(PositionStatus))
@pytest.mark.parametrize("new", list(PositionStatus))
def test_transition_table(old: PositionStatus, new: PositionStatus) -> None:
    if (old, new) in ALLOWED or old is new:
        check_transition("p1", old, new)
        assert position(old).replace(status=new).status is new
    else:
        with pytest.raises(IllegalTransition, match=f"p1: {old.value} -> {new.value}"):
            position(old).replace(status=new)


def test_closed_is_final() -> None:
    closed = position().replace(status=EXITING).replace(status=CLOSED)
    for new in (OPEN, EXITING):
        with pytest.raises(IllegalTransition):
            closed.replace(status=new)


def test_replace_without_a_status_change_is_not_checked() -> None:
    closed = position(CLOSED)
    assert closed.replace(contracts=0).contracts == 0


def test_cost_basis_is_entry_times_contracts_held() -> None:
    assert position().replace(contracts=4).cost_basis == D("2.00")


@pytest.mark.parametrize("entry,mark,pct", [
    ("0.50", "0.44", "-12"), ("0.50", "0.60", "20"), ("0.40", "0.46", "15"), ("0.40", "0.50", "25"),
    ("0.50", "0.50", "0"), ("0", "0.50", "0"),
])
def test_pnl_pct_is_of_the_entry_price(entry: str, mark: str, pct: str) -> None:
    assert pnl_pct(D(entry), D(mark)) == D(pct)


def test_price_at_pct_inverts_pnl_pct() -> None:
    assert price_at_pct(D("0.40"), D("15")) == D("0.46")
    assert price_at_pct(D("0.50"), D("-12")) == D("0.44")


def test_realized_pnl_is_net_of_exit_fee_and_entry_fee_share() -> None:
    # 5 of 10 sold at 0.60 after buying at 0.50: gross 0.50, exit fee 0.11, half the 0.18 entry fee
    assert realized_pnl(D("0.50"), D("0.60"), 5, D("0.11"), D("0.09")) == D("0.300000")
    assert realized_pnl(D("0.50"), D("0.44"), 10, D("0.18"), D("0.18")) == D("-0.960000")
    # 0.066667 x 3 = 0.200001, less 0.0000006 = 0.2000004 -> rounded to the 6 places the database keeps
    assert realized_pnl(D("0.333333"), D("0.40"), 3, D("0"), D("0.0000006")) == D("0.200000")
