"""Audit events of orders at the venue, entries and exits (models/audit_events/base.py: the shape)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from models.audit_events.base import AuditEvent, console
from models.audit_events.base import held as _held
from models.market import Side
from models.money import fmt_price, fmt_usd
from models.orders import TimeInForce


@dataclass(frozen=True, kw_only=True)
class _ExitOrderSent(AuditEvent):
    WHEN = "an order is sent"

    position_id: str | None = None
    market: str
    exit_id: str | None = None
    client_order_id: str
    price: Decimal
    previous_price: Decimal | None = None
    contracts: int
    time_in_force: TimeInForce | None = None
    condition: str | None = None
    priority: str | None = None
    walk: int | None = None
    bid: Decimal | None = None             # the book the exit order was priced from (the held side's)
    ask: Decimal | None = None
    held: Side | None = console()          # the side held (the record names it only for an entry)

    def _sell(self, what: str) -> str:
        tif = self.time_in_force.name if self.time_in_force is not None else "?"
        book = f" (bid {fmt_price(self.bid)}, ask {fmt_price(self.ask)})" if self.bid is not None or self.ask is not None else ""
        return (f"{_held(self.market, self.held)}: sell {self.contracts} {what} {fmt_price(self.price)} ({tif}) "
                f"for {self.condition}{book}")


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(_ExitOrderSent):
    """An entry's IOC buy (signal_id, side, purpose "entry"), an exit's first order, or the fail-safe's
    IOC sell (condition "fail_safe")."""

    EVENT = "ORDER_PLACED"
    WHEN = "an order is sent: an entry, an exit's first order, or the fail-safe's sell"

    signal_id: str | None = None
    side: Side | None = None
    purpose: str | None = None
    entry_reason: str | None = console()   # the sizing decision's reason, for an entry

    def _key_order(self) -> tuple[str, ...]:
        if self.purpose == "entry":
            return ("signal_id", "market", "client_order_id", "side", "contracts", "price", "time_in_force")
        return ()

    def _text(self) -> str:
        if self.purpose == "entry":
            return (f"{_held(self.market, self.side)}: ENTRY buy {self.contracts} at {fmt_price(self.price)} (IOC), "
                    f"{self.entry_reason}")
        if self.condition == "fail_safe":
            return f"{_held(self.market, self.held)}: fail-safe sell {self.contracts} at {self.price:.2f} (IOC)"
        return self._sell("placed")


@dataclass(frozen=True, kw_only=True)
class OrderWalked(_ExitOrderSent):
    EVENT = "ORDER_WALKED"
    WHEN = "an exit's resting order is walked a tick toward the bid, or kept at its floor"

    kept: bool | None = None

    def _text(self) -> str:
        if self.kept:
            return (f"{_held(self.market, self.held)}: sell {self.contracts} kept at {fmt_price(self.price)} (GTC), "
                    f"its floor: a walk cannot go lower, for {self.condition}")
        what = f"walked {fmt_price(self.previous_price)} ->" if self.previous_price is not None else "walked"
        return self._sell(what)


@dataclass(frozen=True, kw_only=True)
class OrderEscalated(_ExitOrderSent):
    EVENT = "ORDER_ESCALATED"
    WHEN = "an exit's order is replaced by a marketable one"

    def _text(self) -> str:
        return self._sell("escalated to marketable")


@dataclass(frozen=True, kw_only=True)
class OrderCanceled(AuditEvent):
    EVENT = "ORDER_CANCELED"
    WHEN = "an exit's order was canceled (its timeout), or reconciliation canceled one left resting"

    position_id: str | None = None
    market: str | None = None
    exit_id: str | None = None
    order_id: str | None = None
    client_order_id: str
    filled: int | None = None
    count: int | None = None
    held: Side | None = console()
    by_reconcile: bool = console(False)
    withdrawn: bool = console(False)     # taken back while it waited for the call budget: never sent

    def _key_order(self) -> tuple[str, ...]:
        return ("client_order_id", "order_id", "filled") if self.by_reconcile else ()

    def _text(self) -> str:
        if self.by_reconcile:
            return f"reconcile: canceled {self.client_order_id} left resting by an earlier run"
        if self.withdrawn:
            return (f"{_held(self.market, self.held)}: order {self.client_order_id} withdrawn before it reached the "
                    f"venue (it waited for the call budget): never sent")
        return f"{_held(self.market, self.held)}: order {self.order_id} canceled ({self.filled}/{self.count} filled)"


@dataclass(frozen=True, kw_only=True)
class OrderFilled(AuditEvent):
    EVENT = "ORDER_FILLED"
    WHEN = "an exit order filled (in part): one per increment; reconciliation states fills made while no process watched"

    position_id: str | None = None
    market: str
    exit_id: str | None = None
    order_id: str
    client_order_id: str | None = None
    contracts: int
    price: Decimal
    fee: Decimal
    condition: str | None = None
    priority: str | None = None
    fill_id: str | None = None
    filled_total: int | None = None
    held: Side | None = console()
    by_reconcile: bool = console(False)

    def _text(self) -> str:
        head = f"{_held(self.market, self.held)}: FILLED sold {self.contracts} at {fmt_price(self.price)} " \
               f"(fee {fmt_usd(self.fee)}) "
        if self.by_reconcile:
            return head + "while no process watched (found by reconciliation)"
        return head + f"for {self.condition}"


@dataclass(frozen=True, kw_only=True)
class FillAfterExit(AuditEvent):
    EVENT = "FILL_AFTER_EXIT"
    WHEN = ("the venue's stream reported a fill of an exit's order after that exit had ended: not counted again, "
            "the exit counted its order's fills from the venue's final answer for it (its cancel or its execution)")

    position_id: str
    market: str
    exit_id: str
    order_id: str
    client_order_id: str
    contracts: int
    price: Decimal
    fill_id: str
    ledger_filled: int | None = None       # what the fills ledger holds for that order (None: no ledger read)
    held: Side | None = console()

    def _text(self) -> str:
        held = "" if self.ledger_filled is None else f" (the ledger holds {self.ledger_filled} for it)"
        return (f"{_held(self.market, self.held)}: the stream reported {self.contracts} sold at "
                f"{fmt_price(self.price)} on order {self.order_id} after exit {self.exit_id} ended: already "
                f"counted from the venue's final answer for that order{held}, not counted again")


@dataclass(frozen=True, kw_only=True)
class OrderRejected(AuditEvent):
    EVENT = "ORDER_REJECTED"
    WHEN = "the venue rejected an entry or an exit order"
    LEVEL = "WARNING"

    signal_id: str | None = None
    exit_id: str | None = None
    position_id: str | None = None
    market: str | None = None
    client_order_id: str | None = None
    error: str

    def _text(self) -> str:
        if self.exit_id is not None:
            return f"exit {self.exit_id}: order rejected: {self.error}"
        return f"entry {self.client_order_id} failed: {self.error}"


# What an ORDER_LOOKUP is about (console only).
LOOKUP_EXIT_RECOVERED = "exit_recovered"     # a restarted executor found its exit's earlier orders
LOOKUP_EXIT = "exit"                         # an exit order's state is looked up
LOOKUP_ENTRY = "entry"                       # an entry's answer was lost: looked up
LOOKUP_ENTRY_AT_START = "entry_at_start"     # an entry unconfirmed at start-up, held reserved
LOOKUP_NEVER_SENT = "never_sent"             # reconciliation: the order never reached the venue


@dataclass(frozen=True, kw_only=True)
class OrderLookup(AuditEvent):
    EVENT = "ORDER_LOOKUP"
    WHEN = ("an order's state is looked up: after a lost answer, at start-up, or by a restarted executor "
            "recovering its exit")

    signal_id: str | None = None
    exit_id: str | None = None
    position_id: str | None = None
    client_order_id: str | None = None
    market: str | None = None
    filled: int | None = None
    about: str = console(LOOKUP_EXIT)
    held: Side | None = console()
    ticker: str | None = console()
    earlier_orders: int | None = console()
    error: str | None = console()

    def _text(self) -> str:
        if self.about == LOOKUP_EXIT_RECOVERED:
            return (f"{_held(self.ticker, self.held)}: exit recovered with {self.earlier_orders} earlier orders, "
                    f"{self.filled} sold")
        if self.about == LOOKUP_ENTRY:
            return f"entry {self.client_order_id}: looking it up after {self.error}"
        if self.about == LOOKUP_ENTRY_AT_START:
            return (f"entry {self.client_order_id}: unconfirmed at start-up; {_held(self.market, self.held)} "
                    "held reserved while it is looked up")
        if self.about == LOOKUP_NEVER_SENT:
            return f"reconcile: {self.client_order_id} never reached the venue"
        return f"exit {self.exit_id}: looking up {self.client_order_id}"
