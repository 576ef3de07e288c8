"""The audit event's shape: one frozen dataclass per event, its record and its parse.

An event's dataclass fields are the keys of its JSON record, typed (Decimal money, datetimes,
enums for what the JSON holds as their value); fields made with `console()` feed only the
console text (`text()`) and are not written. `to_record` gives the JSON object the audit
writer has always written: {"ts", "event", the fields that are not None (in field order),
"message": the console text}, Decimals as strings, datetimes ISO-8601, enums their value.
`parse` reads one back, leniently as the readers always have: a key the class does not know
is kept in `extra`, a missing one is None, an unknown event name is an `UnknownEvent`; a value
of the wrong type is an AuditFieldError naming the event and the field.
"""
from __future__ import annotations

import dataclasses
from collections import abc
import enum
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Mapping

RESERVED = ("ts", "event", "message")       # the keys every record has, beside its fields


def console(default: Any = None) -> Any:
    """A field the console text reads that the JSON record does not hold (so a parsed event
    has it None, and answers `text()` with the text it was written with)."""
    return field(default=default, compare=False, repr=False, metadata={"console": True})


def held(market: str | None, side: Any) -> str:
    """"MARKET side", the way console lines name a position ("?" for a side not known)."""
    return f"{market} {side.value if side is not None else '?'}"


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


class AuditFieldError(ValueError):
    """A record's field does not hold what its event's class says."""

    def __init__(self, event: str, name: str, expected: str, found: Any) -> None:
        self.event, self.name, self.expected, self.found = event, name, expected, found
        text = repr(found)
        text = text if len(text) <= 80 else text[:77] + "..."
        super().__init__(f"{event} field {name!r}: expected {expected}, found {text}")


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    """One decision of the engine. Subclasses set EVENT (the JSON "event"), WHEN (when it is
    emitted, for the documented table), LEVEL (the console level) and ALERT (sent to the
    operator's alert channels), declare their fields and write `_text()`."""

    EVENT: ClassVar[str] = ""
    WHEN: ClassVar[str] = ""
    LEVEL: ClassVar[str] = "INFO"
    ALERT: ClassVar[bool] = False

    ts: datetime | None = field(default=None, compare=False, repr=False)   # set when read back
    recorded_text: str | None = field(default=None, compare=False, repr=False)   # its "message", when read back
    extra: Mapping[str, Any] = field(default_factory=dict)    # keys of an older or newer log this class lacks

    @property
    def event(self) -> str:
        return type(self).EVENT

    def pages(self) -> bool:
        """Whether this record goes to the alert channels: every one of an ALERT class, unless
        the class says otherwise (ExitGaveUp: not every give-up of an episode pages)."""
        return type(self).ALERT

    def text(self) -> str:
        """The console line (also the record's "message")."""
        return self.recorded_text if self.recorded_text is not None else self._text()

    def _text(self) -> str:
        raise NotImplementedError

    def _key_order(self) -> tuple[str, ...]:
        """The order of the record's keys: the fields' order, unless an emit site always wrote
        another (kept so a record is the very line it was)."""
        return ()

    def get(self, name: str, default: Any = None) -> Any:
        """A field by its JSON key (typed), or an extra key's raw value."""
        if name in _recorded_names(type(self)):
            value = getattr(self, name)
            return default if value is None else value
        return self.extra.get(name, default)


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(AuditEvent):
    """An event name this version does not know (a newer log): its keys are all in `extra`."""

    name: str

    @property
    def event(self) -> str:
        return self.name

    def _text(self) -> str:
        return self.name


def recorded_fields(cls: type[AuditEvent]) -> tuple[dataclasses.Field, ...]:
    return tuple(f for f in dataclasses.fields(cls)
                 if f.name not in ("ts", "recorded_text", "extra") and not f.metadata.get("console")
                 and cls is not UnknownEvent)


def _recorded_names(cls: type[AuditEvent]) -> frozenset[str]:
    return frozenset(f.name for f in recorded_fields(cls))


def field_types(cls: type[AuditEvent]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def to_record(event: AuditEvent, ts: datetime) -> dict[str, Any]:
    """The JSON object of `event` stamped `ts`, as the audit writer writes it."""
    record: dict[str, Any] = {"ts": ts.isoformat(), "event": event.event}
    first = event._key_order()
    names = first + tuple(f.name for f in recorded_fields(type(event)) if f.name not in first)
    for name in names:
        value = getattr(event, name)
        if value is not None:
            record[name] = to_jsonable(value)
    record.update({k: to_jsonable(v) for k, v in event.extra.items() if v is not None and k not in RESERVED})
    record["message"] = event.text()
    return record


def _describe(hint: Any) -> str:
    return {Decimal: 'a decimal amount such as "0.5600"', int: "a whole number", str: "a string",
            bool: "true or false", float: "a number", datetime: "an ISO-8601 time"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _coerce(event: str, name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        for option in options[:-1]:
            try:
                return _coerce(event, name, value, option)
            except AuditFieldError:
                continue
        return _coerce(event, name, value, options[-1])
    if hint is Any or origin in (dict, abc.Mapping) or hint in (dict, object):
        if origin in (dict, abc.Mapping) and not isinstance(value, dict):
            raise AuditFieldError(event, name, "a JSON object", value)
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise AuditFieldError(event, name, "a list", value)
        (item, _) = typing.get_args(hint)
        return tuple(_coerce(event, name, v, item) for v in value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise AuditFieldError(event, name, f"one of {', '.join(str(m.value) for m in hint)}", value) from None
    if hint is Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise AuditFieldError(event, name, _describe(hint), value)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise AuditFieldError(event, name, _describe(hint), value) from None
        if not number.is_finite():
            raise AuditFieldError(event, name, _describe(hint), value)
        return number
    if hint is datetime:
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise AuditFieldError(event, name, _describe(hint), value) from None
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise AuditFieldError(event, name, _describe(hint), value)
    if hint is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise AuditFieldError(event, name, _describe(hint), value)
    if hint in (str, bool) and not isinstance(value, hint):
        raise AuditFieldError(event, name, _describe(hint), value)
    return value


def parse_with(registry: Mapping[str, type[AuditEvent]], record: Mapping[str, Any]) -> AuditEvent:
    """The typed event of one record (see the module docstring for what is lenient)."""
    name = str(record.get("event", ""))
    ts = record.get("ts")
    try:
        stamp = datetime.fromisoformat(ts) if isinstance(ts, str) else None
    except ValueError:
        stamp = None
    text = record.get("message")
    text = text if isinstance(text, str) else None
    cls = registry.get(name)
    if cls is None:
        extra = {k: v for k, v in record.items() if k not in RESERVED}
        return UnknownEvent(name=name, ts=stamp, recorded_text=text, extra=extra)
    hints = field_types(cls)
    known = _recorded_names(cls)
    values = {n: None if record.get(n) is None else _coerce(name, n, record[n], hints[n]) for n in known}
    consoles = {f.name: None for f in dataclasses.fields(cls) if f.metadata.get("console")}
    extra = {k: v for k, v in record.items() if k not in RESERVED and k not in known}
    return cls(**values, **consoles, ts=stamp, recorded_text=text, extra=extra)
