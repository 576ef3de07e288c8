"""A position's state as one frozen snapshot, and its lifecycle.

OPEN -> EXITING -> CLOSED, with a partial exit going EXITING -> OPEN. Any other transition is
an error (IllegalTransition), not a shrug.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from models.market import Side
from models.money import ZERO


class PositionStatus(str, enum.Enum):
    OPEN = "open"
    EXITING = "exiting"
    CLOSED = "closed"


TRANSITIONS: dict[PositionStatus, frozenset[PositionStatus]] = {
    PositionStatus.OPEN: frozenset({PositionStatus.EXITING, PositionStatus.CLOSED}),
    PositionStatus.EXITING: frozenset({PositionStatus.OPEN, PositionStatus.CLOSED, PositionStatus.EXITING}),
    PositionStatus.CLOSED: frozenset(),
}


class IllegalTransition(Exception):
    pass


def check_transition(position_id: str, old: PositionStatus, new: PositionStatus) -> None:
    if new is not old and new not in TRANSITIONS[old]:
        raise IllegalTransition(f"position {position_id}: {old.value} -> {new.value} is not allowed")


@dataclass(frozen=True, slots=True)
class PositionState:
    """Everything a PositionActor owns, persisted on every change (the positions table).

    `entry_price` is the average price paid per contract of `side`; `contracts` is what is
    still held; `initial_contracts` what was bought. `partial_stages_done` counts the partial
    exit stages already executed. P&L fields are derived from the last mark; with no bid for
    our side the mark is unknown (current_price and the unrealized P&L are None).
    """

    position_id: str
    ticker: str
    side: Side
    signal_type: str
    sport: str
    game_id: str | None
    entry_price: Decimal
    initial_contracts: int
    contracts: int
    entry_fees: Decimal
    opened_at: datetime
    status: PositionStatus = PositionStatus.OPEN
    model_probability: Decimal | None = None
    current_price: Decimal | None = None
    unrealized_pnl: Decimal | None = ZERO
    unrealized_pnl_pct: Decimal | None = ZERO
    last_update: datetime | None = None
    peak_price: Decimal | None = None
    trailing_stop_active: bool = False
    trailing_stop_price: Decimal | None = None
    partial_stages_done: int = 0
    realized_pnl: Decimal = ZERO
    exit_fees: Decimal = ZERO
    exit_reason: str | None = None
    exit_priority: str | None = None
    closed_at: datetime | None = None
    close_time: datetime | None = None
    # When model_probability was estimated (the entry signal's ts, then each model update). Not
    # persisted: after a restart its age is unknown and it drives no edge exit until a new one.
    model_probability_ts: datetime | None = None
    # The entry-time mark: our side's best bid in the quote the entry was priced from. The stop
    # loss is measured from it (models/exit_rules.stop_price), so the spread crossed to enter
    # is not a loss the market made. None (positions recorded before it existed): entry_price.
    stop_basis: Decimal | None = None

    def replace(self, **changes: object) -> "PositionState":
        if "status" in changes:
            check_transition(self.position_id, self.status, changes["status"])  # type: ignore[arg-type]
        return dataclasses.replace(self, **changes)

    @property
    def cost_basis(self) -> Decimal:
        return self.entry_price * self.contracts


def matters_for_restart(a: PositionState, b: PositionState) -> bool:
    """What a restart needs changed: the position actor saves at once (else at its next wake-up)."""
    return (a.peak_price != b.peak_price or a.trailing_stop_active != b.trailing_stop_active
            or a.contracts != b.contracts or a.status != b.status or a.partial_stages_done != b.partial_stages_done)


def mark_moved(saved: PositionState | None, now: PositionState) -> bool:
    """A wake-up saves the mark only when it moved (a quiet market costs no writes)."""
    return saved is None or (saved.current_price, saved.model_probability) != (now.current_price,
                                                                               now.model_probability)
