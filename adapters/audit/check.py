"""`python run.py audit`: does the database tell the same story as the audit log?

Each position's history is rebuilt from the audit log alone (adapters/audit/history.py) and
compared with the database, field by field:

| field | audit log | database |
|---|---|---|
| position | a TRADE_EXECUTED for it | a positions row |
| market, side, initial_contracts, entry_price, entry_fees | TRADE_EXECUTED | positions row |
| entry fill | TRADE_EXECUTED contracts | fills of the entry order |
| contracts (held) | bought - ORDER_FILLED sold (each fill once) - POSITION_SETTLED - POSITION_RECONCILED removed | positions.contracts |
| contracts reconciled away | POSITION_RECONCILED removed | position_exits rows "reconciled: venue holds fewer" |
| status | closed once POSITION_CLOSED, else open | closed, or open/exiting (both "open") |
| exit_reason | POSITION_CLOSED reason (closed positions) | positions.exit_reason |
| realized_pnl | POSITION_CLOSED's figure (closed), else recomputed from the fills | positions.realized_pnl |
| realized_pnl (from fills) | recomputed fill by fill, when it disagrees with both | positions.realized_pnl |
| exit_fees | sum of ORDER_FILLED fees | positions.exit_fees |
| fills of order X | ORDER_FILLED lines of that order | fills rows of that sell order |
| exit X | EXIT_COMPLETED / EXIT_GAVE_UP outcome and contracts | position_exits outcome row |
| settlement | POSITION_SETTLED contracts and payout | the position_exits settlement row |

Amounts compare as numbers ("0.21" equals "0.210000"). Reading is read-only: the database is
never migrated or written by a check.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Mapping

import peewee

from actors.clock import WallClock
from adapters.audit.history import AuditedPosition, AuditLogError, read_audit_log, rebuild_positions
from adapters.storage.database import SCHEMA_VERSION, DatabaseUrlError, connect
from adapters.storage.repository import Repository
from models.orders import Action, Fill
from models.position import PositionState, PositionStatus
from adapters.storage.tables import PositionRow, SchemaVersion
from models.records import ExitStatus
ABSENT = "absent"


class AuditInputError(ValueError):
    """The audit log or the database cannot be read (exit status 2); the message says which."""


@dataclass(frozen=True, slots=True)
class Difference:
    position_id: str
    field: str
    audit: str
    database: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    positions_in_log: int
    positions_in_database: int
    differences: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(frozen=True, slots=True)
class DatabasePosition:
    """What the database holds about one position."""

    state: PositionState
    exit_outcomes: tuple[tuple[str, str, int], ...]       # (exit_id, status, contracts sold)
    settlement: tuple[int, Decimal | None] | None         # (contracts, payout) when settled
    sell_fills: tuple[Fill, ...]
    entry_fills: tuple[Fill, ...]
    reconciled_away: int = 0       # contracts reconciliation found gone from the venue


def fmt(value: object) -> str:
    """Readable and exact: Decimals without trailing zeros, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    return str(value)


def read_database(repo: Repository, audited: Mapping[str, AuditedPosition]) -> dict[str, DatabasePosition]:
    out = {}
    for state in repo.all_positions():
        pid = state.position_id
        outcomes, settlement = [], None
        for e in repo.exits_for(pid):
            if e.status is ExitStatus.TRIGGERED:
                continue
            if e.reason == "settlement":
                settlement = (e.contracts, e.price)
            elif e.exit_id is not None:
                outcomes.append((e.exit_id, e.status.value, e.contracts))
        sells = tuple(f for o in repo.orders_for(pid) if o.order_id and o.request.action is Action.SELL
                      for f in repo.fills_for_order(o.order_id))
        a = audited.get(pid)
        entry = repo.fills_for_order(a.entry_order_id) if a is not None and a.entry_order_id else ()
        out[pid] = DatabasePosition(state, tuple(outcomes), settlement, sells,
                                    tuple(f for f in entry if f.action is Action.BUY),
                                    repo.contracts_reconciled_away(pid))
    return out


def compare(audited: Mapping[str, AuditedPosition], database: Mapping[str, DatabasePosition]) -> AuditReport:
    diffs: list[Difference] = []
    for pid in list(audited) + [p for p in database if p not in audited]:
        a, d = audited.get(pid), database.get(pid)
        if a is None or not a.opened:
            held = f"{d.state.status.value}, {d.state.contracts} held" if d else ABSENT
            diffs.append(Difference(pid, "position", ABSENT if a is None else "events but no TRADE_EXECUTED", held))
            continue
        if d is None:
            diffs.append(Difference(pid, "position", f"opened {a.initial_contracts} {a.side} at {fmt(a.entry_price)}",
                                    ABSENT))
            continue
        diffs.extend(_compare_one(a, d))
    return AuditReport(sum(1 for a in audited.values() if a.opened), len(database), tuple(diffs))


