"""The peewee tables: declarations only, bound to `database_proxy` (adapters/storage/database.py connects).

Money columns are `MoneyField`s, DecimalField(max_digits=18, decimal_places=6,
auto_round=False) that store a value exactly or refuse it: no float, no silent rounding.
On SQLite they are TEXT columns, because SQLite's NUMERIC affinity would turn "0.5600" into
a binary float; on PostgreSQL they are NUMERIC(18, 6). Ratios computed by division
(percentages, probabilities, edge) are `RatioField`s, rounded half-even to 6 places.

Times are `UtcDateTimeField`s: timezone-aware datetimes in, stored as naive UTC (the same
on both backends, no session time zone involved), aware UTC out. A naive datetime is refused.

Status columns hold the `.value` of the enums of models/records.py and carry CHECK constraints.
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal

import peewee

from models.money import ZERO
from models.records import AttemptAction, ExitStatus, SignalDecision, StoredOrderStatus

database_proxy = peewee.DatabaseProxy()

MONEY_PLACES = 6
MONEY_DIGITS = 18
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)


def _check_in(column: str, enum_type: type[enum.Enum]) -> peewee.SQL:
    values = ", ".join(f"'{member.value}'" for member in enum_type)
    return peewee.Check(f"{column} IN ({values})")


def _is_sqlite(field: peewee.Field) -> bool:
    db = field.model._meta.database
    return isinstance(getattr(db, "obj", db), peewee.SqliteDatabase)


def _column(field: peewee.Field) -> str:
    return f"{field.model._meta.table_name}.{field.column_name}"


class MoneyField(peewee.DecimalField):
    """Decimal dollars, stored exactly. A float, a non-finite value, more than 6 decimal places
    or more than 12 integer digits raise ValueError naming the column."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max_digits", MONEY_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_PLACES)
        kwargs.setdefault("auto_round", False)
        super().__init__(*args, **kwargs)

    def ddl_datatype(self, ctx):  # noqa: ANN001, ANN201 - peewee's signature
        if _is_sqlite(self):
            return peewee.SQL("TEXT")
        return super().ddl_datatype(ctx)

    def db_value(self, value: object) -> Decimal | None:
        if value is None:
            return None
        if not isinstance(value, (Decimal, int)) or isinstance(value, bool):
            raise ValueError(f"{_column(self)}: expected a Decimal, found {type(value).__name__} {value!r}")
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"{_column(self)}: expected a finite Decimal, found {value!r}")
        value = self.fit(value)
        if abs(value) >= _LIMIT:
            raise ValueError(f"{_column(self)}: {value} has more than {MONEY_DIGITS - MONEY_PLACES} integer digits")
        return value

    def fit(self, value: Decimal) -> Decimal:
        if value != value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN):
            raise ValueError(f"{_column(self)}: {value} has more than {MONEY_PLACES} decimal places; "
                             "round it before storing (money is never rounded silently)")
        return value

    def python_value(self, value: object) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class RatioField(MoneyField):
    """A Decimal computed by division (a percentage, a probability, an edge): rounded half-even
    to 6 places on the way in, exact otherwise."""

    def fit(self, value: Decimal) -> Decimal:
        return value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


class UtcDateTimeField(peewee.DateTimeField):
    """A timezone-aware datetime, stored as naive UTC, read back as aware UTC."""

    def db_value(self, value: object) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise ValueError(f"{_column(self)}: expected a datetime, found {type(value).__name__} {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{_column(self)}: expected a timezone-aware datetime, found naive {value.isoformat()}")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def python_value(self, value: object) -> datetime | None:
        value = super().python_value(value)
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise ValueError(f"{_column(self)}: cannot read {value!r} as a datetime")
        if value.tzinfo is not None:
            return value.astimezone(timezone.utc)
        return value.replace(tzinfo=timezone.utc)


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    applied_at = UtcDateTimeField()

    class Meta:
        table_name = "schema_version"


