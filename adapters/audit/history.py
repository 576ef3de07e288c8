"""Every position's history, rebuilt from the JSONL audit log alone.

The audit log (adapters/audit/log.py) is written as decisions are made, by a different path
from the database (the Store actor), so it is an independent record: `python run.py audit`
rebuilds each position from it here and adapters/audit/check.py compares the result with the
database.

Events read (others are skipped, so newer logs keep working):
- TRADE_EXECUTED: the position opened (position_id, market, side, contracts, entry_price,
  fees, order_id). Start-up reconciliation may state it again for a recovered position; the
  later statement wins, field by field.
- ORDER_FILLED with a position_id: one exit fill (exit_id, order_id, contracts, price, fee,
  fill_id, filled_total). A kill -9 can leave one fill in the log twice (written before the
  kill, and again by the restart that found it missing from the ledger): a fill_id already
  seen is counted once, and a fill whose span of the order (filled_total - contracts to
  filled_total) lies inside one already counted is the same contracts told again (a later,
  wider fill replaces the narrower ones it covers).
- POSITION_RECONCILED: start-up reconciliation followed the venue (removed contracts gone
  outside Arbees).
- EXIT_COMPLETED / EXIT_GAVE_UP: how an exit ended (outcome, filled).
- POSITION_SETTLED: contracts paid out at settlement (contracts, payout).
- POSITION_CLOSED: the position closed (reason, realized_pnl, exit_fees).
- ACTOR_RESTARTED: counted (how often the position's actor, or its exit's executor, restarted).

A line that is not a JSON object with "ts" and "event", or one of these events with a field
of the wrong type, is an AuditLogError naming the file, the line and the field.
"""
from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from models.audit_events import REGISTRY, AuditFieldError, parse
from models.audit_events.base import field_types
from models.market import Side
from models.money import ZERO
from models.pnl import realized_pnl

# The executor's outcome words as the Store files them (actors/store.py _EXIT_STATUS).
OUTCOME_AS_STORED = {"filled": "filled", "gave_up": "gave_up", "preempted": "preempted", "canceled": "preempted"}


class AuditLogError(ValueError):
    """The audit log cannot be read: the message names the file, the line and what is wrong."""


@dataclass(frozen=True, slots=True)
class AuditLine:
    number: int
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExitFillEntry:
    """One ORDER_FILLED of an exit: `contracts` sold at `price` (average of this increment)."""

    exit_id: str
    order_id: str
    contracts: int
    price: Decimal
    fee: Decimal
    condition: str
    ts: str
    fill_id: str | None = None
    filled_total: int | None = None     # the order's cumulative filled count after this fill

    @property
    def span(self) -> tuple[int, int] | None:
        """The part of its order this fill covers, from the order's first contract."""
        return None if self.filled_total is None else (self.filled_total - self.contracts, self.filled_total)


@dataclass(frozen=True, slots=True)
class ExitOutcome:
    outcome: str          # as the database stores it: filled, gave_up or preempted
    filled: int


@dataclass(frozen=True, slots=True)
class AuditedPosition:
    """One position as the audit log tells it. `entry_fees` is None when the opening event did
    not carry it (then realized P&L cannot be recomputed from the fills)."""

    position_id: str
    opened: bool
    market: str | None
    side: str | None
    initial_contracts: int
    entry_price: Decimal | None
    entry_fees: Decimal | None
    entry_order_id: str | None
    fills: tuple[ExitFillEntry, ...]
    exits: tuple[tuple[str, ExitOutcome], ...]
    settled_contracts: int
    settlement_payout: Decimal | None
    closed: bool
    close_reason: str | None
    closed_realized_pnl: Decimal | None
    closed_exit_fees: Decimal | None
    restarts: int
    reconciled_away: int = 0

    @property
    def status(self) -> str:
        return "closed" if self.closed else "open"

    @property
    def contracts(self) -> int:
        """Held now: bought, less every exit fill, the contracts settled and those
        reconciliation found gone from the venue."""
        return (self.initial_contracts - sum(f.contracts for f in self.fills) - self.settled_contracts
                - self.reconciled_away)

    @property
    def exit_fees(self) -> Decimal:
        return sum((f.fee for f in self.fills), ZERO)

    @property
    def realized_pnl_from_fills(self) -> Decimal | None:
        """Realized P&L recomputed fill by fill, as the position actor books it (models/pnl.py):
        each sale nets its own fee and its share of the entry fee. None without the entry terms."""
        if self.entry_price is None or self.entry_fees is None or self.initial_contracts <= 0:
            return None
        total = ZERO
        for f in self.fills:
            share = self.entry_fees * f.contracts / self.initial_contracts
            total += realized_pnl(self.entry_price, f.price, f.contracts, f.fee, share)
        if self.settled_contracts and self.settlement_payout is not None:
            share = self.entry_fees * self.settled_contracts / self.initial_contracts
            total += realized_pnl(self.entry_price, self.settlement_payout, self.settled_contracts, ZERO, share)
        return total

    @property
    def realized_pnl(self) -> Decimal | None:
        """What the log says was realized: the closing event's figure, else the fills' sum."""
        return self.closed_realized_pnl if self.closed else self.realized_pnl_from_fills