def _compare_one(a: AuditedPosition, d: DatabasePosition) -> list[Difference]:
    s = d.state
    out: list[Difference] = []

    def check(name: str, audit_value: object, db_value: object) -> None:
        if audit_value != db_value:
            out.append(Difference(a.position_id, name, fmt(audit_value), fmt(db_value)))

    check("market", a.market, s.ticker)
    check("side", a.side, s.side.value)
    check("initial_contracts", a.initial_contracts, s.initial_contracts)
    check("entry_price", a.entry_price, s.entry_price)
    if a.entry_fees is not None:
        check("entry_fees", a.entry_fees, s.entry_fees)
    if a.entry_order_id is not None:
        check("entry fill", _fills_text([(a.initial_contracts, a.entry_price, a.entry_fees)], fees=False),
              _fills_text([(f.count, f.price, f.fee) for f in d.entry_fills], fees=False))
    check("contracts", a.contracts, s.contracts)
    if a.reconciled_away or d.reconciled_away:
        check("contracts reconciled away", a.reconciled_away, d.reconciled_away)
    check("status", a.status, "closed" if s.status is PositionStatus.CLOSED else "open")
    if a.closed and s.status is PositionStatus.CLOSED:
        check("exit_reason", a.close_reason, s.exit_reason)
    if a.realized_pnl is not None:
        check("realized_pnl", a.realized_pnl, s.realized_pnl)
    from_fills = a.realized_pnl_from_fills
    if a.closed and from_fills is not None and from_fills != a.realized_pnl and from_fills != s.realized_pnl:
        check("realized_pnl (from fills)", from_fills, s.realized_pnl)
    check("exit_fees", a.exit_fees, s.exit_fees)
    orders = list(dict.fromkeys([f.order_id for f in a.fills] + [f.order_id for f in d.sell_fills]))
    for order_id in orders:
        check(f"fills of order {order_id}",
              _fills_text([(f.contracts, f.price, f.fee) for f in a.fills if f.order_id == order_id]),
              _fills_text([(f.count, f.price, f.fee) for f in d.sell_fills if f.order_id == order_id]))
    db_exits = {exit_id: (status, n) for exit_id, status, n in d.exit_outcomes}
    for exit_id in list(dict.fromkeys([e for e, _ in a.exits] + list(db_exits))):
        ended = dict(a.exits).get(exit_id)
        check(f"exit {exit_id}", f"{ended.outcome}, {ended.filled} sold" if ended else "not ended",
              "{}, {} sold".format(*db_exits[exit_id]) if exit_id in db_exits else "no outcome row")
    if a.settled_contracts or d.settlement is not None:
        check("settlement",
              f"{a.settled_contracts} at {fmt(a.settlement_payout)}" if a.settled_contracts else "none",
              f"{d.settlement[0]} at {fmt(d.settlement[1])}" if d.settlement else "none")
    return out


def _fills_text(fills: list[tuple[int, Decimal | None, Decimal | None]], *, fees: bool = True) -> str:
    """A canonical, readable multiset of fills: '7 at 0.28 fee 0.12; 8 at 0.3 fee 0'."""
    if not fills:
        return "none"
    parts = sorted((n, fmt(p), fmt(f)) for n, p, f in fills)
    return "; ".join(f"{n} at {p} fee {f}" if fees else f"{n} at {p}" for n, p, f in parts)


# --- files ------------------------------------------------------------------------------------

def open_database(db_path: str, environ: Mapping[str, str] | None = None) -> peewee.Database:
    """The database to check, without creating or migrating anything: a SQLite file must
    exist and hold Arbees's tables at a schema version this code reads."""
    environ = os.environ if environ is None else environ
    where = "DATABASE_URL" if environ.get("DATABASE_URL") else db_path
    if not environ.get("DATABASE_URL") and not Path(db_path).is_file():
        raise AuditInputError(f"{db_path}: no such database file")
    try:
        db = connect(db_path, environ=environ)
        if not db.table_exists(PositionRow._meta.table_name) or not db.table_exists(SchemaVersion._meta.table_name):
            db.close()
            raise AuditInputError(f"{where}: not an Arbees database (no positions table)")
        version = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0
    except DatabaseUrlError as exc:
        raise AuditInputError(str(exc)) from None
    except peewee.DatabaseError as exc:
        raise AuditInputError(f"{where}: cannot read the database ({type(exc).__name__}: {exc})") from None
    if version > SCHEMA_VERSION:
        db.close()
        raise AuditInputError(f"{where}: schema version {version} is newer than this code's {SCHEMA_VERSION}")
    return db


def check_files(log_path: Path, db_path: str, environ: Mapping[str, str] | None = None) -> AuditReport:
    """Rebuild from `log_path`, compare with the database. AuditInputError when either cannot
    be read (the log is read first, whole, so a bad line is reported before anything else)."""
    try:
        audited = rebuild_positions(read_audit_log(log_path), source=str(log_path))
    except AuditLogError as exc:
        raise AuditInputError(str(exc)) from None
    db = open_database(db_path, environ)
    try:
        database = read_database(Repository(db, WallClock()), audited)
    except (peewee.DatabaseError, ValueError) as exc:   # e.g. a row that no longer reads as its type
        raise AuditInputError(f"{db_path}: cannot read the database ({type(exc).__name__}: {exc})") from None
    finally:
        db.close()
    return compare(audited, database)


def format_report(report: AuditReport, log_path: object = "", db_path: object = "") -> str:
    lines = []
    if report.differences:
        rows = [("POSITION", "FIELD", "AUDIT LOG", "DATABASE")] + [
            (d.position_id, d.field, d.audit, d.database) for d in report.differences]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines += ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
        lines.append("")
    n = len(report.differences)
    affected = len({d.position_id for d in report.differences})
    source = f" ({log_path} vs {db_path})" if log_path else ""
    if n:
        lines.append(f"audit: {_plural(n, 'difference')} in {_plural(affected, 'position')}; "
                     f"{_plural(report.positions_in_log, 'position')} in the audit log, "
                     f"{report.positions_in_database} in the database{source}")
    else:
        lines.append(f"audit: the audit log and the database agree on {_plural(report.positions_in_log, 'position')} "
                     f"(opening, exit fills, exits, settlement, closing, contracts held, realized P&L){source}")
    return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"