class PositionRow(BaseModel):
    """One row per position; mirrors models/position.py PositionState field for field."""

    position_id = peewee.CharField(primary_key=True)
    ticker = peewee.CharField()
    side = peewee.CharField(constraints=[peewee.Check("side IN ('yes', 'no')")])
    signal_type = peewee.CharField()
    sport = peewee.CharField()
    game_id = peewee.CharField(null=True)
    entry_price = MoneyField()
    initial_contracts = peewee.IntegerField()
    contracts = peewee.IntegerField()
    entry_fees = MoneyField()
    opened_at = UtcDateTimeField()
    status = peewee.CharField(index=True, constraints=[peewee.Check("status IN ('open', 'exiting', 'closed')")])
    model_probability = RatioField(null=True)
    current_price = MoneyField(null=True)
    unrealized_pnl = MoneyField(null=True)
    unrealized_pnl_pct = RatioField(null=True)
    last_update = UtcDateTimeField(null=True)
    trailing_stop_active = peewee.BooleanField(default=False)
    peak_price = MoneyField(null=True)
    trailing_stop_price = MoneyField(null=True)
    exit_reason = peewee.CharField(null=True)
    exit_priority = peewee.CharField(null=True)
    partial_stages_done = peewee.IntegerField(default=0)
    realized_pnl = MoneyField(default=ZERO)
    exit_fees = MoneyField(default=ZERO)
    closed_at = UtcDateTimeField(null=True)
    close_time = UtcDateTimeField(null=True)
    stop_basis = MoneyField(null=True)

    class Meta:
        table_name = "positions"
        indexes = ((("ticker", "side", "status"), False),)


class PositionExitRow(BaseModel):
    """The exit log: one row per trigger recorded (status 'triggered', exit_id set only for the
    trigger that was routed) and one row per executed exit when it ends ('filled', 'gave_up'
    or 'preempted', with contracts sold, average price and fees). (exit_id, status) is unique,
    so recording an exit's outcome twice after a restart keeps one row."""

    id = peewee.AutoField()
    position = peewee.ForeignKeyField(PositionRow, column_name="position_id", field="position_id",
                                      backref="exits", on_delete="CASCADE", index=True)
    exit_id = peewee.CharField(null=True)
    reason = peewee.CharField()
    priority = peewee.CharField()
    contracts = peewee.IntegerField(default=0)
    price = MoneyField(null=True)
    fees = MoneyField(default=ZERO)
    status = peewee.CharField(constraints=[_check_in("status", ExitStatus)])
    triggered_at = UtcDateTimeField()
    filled_at = UtcDateTimeField(null=True)
    trigger_value = RatioField(null=True)
    threshold = RatioField(null=True)
    detail = peewee.TextField(default="")

    class Meta:
        table_name = "position_exits"
        indexes = ((("exit_id", "status"), True),)


class ExitAttemptRow(BaseModel):
    """One row per step an executor takes: placed, walked, escalated, canceled, filled, gave up."""

    id = peewee.AutoField()
    exit_id = peewee.CharField(index=True)
    position = peewee.ForeignKeyField(PositionRow, column_name="position_id", field="position_id",
                                      backref="exit_attempts", on_delete="CASCADE", index=True)
    attempt = peewee.IntegerField()
    client_order_id = peewee.CharField()
    order_id = peewee.CharField(null=True)
    price = MoneyField()
    contracts = peewee.IntegerField()
    action = peewee.CharField(constraints=[_check_in("action", AttemptAction)])
    ts = UtcDateTimeField()
    detail = peewee.TextField(default="")

    class Meta:
        table_name = "exit_attempts"