def read_audit_log(path: Path) -> tuple[AuditLine, ...]:
    """Every non-blank line as a JSON object with "ts" and "event" (AuditLogError otherwise), of
    the log's rotated days first (adapters/audit/files.py), then the file itself."""
    from adapters.audit.files import audit_files

    files = [f for f in audit_files(path) if f != Path(path)]
    older = tuple(line for f in files for line in _read_one_audit_file(f))
    return older + _read_one_audit_file(Path(path))


def _read_one_audit_file(path: Path) -> tuple[AuditLine, ...]:
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise AuditLogError(f"{path}: cannot read the audit log ({exc.strerror or type(exc).__name__})") from None
    lines = []
    with fh:
        try:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except (ValueError, RecursionError) as exc:
                    why = exc.msg if isinstance(exc, json.JSONDecodeError) else f"{type(exc).__name__}: {str(exc)[:80]}"
                    raise AuditLogError(f"{path}:{number}: not valid JSON ({why})") from None
                lines.append(AuditLine(number, _checked_record(record, f"{path}:{number}")))
        except UnicodeDecodeError:
            raise AuditLogError(f"{path}:{len(lines) + 1}: not UTF-8 text (is this the audit log?)") from None
    return tuple(lines)


def lines_of(records: Iterable[dict[str, Any]], source: str = "audit") -> tuple[AuditLine, ...]:
    """Audit records held in memory (Audit's recorder), numbered from 1 like a file's lines."""
    return tuple(AuditLine(n, _checked_record(r, f"{source}:{n}")) for n, r in enumerate(records, start=1))


