"""Readers for single Kalshi wire fields, each raising MalformedPayload that names the field.

Kalshi now sends prices as `*_dollars` strings and counts as `*_fp` strings; `dollars` and
`count` read those and fall back to the legacy integer field (cents, whole contracts) when only
it is present. `where` is the path of the enclosing object ("GetOrdersResponse.orders[3]"), so a
message reads "Kalshi payload GetOrdersResponse.orders[3].fill_count_fp: expected ..., found ...".
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation, ROUND_FLOOR
from typing import Any, Mapping, Sequence

from models.venue import MalformedPayload
from models.money import HUNDRED, ZERO

# No dollar amount or contract count Kalshi sends comes near these; past them a value is garbage,
# and refusing it here keeps absurd magnitudes (int(Decimal("1e999999")) takes minutes, a sum of
# two such fees overflows the decimal context) out of the arithmetic that follows.
MAX_DECIMAL = Decimal(10) ** 12          # dollars or contracts: the database keeps 12 integer digits
MAX_LEGACY_INT = 10 ** 15                # integer cents, counts and Unix seconds
DOLLAR_PLACES = Decimal("0.000001")


def bad(where: str, expected: str, found: object) -> MalformedPayload:
    text = repr(found)
    if len(text) > 120:
        text = text[:117] + "..."
    return MalformedPayload(f"Kalshi payload {where}: expected {expected}, found {text}")


def as_object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad(where, "a JSON object", value)
    return value


def as_list(value: object, where: str, *, allow_null: bool = False) -> Sequence[Any]:
    if value is None and allow_null:
        return ()
    if not isinstance(value, list):
        raise bad(where, "a JSON array", value)
    return value


def get_str(obj: Mapping[str, Any], name: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise bad(f"{where}.{name}", "a string", "<missing>")
        return None
    if not isinstance(value, str):
        raise bad(f"{where}.{name}", "a string", value)
    return value


def decimal_text(value: object, where: str) -> Decimal:
    if not isinstance(value, str):
        raise bad(where, "a decimal string such as \"0.5600\"", value)
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        raise bad(where, "a decimal string such as \"0.5600\"", value) from None
    if not d.is_finite():
        raise bad(where, "a finite decimal string", value)
    if d.copy_abs() >= MAX_DECIMAL:          # copy_abs: no rounding, no context overflow
        raise bad(where, "a decimal string below 10^12 in size", value)
    return d


def legacy_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(where, "an integer", value)
    if abs(value) >= MAX_LEGACY_INT:
        raise bad(where, "an integer below 10^15 in size", value)
    return value


def dollars(obj: Mapping[str, Any], name: str, where: str, *, legacy_cents: str | None = None,
            required: bool = True) -> Decimal | None:
    """`name` ("0.5600") as Decimal dollars, else `legacy_cents` (56) / 100, else None/raise.

    At most 6 decimal places (Kalshi sends 4): the database keeps 6 and refuses to round, so a
    finer price would make every write of a position marked with it fail."""
    if obj.get(name) is not None:
        d = decimal_text(obj[name], f"{where}.{name}")
        if d != d.quantize(DOLLAR_PLACES):
            raise bad(f"{where}.{name}", "a dollar amount with at most 6 decimal places", obj[name])
        return d
    if legacy_cents is not None and obj.get(legacy_cents) is not None:
        return Decimal(legacy_int(obj[legacy_cents], f"{where}.{legacy_cents}")) / HUNDRED
    if required:
        names = name if legacy_cents is None else f"{name} (or legacy {legacy_cents})"
        raise bad(f"{where}.{names}", "a dollar amount", "<missing>")
    return None


def fp_count(value: object, where: str, *, whole: bool, signed: bool = False) -> int:
    d = decimal_text(value, where)
    if d < ZERO and not signed:
        raise bad(where, "a non-negative contract count", value)
    if d != d.to_integral_value():
        if whole:
            raise bad(where, "a whole number of contracts", value)
        d = d.to_integral_value(rounding=ROUND_FLOOR)
    return int(d)


def count(obj: Mapping[str, Any], name: str, where: str, *, legacy: str | None = None,
          required: bool = True, whole: bool = True, signed: bool = False) -> int | None:
    """`name` ("10.00") as int contracts, else the legacy integer field, else None/raise.

    whole=True rejects fractional counts (orders, fills, positions must be whole contracts here);
    whole=False floors them (informational sizes and volumes); signed=True allows negatives."""
    if obj.get(name) is not None:
        return fp_count(obj[name], f"{where}.{name}", whole=whole, signed=signed)
    if legacy is not None and obj.get(legacy) is not None:
        n = legacy_int(obj[legacy], f"{where}.{legacy}")
        if n < 0 and not signed:
            raise bad(f"{where}.{legacy}", "a non-negative contract count", n)
        return n
    if required:
        names = name if legacy is None else f"{name} (or legacy {legacy})"
        raise bad(f"{where}.{names}", "a contract count", "<missing>")
    return None


def timestamp(obj: Mapping[str, Any], name: str, where: str, *, required: bool = True) -> datetime | None:
    """An RFC 3339 time ("2026-01-27T01:15:00Z") as an aware datetime."""
    text = get_str(obj, name, where, required=required)
    if text is None or (text == "" and not required):
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise bad(f"{where}.{name}", "an RFC 3339 time such as 2026-01-27T01:15:00Z", text) from None
    if dt.tzinfo is None:
        raise bad(f"{where}.{name}", "a time with a timezone", text)
    return dt


def enum_field(obj: Mapping[str, Any], name: str, where: str, enum_type: type) -> Any:
    text = get_str(obj, name, where)
    try:
        return enum_type(text)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_type)
        raise bad(f"{where}.{name}", f"one of {allowed}", text) from None


def cursor(body: Mapping[str, Any], where: str) -> str | None:
    """The next-page cursor, None when there is no next page."""
    value = body.get("cursor")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad(f"{where}.cursor", "a string", value)
    return value
