"""Audit events of signals, entries and positions (models/audit_events/base.py: the shape)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from models.audit_events.base import AuditEvent, console
from models.market import Side
from models.money import fmt_money, fmt_pct, fmt_price, fmt_usd
from models.orders import OrderStatus


def _pct(edge: Decimal | None) -> str:
    return "-" if edge is None else fmt_pct(edge * 100)


@dataclass(frozen=True, kw_only=True)
class SignalReceived(AuditEvent):
    EVENT = "SIGNAL_RECEIVED"
    WHEN = "every signal"

    signal_id: str
    game_id: str | None = None
    platform: str | None = None
    market: str
    direction: str
    side: Side
    signal_type: str
    expected_price: Decimal | None = None
    market_price: Decimal | None = None
    edge: Decimal | None = None
    win_probability: Decimal | None = None
    signal_ts: datetime | None = None
    source: str | None = None
    sport: str | None = None

    def _text(self) -> str:
        return (f"{self.market} {self.side.value}: SIGNAL {self.signal_type} from {self.source}, model "
                f"{fmt_price(self.win_probability)} vs price {fmt_price(self.market_price)}, edge {_pct(self.edge)}")


@dataclass(frozen=True, kw_only=True)
class SignalResumed(SignalReceived):
    EVENT = "SIGNAL_RESUMED"
    WHEN = "at start, a signal the last process received and never decided; it is then decided like a new one"

    def _text(self) -> str:
        return super()._text() + " (pending when the last process stopped)"


@dataclass(frozen=True, kw_only=True)
class SignalRejected(AuditEvent):
    EVENT = "SIGNAL_REJECTED"
    WHEN = ("a risk check said no, or the entry ended without a fill (found nothing, rejected by the venue, "
            "not written down)")

    signal_id: str
    market: str
    side: Side
    reason: str

    def _text(self) -> str:
        return f"{self.market} {self.side.value}: signal rejected: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class Rebalance(AuditEvent):
    EVENT = "REBALANCE"
    WHEN = ("a signal blocked by a cap asks the open positions which would free room (step asked), and the "
            "weakest is exited for it (step exit)")

    signal_id: str
    market: str
    side: Side
    step: str                       # asked / exit
    position_id: str | None = None
    position_edge: Decimal | None = None
    edge: Decimal | None = None
    reason: str | None = None
    positions: str | None = None    # the asked positions' ids, comma-separated

    def _text(self) -> str:
        head = f"{self.market} {self.side.value}: "
        if self.step == "exit":
            ours = "-" if self.edge is None else f"{self.edge * 100:.2f}"
            theirs = "-" if self.position_edge is None else f"{self.position_edge:.2f}"
            return head + f"rebalance exits {self.position_id} (current edge {theirs} vs {ours}) to enter this signal"
        asked = len(self.positions.split(",")) if self.positions else 0
        return (head + f"{self.reason}; edge after fees {_pct(self.edge)}: asking {asked} position(s) that would "
                "free room for their edge")


@dataclass(frozen=True, kw_only=True)
class TradeExecuted(AuditEvent):
    EVENT = "TRADE_EXECUTED"
    WHEN = ("an entry filled (start-up reconciliation states it again for an entry that filled while no "
            "process watched)")

    trade_id: str
    position_id: str
    order_id: str
    client_order_id: str
    status: OrderStatus
    entry_price: Decimal
    contracts: int
    cost: Decimal
    fees: Decimal
    stop_basis: Decimal | None = None      # the entry-time bid the stop is measured from
    platform: str | None = None
    market: str
    side: Side
    signal_id: str | None = None
    game_id: str | None = None
    fill_id: str | None = None
    recovered: bool = console(False)       # stated by reconciliation

    def _text(self) -> str:
        if self.recovered:
            return (f"reconcile: entry {self.client_order_id} had filled {self.contracts}; "
                    f"position {self.position_id} recovered")
        return (f"{self.market} {self.side.value}: OPENED {self.contracts} at {fmt_price(self.entry_price)}, cost "
                f"{fmt_usd(self.cost)}, fee {fmt_usd(self.fees)}")


@dataclass(frozen=True, kw_only=True)
class EntryNotFilled(AuditEvent):
    EVENT = "ENTRY_NOT_FILLED"
    WHEN = "the IOC entry found nothing, or an earlier process's entry never reached the venue"

    signal_id: str
    market: str
    client_order_id: str
    order_id: str | None = None
    limit_price: Decimal | None = console()    # None: never reached the venue

    def _text(self) -> str:
        if self.limit_price is None:
            return f"entry {self.client_order_id} of an earlier process never reached the venue; not sent again"
        return f"entry {self.client_order_id} found nothing at {fmt_price(self.limit_price)}"


@dataclass(frozen=True, kw_only=True)
class ModelStale(AuditEvent):
    EVENT = "MODEL_STALE"
    WHEN = "once per stale episode: a position's model probability is too old to drive edge exits"

    position_id: str
    market: str
    side: Side
    sport: str
    model_probability: Decimal
    estimated_at: datetime | None = None
    limit_secs: Decimal
    age: str = console("")                 # "12.5 min old" / "of unknown age (restored)"

    def _text(self) -> str:
        return (f"{self.market} {self.side.value}: model probability {self.model_probability:.4f} is {self.age} "
                f"(limit {self.limit_secs}s for {self.sport}): edge exits wait for a fresh one")


@dataclass(frozen=True, kw_only=True)
class PositionSettled(AuditEvent):
    EVENT = "POSITION_SETTLED"
    WHEN = "the market settled with contracts still held"

    position_id: str
    market: str
    result: Side
    contracts: int
    payout: Decimal
    realized_pnl: Decimal
    side: Side | None = console()

    def _text(self) -> str:
        return (f"{self.market} {self.side.value if self.side else '?'}: SETTLED {self.result.value}, "
                f"{self.contracts} paid {fmt_usd(self.payout)} each, {fmt_money(self.realized_pnl)}")


# How a POSITION_CLOSED came about, beside the position actor's own close (console only).
CLOSED_FROM_LEDGER = "ledger"                  # the supervisor, from fills in the ledger after a restart
CLOSED_SOLD_WHILE_DOWN = "sold_while_down"     # reconciliation: an interrupted exit sold everything
CLOSED_NOT_ON_VENUE = "not_on_venue"           # reconciliation: the venue holds none


@dataclass(frozen=True, kw_only=True)
class PositionClosed(AuditEvent):
    EVENT = "POSITION_CLOSED"
    WHEN = "no contracts left: sold, settled, or closed by reconciliation"

    position_id: str
    market: str
    side: Side
    reason: str
    priority: str | None = None
    realized_pnl: Decimal
    exit_fees: Decimal | None = None
    entry_fees: Decimal | None = None
    contracts_dropped: int | None = None
    closed_by: str | None = console()

    def _text(self) -> str:
        head = f"{self.market} {self.side.value}: CLOSED by "
        if self.closed_by == CLOSED_SOLD_WHILE_DOWN:
            return head + "reconciliation: every contract was sold by an exit that a restart interrupted"
        if self.closed_by == CLOSED_NOT_ON_VENUE:
            return head + "reconciliation: not on the venue"
        how = " (fills taken in from the ledger after a restart)," if self.closed_by == CLOSED_FROM_LEDGER else ","
        return head + f"{self.reason}{how} realized {fmt_money(self.realized_pnl)}"


@dataclass(frozen=True, kw_only=True)
class PositionReconciled(AuditEvent):
    EVENT = "POSITION_RECONCILED"
    WHEN = "start-up reconciliation follows the venue, which holds fewer contracts than the database"

    position_id: str
    market: str
    side: Side
    contracts_before: int
    contracts: int
    removed: int
    reason: str

    def _text(self) -> str:
        return (f"{self.market} {self.side.value}: reconciliation follows the venue: {self.contracts} held, not "
                f"{self.contracts_before} ({self.removed} gone outside Arbees)")


__all__ = ["SignalReceived", "SignalResumed", "SignalRejected", "Rebalance", "TradeExecuted", "EntryNotFilled",
           "ModelStale", "PositionSettled", "PositionClosed", "PositionReconciled"]
