"""Audit events of exits: triggers, routing and how an exit ended (models/audit_events/base.py: the shape)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from models.audit_events.base import AuditEvent, console
from models.audit_events.base import held as _held
from models.market import Side
from models.money import plural


@dataclass(frozen=True, kw_only=True)
class ExitTriggered(AuditEvent):
    EVENT = "EXIT_TRIGGERED"
    WHEN = ("a condition starts firing (once per episode; a condition flickering while an exit is in flight is "
            "not announced again)")

    position_id: str
    market: str
    side: Side
    condition: str
    priority: str
    value: Decimal | None = None
    threshold: Decimal | None = None
    contracts: int
    mark: Decimal | None = None
    detail: str = ""

    def _text(self) -> str:
        return f"{self.market} {self.side.value}: trigger {self.condition} ({self.priority}): {self.detail}"


@dataclass(frozen=True, kw_only=True)
class ExitHeld(AuditEvent):
    EVENT = "EXIT_HELD"
    WHEN = ("a trigger leads to nothing: another exit is in flight, its condition cools down after a give-up, "
            "or its stage is already sold (once per reason)")

    position_id: str
    market: str
    condition: str
    priority: str
    reason: str
    exit_id: str | None = None            # of the exit in flight
    held: Side | None = console()

    def _text(self) -> str:
        return f"{_held(self.market, self.held)}: {self.condition} ({self.priority}) not started: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class ExitRouted(AuditEvent):
    EVENT = "EXIT_ROUTED"
    WHEN = "the router starts an exit"

    position_id: str
    market: str
    exit_id: str
    condition: str
    priority: str
    contracts: int
    also_firing: tuple[str, ...] = ()
    held: Side | None = console()

    def _text(self) -> str:
        also = f" (also firing: {', '.join(self.also_firing)})" if self.also_firing else ""
        return (f"{_held(self.market, self.held)}: EXIT {self.condition} ({self.priority}) for "
                f"{plural(self.contracts, 'contract')}" + also)


@dataclass(frozen=True, kw_only=True)
class ExitPreempted(AuditEvent):
    EVENT = "EXIT_PREEMPTED"
    WHEN = "a more urgent exit replaces one in flight"

    position_id: str
    market: str
    exit_id: str
    preempted: str
    by: str
    priority: str                          # of the exit that preempts
    held: Side | None = console()
    preempted_priority: str | None = console()

    def _text(self) -> str:
        return (f"{_held(self.market, self.held)}: {self.by} ({self.priority}) preempts {self.preempted} "
                f"({self.preempted_priority})")


@dataclass(frozen=True, kw_only=True)
class ExitGaveUp(AuditEvent):
    EVENT = "EXIT_GAVE_UP"
    WHEN = "an exit ran out of walks or attempts (an alert)"
    LEVEL = "WARNING"
    ALERT = True

    position_id: str
    market: str
    exit_id: str
    condition: str
    priority: str
    filled: int
    remaining: int
    walks: int
    detail: str
    in_a_row: int = 1                     # give-ups of this position and condition in a row (the episode)
    held: Side | None = console()

    def pages(self) -> bool:
        """The 1st, 2nd, 4th, 8th ... give-up in a row reaches a person, not every one: a stop
        facing a market with no bid gives up every 15 s to 2 min, for as long as it lasts."""
        n = self.in_a_row or 1              # (a log written before the field: every give-up paged)
        return n & (n - 1) == 0

    def _text(self) -> str:
        again = f" ({self.in_a_row} give-ups in a row)" if (self.in_a_row or 1) > 1 else ""
        return (f"ALERT {_held(self.market, self.held)}: exit for {self.condition} gave up{again}: {self.detail}; "
                f"{plural(self.remaining, 'contract')} still held and monitored")


@dataclass(frozen=True, kw_only=True)
class ExitCompleted(AuditEvent):
    EVENT = "EXIT_COMPLETED"
    WHEN = "an exit ended (filled / preempted / canceled); reconciliation ends one a restart interrupted"

    position_id: str
    market: str
    exit_id: str
    condition: str | None = None
    priority: str | None = None
    outcome: str
    filled: int
    remaining: int | None = None
    walks: int | None = None
    held: Side | None = console()
    ordered: int | None = console()        # the exit's contracts
    interrupted: bool = console(False)     # found by reconciliation after a restart

    def _text(self) -> str:
        if self.interrupted:
            return (f"{_held(self.market, self.held)}: exit {self.exit_id} interrupted by a restart, {self.filled} "
                    "sold (found by reconciliation)")
        return f"{_held(self.market, self.held)}: exit {self.outcome}, {self.filled}/{self.ordered} sold"
