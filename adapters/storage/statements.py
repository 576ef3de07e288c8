"""The Store's hot statements that are not a plain insert or exists (adapters/storage/repository.py
runs them through `run`, which builds each one's SQL once per Repository with peewee's compiler
for its database): each a Statement.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import peewee

from adapters.storage.tables import OrderRow, PositionExitRow


@dataclass(frozen=True, eq=False)
class Statement:
    """A query built from its parameter values, and the field of each parameter in the order
    peewee renders them."""

    build: Callable[..., peewee.Query]
    fields: tuple[peewee.Field, ...]


def _update_order(order_id: object, status: object, filled_count: object, avg_fill_price: object, fees: object,
                 updated_at: object, client_order_id: object) -> peewee.Query:
    return (OrderRow.update(order_id=order_id, status=status, filled_count=filled_count, avg_fill_price=avg_fill_price,
                            fees=fees, updated_at=updated_at).where(OrderRow.client_order_id == client_order_id))


UPDATE_ORDER = Statement(_update_order, (OrderRow.order_id, OrderRow.status, OrderRow.filled_count,
                                         OrderRow.avg_fill_price, OrderRow.fees, OrderRow.updated_at,
                                         OrderRow.client_order_id))


def _set_order_status(status: object, updated_at: object, client_order_id: object) -> peewee.Query:
    return OrderRow.update(status=status, updated_at=updated_at).where(OrderRow.client_order_id == client_order_id)


SET_ORDER_STATUS = Statement(_set_order_status, (OrderRow.status, OrderRow.updated_at, OrderRow.client_order_id))


def _latest_unlinked_trigger(position_id: object, reason: object, status: object) -> peewee.Query:
    return (PositionExitRow.select(PositionExitRow.id)
            .where((PositionExitRow.position == position_id) & (PositionExitRow.reason == reason)
                   & (PositionExitRow.status == status) & PositionExitRow.exit_id.is_null())
            .order_by(PositionExitRow.id.desc()).limit(peewee.SQL("1")))


LATEST_UNLINKED_TRIGGER = Statement(_latest_unlinked_trigger,
                                    (PositionExitRow.position, PositionExitRow.reason, PositionExitRow.status))


def _link_trigger(exit_id: object, row_id: object) -> peewee.Query:
    return PositionExitRow.update(exit_id=exit_id).where(PositionExitRow.id == row_id)


LINK_TRIGGER = Statement(_link_trigger, (PositionExitRow.exit_id, PositionExitRow.id))


def run(db: peewee.Database, cache: dict[object, Any], statement: Statement, *values: object) -> Any:
    """The cursor of `statement.build(*values)` run on `db`. Its SQL is built once per `cache` (a
    Repository's) by peewee's compiler for `db` (each dialect its own), then run with `values`
    converted by `statement.fields`. The order is checked against peewee's own parameters the first
    time; if they differ, peewee builds the statement on every call."""
    build, fields = statement.build, statement.fields
    prepared = cache.get(statement)
    if prepared is None:
        sql, params = db.get_sql_context().sql(build(*values)).query()
        ok = len(params) == len(fields) and [f.db_value(v) for f, v in zip(fields, values)] == list(params)
        prepared = cache[statement] = (sql, fields) if ok else ()
    if not prepared:
        return db.execute(build(*values))
    return db.execute_sql(prepared[0], [f.db_value(v) for f, v in zip(fields, values)])
