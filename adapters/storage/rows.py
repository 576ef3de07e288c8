"""Rows <-> domain types for the repository: positions, orders and signals as the tables hold
them, and the positions upsert prepared once (adapters/storage/repository.py uses these).
"""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal

import peewee

from adapters.storage.tables import OrderRow, PositionRow
from models.market import Side
from models.orders import Action, OrderRequest, TimeInForce
from models.position import PositionState, PositionStatus
from models.records import OrderRecord, StoredOrderStatus
from models.signal import TradingSignal

POSITION_FIELDS = tuple(f.name for f in dataclasses.fields(PositionState)
                        if f.name != "model_probability_ts")   # not a column: unknown after a restart


def signal_to_json(signal: TradingSignal) -> str:
    data = {f.name: getattr(signal, f.name) for f in dataclasses.fields(TradingSignal)}
    data["ts"] = signal.ts.isoformat()
    data["side"] = signal.side.value
    for name in ("win_probability", "market_price"):
        data[name] = None if data[name] is None else str(data[name])
    return json.dumps(data, sort_keys=True)


def signal_from_json(text: str) -> TradingSignal:
    data = json.loads(text)
    data["ts"] = datetime.fromisoformat(data["ts"])
    data["side"] = Side(data["side"])
    for name in ("win_probability", "market_price"):
        data[name] = None if data[name] is None else Decimal(data[name])
    return TradingSignal(**data)


def upsert_query(data: dict[str, object]) -> peewee.Insert:
    columns = [f for f in PositionRow._meta.sorted_fields if f is not PositionRow.position_id]
    return (PositionRow.insert(**data)
            .on_conflict(conflict_target=[PositionRow.position_id], preserve=columns))


def prepare_query(query: peewee.Query, model: type[peewee.Model],
             data: dict[str, object]) -> tuple[str, tuple[peewee.Field, ...]] | tuple[()]:
    """A query's SQL text and the fields whose values fill its parameters, in order: the
    model's fields named in `data`, in the model's field order (the order peewee renders an
    INSERT's columns in) or, for a WHERE of equalities, in `data`'s order. Checked against
    peewee's own rendering of these values; () when they differ (then peewee builds it each time)."""
    sql, params = query.sql()
    fields = model._meta.fields
    for order in (tuple(f for f in model._meta.sorted_fields if f.name in data),
                  tuple(fields[name] for name in data if name in fields)):
        if len(order) == len(data) == len(params) and \
                [f.db_value(data[f.name]) for f in order] == list(params):
            return sql, order
    return ()


def with_defaults(model: type[peewee.Model], data: dict[str, object]) -> dict[str, object]:
    """`data` and the constant defaults of the model's other fields (what peewee inserts for
    them anyway); {} when a missing field's default is computed per row (not preparable)."""
    out = dict(data)
    for f in model._meta.sorted_fields:
        if f.name not in out and f.default is not None:
            if callable(f.default):
                return {}
            out[f.name] = f.default
    return out


def prepare_upsert(data: dict[str, object]) -> tuple[str, tuple[peewee.Field, ...]] | tuple[()]:
    """The upsert's SQL text and the fields whose values fill its parameters, in order.

    The statement is the same for every position (every column, the same conflict clause);
    peewee spends about a millisecond building it, several times what the database takes to
    run it, and the Store saves a position on every wake-up. The parameter order is checked
    against peewee's own rendering; if it ever differs, () makes every call build the query."""
    sql, params = upsert_query(data).sql()
    fields = tuple(f for f in PositionRow._meta.sorted_fields if f.name in data)
    if len(fields) != len(params) or [f.db_value(data[f.name]) for f in fields] != list(params):
        return ()
    return sql, fields


def position_row(position: PositionState) -> dict[str, object]:
    data = {name: getattr(position, name) for name in POSITION_FIELDS}
    data["side"] = position.side.value
    data["status"] = position.status.value
    return data


def position_from_row(row: PositionRow) -> PositionState:
    data = {name: getattr(row, name) for name in POSITION_FIELDS}
    data["side"] = Side(row.side)
    data["status"] = PositionStatus(row.status)
    return PositionState(**data)


def order_from_row(row: OrderRow) -> OrderRecord:
    request = OrderRequest(client_order_id=row.client_order_id, ticker=row.ticker, side=Side(row.side),
                           action=Action(row.action), count=row.count, limit_price=row.limit_price,
                           time_in_force=TimeInForce(row.time_in_force))
    return OrderRecord(request=request, status=StoredOrderStatus(row.status), created_at=row.created_at,
                       updated_at=row.updated_at, order_id=row.order_id, position_id=row.position_id,
                       exit_id=row.exit_id, filled_count=row.filled_count, avg_fill_price=row.avg_fill_price,
                       fees=row.fees)