class SignalRow(BaseModel):
    """Every signal the EntryManager saw and what it decided. `contracts` is the forced size, if any."""

    signal_id = peewee.CharField(primary_key=True)
    ts = UtcDateTimeField(index=True)
    game_id = peewee.CharField(null=True, index=True)
    sport = peewee.CharField()
    ticker = peewee.CharField()
    platform = peewee.CharField()
    side = peewee.CharField(constraints=[peewee.Check("side IN ('yes', 'no')")])
    signal_type = peewee.CharField()
    win_probability = RatioField()
    market_price = MoneyField(null=True)
    edge = RatioField(null=True)
    source = peewee.CharField()
    contracts = peewee.IntegerField(null=True)
    decision = peewee.CharField(constraints=[_check_in("decision", SignalDecision)])
    reason = peewee.TextField(default="")

    class Meta:
        table_name = "signals"


class OrderRow(BaseModel):
    """Every order we send, written (status 'pending') before it is sent."""

    client_order_id = peewee.CharField(primary_key=True)
    order_id = peewee.CharField(null=True, index=True)
    position_id = peewee.CharField(null=True, index=True)
    exit_id = peewee.CharField(null=True, index=True)
    ticker = peewee.CharField()
    side = peewee.CharField(constraints=[peewee.Check("side IN ('yes', 'no')")])
    action = peewee.CharField(constraints=[peewee.Check("action IN ('buy', 'sell')")])
    count = peewee.IntegerField()
    limit_price = MoneyField()
    time_in_force = peewee.CharField()
    status = peewee.CharField(index=True, constraints=[_check_in("status", StoredOrderStatus)])
    filled_count = peewee.IntegerField(default=0)
    avg_fill_price = MoneyField(null=True)
    fees = MoneyField(default=ZERO)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()

    class Meta:
        table_name = "orders"


class FillRow(BaseModel):
    fill_id = peewee.CharField(primary_key=True)
    order_id = peewee.CharField(index=True)
    client_order_id = peewee.CharField(index=True)
    ticker = peewee.CharField()
    side = peewee.CharField(constraints=[peewee.Check("side IN ('yes', 'no')")])
    action = peewee.CharField(constraints=[peewee.Check("action IN ('buy', 'sell')")])
    count = peewee.IntegerField()
    price = MoneyField()
    fee = MoneyField()
    is_taker = peewee.BooleanField(default=True)
    ts = UtcDateTimeField()

    class Meta:
        table_name = "fills"


# One engine per account (issue 9 §4): at most one open (or exiting) position per market and
# side, enforced by the database itself (a partial unique index, on SQLite and PostgreSQL).
OPEN_POSITION_INDEX = "positions_one_open_per_market_side"
OPEN_POSITION_WHERE = "status IN ('open', 'exiting')"
PositionRow.add_index(peewee.SQL(
    f"CREATE UNIQUE INDEX IF NOT EXISTS {OPEN_POSITION_INDEX} ON positions (ticker, side) WHERE {OPEN_POSITION_WHERE}"))


class BreakerTripRow(BaseModel):
    """A circuit-breaker trip: it holds for its trading day (`day`, YYYY-MM-DD in the configured
    time zone) until an operator clears it (`cleared_at`, `cleared_by`)."""

    id = peewee.AutoField()
    day = peewee.CharField(index=True)
    kind = peewee.CharField()
    reason = peewee.TextField()
    tripped_at = UtcDateTimeField()
    cleared_at = UtcDateTimeField(null=True)
    cleared_by = peewee.CharField(null=True)

    class Meta:
        table_name = "breaker_trips"


class PendingSignalRow(BaseModel):
    """A signal received and not yet decided (its quote read in flight): decided at the next
    start if the process stops first. Removed when the signal's decision is recorded."""

    signal_id = peewee.CharField(primary_key=True)
    received_at = UtcDateTimeField()
    payload = peewee.TextField()

    class Meta:
        table_name = "pending_signals"


# Creation order (positions before the tables that reference it).
ALL_TABLES: tuple[type[BaseModel], ...] = (
    SchemaVersion, PositionRow, PositionExitRow, ExitAttemptRow, SignalRow, OrderRow, FillRow,
    BreakerTripRow, PendingSignalRow,
)
