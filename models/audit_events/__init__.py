"""The audit trail's events as types: one frozen dataclass per event (its JSON fields typed, its
console text a method), the registry name -> class, and `parse(record)` for the readers.

The audit writer (adapters/audit/log.py) turns an event into its JSON record with `to_record`;
the readers (adapters/audit/history.py, ...) get typed events back with `parse`. The JSON is the
one Arbees has always written, so old logs still read. `event_table()` is the documented table.
"""
from __future__ import annotations

import dataclasses
from collections import abc
import enum
import types
import typing
from typing import Any, Mapping

from models.audit_events.base import (AuditEvent, AuditFieldError, UnknownEvent, console, field_types, parse_with,
                                      recorded_fields, to_jsonable, to_record)
from models.audit_events.engine import (ActorCrashed, ActorRestarted, Alert, CircuitBreakerReset,
                                        CircuitBreakerRestored, CircuitBreakerTripped, ControlCommand, EngineFailedSafe,
                                        EngineStartup, ExitsAdopted, Heartbeat, PositionsAdopted, RateLimited,
                                        VenueError)
from models.audit_events.exits import (ExitCompleted, ExitGaveUp, ExitHeld, ExitPreempted, ExitRouted,
                                       ExitTriggered)
from models.audit_events.orders import (LOOKUP_ENTRY, LOOKUP_ENTRY_AT_START, LOOKUP_EXIT, LOOKUP_EXIT_RECOVERED,
                                        LOOKUP_NEVER_SENT, FillAfterExit, OrderCanceled, OrderEscalated, OrderFilled,
                                        OrderLookup, OrderPlaced, OrderRejected, OrderWalked)
from models.audit_events.stream import (MarketPolled, MarketStreamed, QuotesBack, StreamConnected, StreamDisconnected,
                                        StreamError)
from models.audit_events.trading import (CLOSED_FROM_LEDGER, CLOSED_NOT_ON_VENUE, CLOSED_SOLD_WHILE_DOWN,
                                         EntryNotFilled, ModelStale, PositionClosed, PositionReconciled,
                                         PositionSettled, Rebalance, SignalReceived, SignalRejected, SignalResumed,
                                         TradeExecuted)

# In the order the documented table lists them: a trade's life first, then the engine's.
EVENT_CLASSES: tuple[type[AuditEvent], ...] = (
    SignalReceived, SignalRejected, SignalResumed, Rebalance, OrderPlaced, TradeExecuted, EntryNotFilled,
    ExitTriggered, ModelStale, ExitHeld, ExitRouted, ExitPreempted, OrderWalked, OrderEscalated, OrderCanceled,
    OrderFilled, FillAfterExit, OrderRejected, OrderLookup, ExitGaveUp, ExitCompleted, PositionClosed, PositionSettled,
    PositionReconciled, CircuitBreakerTripped, CircuitBreakerRestored, CircuitBreakerReset, ActorCrashed,
    ActorRestarted, Alert, RateLimited, VenueError, EngineStartup, EngineFailedSafe, PositionsAdopted, ExitsAdopted,
    Heartbeat, ControlCommand, StreamConnected, StreamDisconnected, StreamError, MarketStreamed, MarketPolled,
    QuotesBack,
)
REGISTRY: Mapping[str, type[AuditEvent]] = {cls.EVENT: cls for cls in EVENT_CLASSES}
EVENTS: tuple[str, ...] = tuple(REGISTRY)
ALERT_EVENTS: frozenset[str] = frozenset(cls.EVENT for cls in EVENT_CLASSES if cls.ALERT)   # the alert channels send these


def parse(record: Mapping[str, Any]) -> AuditEvent:
    """The typed event of one JSON record: unknown names are UnknownEvent, keys a class lacks go
    to `extra`, missing ones are None; a value of the wrong type is an AuditFieldError."""
    return parse_with(REGISTRY, record)


def _type_name(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return " / ".join(str(m.value) for m in hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if typing.get_origin(hint) is tuple:
        return "list"
    if typing.get_origin(hint) in (dict, abc.Mapping) or hint is Any:
        return "object"
    return {"Decimal": "decimal", "str": "text", "int": "integer", "float": "number", "bool": "true/false",
            "datetime": "time"}.get(getattr(hint, "__name__", str(hint)), getattr(hint, "__name__", str(hint)))


def event_fields(cls: type[AuditEvent]) -> str:
    """`name (type)` of each recorded field, in record order; optional ones marked `?`."""
    hints = field_types(cls)
    out = []
    for f in recorded_fields(cls):
        optional = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        out.append(f"{f.name}{'?' if optional else ''} ({_type_name(hints[f.name])})")
    return ", ".join(out)


def event_table() -> str:
    """The documented table of every audit event: its name, when it is emitted, its fields."""
    rows = ["| event | when | fields (`?`: may be absent) |", "|---|---|---|"]
    for cls in EVENT_CLASSES:
        flags = " (alert)" if cls.ALERT else ""
        rows.append(f"| {cls.EVENT} | {cls.WHEN}{flags} | {event_fields(cls)} |")
    return "\n".join(rows) + "\n"


__all__ = [
    "AuditEvent", "AuditFieldError", "UnknownEvent", "console", "to_jsonable", "to_record", "parse", "REGISTRY",
    "EVENTS", "ALERT_EVENTS", "EVENT_CLASSES", "event_table", "event_fields",
    *(cls.__name__ for cls in EVENT_CLASSES),
    "LOOKUP_ENTRY", "LOOKUP_ENTRY_AT_START", "LOOKUP_EXIT", "LOOKUP_EXIT_RECOVERED", "LOOKUP_NEVER_SENT",
    "CLOSED_FROM_LEDGER", "CLOSED_NOT_ON_VENUE", "CLOSED_SOLD_WHILE_DOWN",
]