def _checked_record(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise AuditLogError(f"{where}: expected a JSON object, found {type(record).__name__}")
    for name in ("ts", "event"):
        if not isinstance(record.get(name), str) or not record[name]:
            raise AuditLogError(f"{where}: field {name!r}: expected a non-empty string, found {record.get(name)!r}")
    return record


@dataclass
class _Builder:
    position_id: str
    opened: bool = False
    market: str | None = None
    side: str | None = None
    initial_contracts: int = 0
    entry_price: Decimal | None = None
    entry_fees: Decimal | None = None
    entry_order_id: str | None = None
    fills: list[ExitFillEntry] = field(default_factory=list)
    exits: dict[str, ExitOutcome] = field(default_factory=dict)
    settled_contracts: int = 0
    settlement_payout: Decimal | None = None
    closed: bool = False
    close_reason: str | None = None
    closed_realized_pnl: Decimal | None = None
    closed_exit_fees: Decimal | None = None
    restarts: int = 0
    reconciled_away: int = 0

    def freeze(self) -> AuditedPosition:
        return AuditedPosition(
            self.position_id, self.opened, self.market, self.side, self.initial_contracts, self.entry_price,
            self.entry_fees, self.entry_order_id, tuple(self.fills), tuple(self.exits.items()),
            self.settled_contracts, self.settlement_payout, self.closed, self.close_reason,
            self.closed_realized_pnl, self.closed_exit_fees, self.restarts, self.reconciled_away)

    def add_fill(self, fill: ExitFillEntry) -> None:
        """Count a fill once (see the module docstring: a fill can be in the log twice)."""
        if fill.fill_id is not None and any(f.fill_id == fill.fill_id for f in self.fills):
            return
        span = fill.span
        if span is not None:
            same_order = [f for f in self.fills if f.order_id == fill.order_id and f.span is not None]
            if any(f.span[0] <= span[0] and span[1] <= f.span[1] for f in same_order):
                return
            covered = {id(f) for f in same_order if span[0] <= f.span[0] and f.span[1] <= span[1]}
            self.fills = [f for f in self.fills if id(f) not in covered]
        self.fills.append(fill)


# What `audit` says it expected of a field the history reads, by the field's type.
_EXPECTED = {int: "a whole number >= 0", Decimal: "a decimal amount such as \"0.5600\"", str: "a non-empty string",
             Side: '"yes" or "no"'}
# The fields the history reads, per event: a wrong type elsewhere in a record is not its business.
_READ = {"TRADE_EXECUTED": ("position_id", "market", "side", "contracts", "entry_price", "fees", "order_id"),
         "ORDER_FILLED": ("position_id", "exit_id", "order_id", "contracts", "price", "fee", "condition", "fill_id",
                          "filled_total"),
         "POSITION_RECONCILED": ("position_id", "removed"),
         "EXIT_COMPLETED": ("position_id", "outcome", "exit_id", "filled"),
         "EXIT_GAVE_UP": ("position_id", "exit_id", "filled"),
         "POSITION_SETTLED": ("position_id", "contracts", "payout"),
         "POSITION_CLOSED": ("position_id", "reason", "realized_pnl", "exit_fees"),
         "ACTOR_RESTARTED": ("position_id",)}


class _Fields:
    """Typed access to one record's event (models/audit_events/ `parse`); a wrong type is an
    AuditLogError naming the line."""

    def __init__(self, line: AuditLine, source: str) -> None:
        self.r = line.record
        self.where = f"{source}:{line.number}"
        record = dict(self.r)
        while True:
            try:
                self.e = parse(record)
                break
            except AuditFieldError as exc:
                if exc.name in _READ.get(exc.event, ()):
                    hint = field_types(REGISTRY[exc.event])[exc.name]
                    base = next((t for t in _EXPECTED if t in typing.get_args(hint) or t is hint), str)
                    raise self.fail(exc.name, _EXPECTED[base]) from None
                del record[exc.name]            # a field the history does not read: as lenient as before

    def fail(self, name: str, expected: str) -> AuditLogError:
        found = self.r.get(name, "<missing>")
        text = repr(found)
        text = text if len(text) <= 80 else text[:77] + "..."
        return AuditLogError(f"{self.where}: {self.r['event']} field {name!r}: expected {expected}, found {text}")

    def text(self, name: str, optional: bool = False) -> str | None:
        v = self.e.get(name)
        if v is None and optional:
            return None
        if not isinstance(v, str) or not v:
            raise self.fail(name, "a non-empty string")
        return v

    def count(self, name: str, optional: bool = False) -> int | None:
        v = self.e.get(name)
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise self.fail(name, "a whole number >= 0")
        return v

    def money(self, name: str, optional: bool = False) -> Decimal | None:
        v = self.e.get(name)
        if v is None and optional:
            return None
        if not isinstance(v, Decimal):
            raise self.fail(name, "a decimal amount such as \"0.5600\"")
        return v


def rebuild_positions(lines: Iterable[AuditLine], source: str = "audit") -> dict[str, AuditedPosition]:
    """position_id -> its history, in the order positions first appear in the log."""
    builders: dict[str, _Builder] = {}

    def get(pid: str) -> _Builder:
        return builders.setdefault(pid, _Builder(pid))

    for line in lines:
        event = line.record["event"]
        if event not in _READ:
            continue
        f = _Fields(line, source)
        pid = f.text("position_id", optional=event != "TRADE_EXECUTED")
        if pid is None:
            continue          # e.g. an exit event of an older log without ids: nothing to attribute
        b = get(pid)
        if event == "TRADE_EXECUTED":
            b.opened = True
            b.market = f.text("market")
            side = f.e.get("side")
            if not isinstance(side, Side):
                raise f.fail("side", '"yes" or "no"')
            b.side = side.value
            b.initial_contracts = f.count("contracts")
            b.entry_price = f.money("entry_price")
            fees = f.money("fees", optional=True)
            b.entry_fees = fees if fees is not None else b.entry_fees
            b.entry_order_id = f.text("order_id", optional=True) or b.entry_order_id
        elif event == "ORDER_FILLED":
            b.add_fill(ExitFillEntry(
                exit_id=f.text("exit_id"), order_id=f.text("order_id"), contracts=f.count("contracts"),
                price=f.money("price"), fee=f.money("fee", optional=True) or ZERO,
                condition=f.text("condition", optional=True) or "", ts=line.record["ts"],
                fill_id=f.text("fill_id", optional=True), filled_total=f.count("filled_total", optional=True)))
        elif event == "POSITION_RECONCILED":
            b.reconciled_away += f.count("removed")
        elif event in ("EXIT_COMPLETED", "EXIT_GAVE_UP"):
            outcome = "gave_up" if event == "EXIT_GAVE_UP" else f.text("outcome")
            if outcome not in OUTCOME_AS_STORED:
                raise f.fail("outcome", f"one of {', '.join(OUTCOME_AS_STORED)}")
            b.exits[f.text("exit_id")] = ExitOutcome(OUTCOME_AS_STORED[outcome], f.count("filled"))
        elif event == "POSITION_SETTLED":
            b.settled_contracts += f.count("contracts")
            b.settlement_payout = f.money("payout")
        elif event == "POSITION_CLOSED":
            b.closed = True
            b.close_reason = f.text("reason")
            b.closed_realized_pnl = f.money("realized_pnl")
            b.closed_exit_fees = f.money("exit_fees", optional=True)
        else:   # ACTOR_RESTARTED
            b.restarts += 1
    return {pid: b.freeze() for pid, b in builders.items()}
