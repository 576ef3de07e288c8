"""Start-up reconciliation: make the database agree with the venue before anything is sent.

Run after a crash (or any start) before the actor system starts. Nothing new is ordered here;
the only venue writes are cancels of orders an earlier process left resting.

1. Every order the database says may be live (pending = maybe sent, or resting) is looked up
   by its client_order_id. Never reached the venue -> marked canceled. Still resting -> canceled
   (its position's exit will be decided afresh). Whatever filled is recorded in the fills ledger
   (fill ids as the executor writes them, so nothing is counted twice).
2. An entry order that filled while its position was never written (the crash came between the
   fill and the position) becomes the position, from its signal.
3. Open positions are rebuilt from the fills ledger; then each market's net holding is compared
   with the venue's, with these rules (each an ALERT in the audit log):
   - the venue holds none of a position the database has open -> the position is closed in the
     database with exit_reason "reconciled: not on venue" (settled or sold elsewhere);
   - the venue holds fewer -> the database follows the venue (contracts reduced);
   - the venue holds more than the database knows -> alert only: Arbees never trades contracts
     it did not open.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from models import audit_events as ae
from models.records import ExitRecord
from models.venue import BudgetExhausted, OrderNotFound, Venue, VenueError
from models.closing import close_position
from models.ledger import RECONCILED_AWAY, fill_id, new_fill, totals
from models.market import Side
from models.money import ZERO, q6
from models.orders import Action, Fill, OrderSnapshot
from models.position import PositionState, PositionStatus
from models.records import ExitStatus, StoredOrderStatus
@dataclass
class ReconcileReport:
    orders_checked: int = 0
    orders_canceled: int = 0
    fills_recorded: int = 0
    positions_created: list[str] = field(default_factory=list)
    positions_adjusted: list[str] = field(default_factory=list)
    positions_closed: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    unconfirmed_positions: set[str] = field(default_factory=set)   # do not resume these yet
    # Entry orders with no position yet whose state the venue did not tell: (request, signal or
    # None). The engine keeps their market+side reserved and cost counted until confirmed.
    unconfirmed_entries: list = field(default_factory=list)
    venue_calls: int = 0
    holdings_compared: bool = False   # the venue's positions were read and compared with ours
    call_times: list = field(default_factory=list)   # hand to the RateLimiter (PriorCalls): same budget
    clock: Any = field(default=None, repr=False)
    budget: Any = field(default=None, repr=False)      # models.budget.CallBudget shared with what came before
    wait: Any = field(default=None, repr=False)        # wait(until): sleep (live) or run virtual time
    venue: Any = field(default=None, repr=False)       # to hand a request gate to (Kalshi: pages, retries)


def reconcile(venue: Venue, repository, audit, clock, *, budget=None, wait=None) -> ReconcileReport:  # type: ignore[no-untyped-def]
    """`budget` (a CallBudget holding the calls already made this minute) and `wait(until)` make
    reconciliation keep the venue call budget: it waits for room before each call."""
    from actors.supervisor import rebuild_positions

    report = ReconcileReport(clock=clock, budget=budget, wait=wait, venue=venue)

    def alert(text: str, **fields) -> None:  # type: ignore[no-untyped-def]
        report.alerts.append(text)
        audit.emit(ae.Alert(said=f"ALERT reconcile: {text}", **fields))

    interrupted: dict[tuple[str, str], int] = {}
    for rec in repository.open_orders():
        report.orders_checked += 1
        cid = rec.client_order_id
        try:
            snap = _retrying(lambda: venue.find_order(cid), report)
            if snap is None:
                repository.set_order_status(cid, StoredOrderStatus.CANCELED)
                audit.emit(ae.OrderLookup(client_order_id=cid, about=ae.LOOKUP_NEVER_SENT))
                continue
            if not snap.is_done:
                order_id = snap.order_id
                try:
                    snap = _retrying(lambda: venue.cancel_order(order_id), report)
                except OrderNotFound:
                    snap = _retrying(lambda: venue.get_order(order_id), report)
                report.orders_canceled += 1
                audit.emit(ae.OrderCanceled(client_order_id=cid, order_id=snap.order_id, filled=snap.filled_count,
                                            position_id=rec.position_id, exit_id=rec.exit_id, by_reconcile=True))
        except VenueError as exc:
            pid = rec.position_id or f"pos-{cid.removeprefix('en-')}"
            report.unconfirmed_positions.add(pid)
            req = rec.request
            if req.action is Action.BUY and repository.load_position(pid) is None:
                sig = repository.signal(cid.removeprefix("en-"))
                report.unconfirmed_entries.append((req, sig.signal if sig is not None else None))
                alert(f"cannot confirm entry order {cid}: {type(exc).__name__}; it stays marked live, {req.ticker} "
                      f"{req.side.value} stays reserved and its cost ({req.count} at {req.limit_price}) counted in "
                      "the caps until the venue confirms it", client_order_id=cid, market=req.ticker, side=req.side)
                continue
            alert(f"cannot confirm order {cid}: {type(exc).__name__}; it stays marked live and its position is "
                  "not resumed until a later reconcile confirms it", client_order_id=cid)
            continue
        repository.update_order(snap)
        if snap.filled_count > rec.filled_count:
            report.fills_recorded += _record_fill(repository, rec, snap, audit)
            if rec.exit_id and rec.position_id:
                interrupted[(rec.position_id, rec.exit_id)] = interrupted.get((rec.position_id, rec.exit_id), 0) + (
                    snap.filled_count - rec.filled_count)
        if rec.request.action is Action.BUY and snap.filled_count > 0:
            _adopt_entry(repository, rec, snap, report, audit, clock)

    for (pid, exit_id) in interrupted:
        # The exit a restart interrupted never wrote its outcome: record what it sold in all
        # (every fill of every order of that exit, from the ledger).
        state = repository.load_position(pid)
        fills = [f for o in repository.orders_for(pid) if o.exit_id == exit_id and o.order_id
                 for f in repository.fills_for_order(o.order_id)]
        sold = sum(f.count for f in fills)
        stage = re.search(r"x\d+p(\d+)$", exit_id)
        if state is not None and sold > 0 and stage is not None:
            # A partial stage that sold while no process watched is done: it must not fire again.
            done = max(state.partial_stages_done, int(stage.group(1)) + 1)
            state = state.replace(partial_stages_done=done, exit_reason="partial_exit_target")
            repository.upsert_position(state)
        if state is not None and sold > 0:
            # What it sold, at what average price and fees (the summary and audit read them).
            repository.record_exit_event(ExitRecord(
                position_id=pid, reason=state.exit_reason or "interrupted", priority=state.exit_priority or "",
                status=ExitStatus.PREEMPTED, triggered_at=clock.now(), exit_id=exit_id, contracts=sold,
                price=q6(sum((f.price * f.count for f in fills), ZERO) / sold),
                fees=sum((f.fee for f in fills), ZERO),
                filled_at=clock.now(), detail="interrupted by a restart; fills found by reconciliation"))
            # ... and the same outcome in the audit log, which `run.py audit` checks against it.
            audit.emit(ae.ExitCompleted(position_id=pid, market=state.ticker, exit_id=exit_id,
                                        condition=state.exit_reason, outcome="preempted", filled=sold,
                                        held=state.side, interrupted=True))

    by_market: dict[str, int] = {}
    sides: dict[str, set[Side]] = {}
    states = repository.load_open_positions()
    for state, (rebuilt, _) in zip(states, rebuild_positions(repository, states)):
        if rebuilt != state:
            if rebuilt.status is PositionStatus.CLOSED:
                rebuilt = close_position(rebuilt, clock.now(), rebuilt.exit_reason or "reconciled: sold")
                audit.emit(ae.PositionClosed(position_id=state.position_id, market=state.ticker, side=state.side,
                                             reason=rebuilt.exit_reason, realized_pnl=rebuilt.realized_pnl,
                                             exit_fees=rebuilt.exit_fees, entry_fees=rebuilt.entry_fees,
                                             closed_by=ae.CLOSED_SOLD_WHILE_DOWN))
            repository.upsert_position(rebuilt)
            report.positions_adjusted.append(state.position_id)
        if rebuilt.contracts > 0:
            sign = 1 if rebuilt.side is Side.YES else -1
            by_market[rebuilt.ticker] = by_market.get(rebuilt.ticker, 0) + sign * rebuilt.contracts
            sides.setdefault(rebuilt.ticker, set()).add(rebuilt.side)
    try:
        venue_net = {p.ticker: p.position for p in _retrying(venue.get_positions, report)}
    except VenueError as exc:
        alert(f"venue positions unavailable ({type(exc).__name__}): holdings not compared")
        return report
    report.holdings_compared = True
    for ticker in sorted(set(by_market) | {t for t, n in venue_net.items() if n}):
        ours, theirs = by_market.get(ticker, 0), venue_net.get(ticker, 0)
        if ours == theirs:
            continue
        unsure = [p.position_id for p in repository.load_open_positions()
                  if p.ticker == ticker and p.position_id in report.unconfirmed_positions]
        if len(sides.get(ticker, ())) > 1 or unsure:
            # The venue reports one net number per market (YES - NO), and an order of ours there is
            # unconfirmed or we hold both sides: which position differs is not knowable. Alert only.
            alert(f"{ticker}: the venue nets {theirs}, the database {ours}; not adjusted automatically "
                  f"({'orders unconfirmed' if unsure else 'positions on both sides'})", market=ticker,
                  venue=theirs, database=ours)
            continue
        if abs(theirs) > abs(ours) and (ours == 0 or (ours > 0) == (theirs > 0)):
            alert(f"{ticker}: the venue holds {theirs}, the database {ours}; not adopted (Arbees trades only "
                  "what it opened)", market=ticker, venue=theirs, database=ours)
            continue
        for state in repository.load_open_positions():
            if state.ticker != ticker:
                continue
            held_on_venue = max(0, theirs if state.side is Side.YES else -theirs)
            if held_on_venue < state.contracts:
                _record_correction(repository, audit, clock, state, held_on_venue)
            if held_on_venue == 0:
                repository.upsert_position(close_position(state, clock.now(), "reconciled: not on venue"))
                report.positions_closed.append(state.position_id)
                audit.emit(ae.PositionClosed(position_id=state.position_id, market=ticker, side=state.side,
                                             reason="reconciled: not on venue", realized_pnl=state.realized_pnl,
                                             exit_fees=state.exit_fees, entry_fees=state.entry_fees,
                                             contracts_dropped=state.contracts, closed_by=ae.CLOSED_NOT_ON_VENUE))
                alert(f"{state.position_id}: {state.contracts} {state.side.value} {ticker} not on the venue; "
                      "closed in the database", position_id=state.position_id, market=ticker)
            elif held_on_venue < state.contracts:
                repository.upsert_position(state.replace(contracts=held_on_venue))
                report.positions_adjusted.append(state.position_id)
                alert(f"{state.position_id}: venue holds {held_on_venue} of {state.contracts}; following the venue",
                      position_id=state.position_id, market=ticker)
    logger.debug("reconcile: {} orders checked, {} canceled, {} fills recorded, {} alerts", report.orders_checked,
                report.orders_canceled, report.fills_recorded, len(report.alerts))
    return report


def _record_correction(repository, audit, clock, state: PositionState, held_on_venue: int) -> None:  # type: ignore[no-untyped-def]
    """The venue holds fewer than the database (sold or settled outside Arbees): the difference
    is written down where the ledger rebuild (models/ledger.py) and `run.py audit` find it, a
    position_exits row (reason RECONCILED_AWAY) and a POSITION_RECONCILED audit event."""
    removed = state.contracts - held_on_venue
    repository.record_exit_event(ExitRecord(
        position_id=state.position_id, reason=RECONCILED_AWAY, priority="", status=ExitStatus.TRIGGERED,
        triggered_at=clock.now(), contracts=removed,
        detail=f"start-up reconciliation: the venue holds {held_on_venue} of {state.contracts}"))
    audit.emit(ae.PositionReconciled(position_id=state.position_id, market=state.ticker, side=state.side,
                                     contracts_before=state.contracts, contracts=held_on_venue, removed=removed,
                                     reason=RECONCILED_AWAY))


def _retrying(call, report: ReconcileReport, attempts: int = 3):  # type: ignore[no-untyped-def]
    """A venue call retried at once on a passing failure (5xx, timeout, 429): reconciliation
    runs before the actors and their back-off exist. Other errors go to the caller.

    With a budget, a venue that takes a request gate (Kalshi) counts every HTTP request (pages,
    its own retries) in it; a call the gate stops half-way waits for room and runs again."""
    set_gate = getattr(report.venue, "set_request_gate", None)
    if report.budget is not None and callable(set_gate):
        return _gated(call, report, set_gate, attempts)
    for attempt in range(attempts):
        if report.budget is not None:
            now = report.clock.now()
            if not report.budget.available(now) and report.wait is not None:
                report.wait(report.budget.next_free(now))
            report.budget.record(report.clock.now())
        report.venue_calls += 1
        report.call_times.append(report.clock.now())
        try:
            return call()
        except VenueError as exc:
            if not exc.retryable or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _gated(call, report: ReconcileReport, set_gate, attempts: int):  # type: ignore[no-untyped-def]
    sent = 0

    def admit(now, what: str) -> bool:  # type: ignore[no-untyped-def]
        nonlocal sent
        if not report.budget.try_spend_for(now, report.budget.limit):
            return False
        sent += 1
        report.venue_calls += 1
        report.call_times.append(now)
        return True

    attempt = 0
    while True:
        now = report.clock.now()
        if not report.budget.available(now):
            if report.wait is None:
                raise BudgetExhausted("reconcile: the call budget is spent and there is no way to wait")
            report.wait(report.budget.next_free(now))
        sent = 0
        previous = set_gate(admit)
        try:
            return call()
        except BudgetExhausted:
            if sent >= report.budget.limit or report.wait is None:
                raise          # more requests than a whole minute's budget: it can never fit
        except VenueError as exc:
            attempt += 1
            if not exc.retryable or attempt >= attempts:
                raise
        finally:
            set_gate(previous)


def _record_fill(repository, rec, snap: OrderSnapshot, audit=None) -> int:  # type: ignore[no-untyped-def]
    """The part of the order that filled since the database last heard, as one ledger entry."""
    # Relative to the fills ledger, not the order row: the row can lag the ledger (they are
    # separate writes), and fill ids are cumulative per order.
    n, price, fee = new_fill(totals(repository.fills_for_order(snap.order_id)), snap)
    if n <= 0:
        return 0
    fid = fill_id(snap.order_id, snap.filled_count)
    ok = repository.record_fill(Fill(fid, snap.order_id, snap.client_order_id,
                                     snap.ticker, snap.side, snap.action, n, price, fee,
                                     snap.created_ts or rec.updated_at))
    if ok and snap.action is Action.SELL and audit is not None:
        audit.emit(ae.OrderFilled(position_id=rec.position_id, market=snap.ticker, exit_id=rec.exit_id,
                                  order_id=snap.order_id, client_order_id=snap.client_order_id, contracts=n, price=price,
                                  fee=fee, fill_id=fid, filled_total=snap.filled_count, held=snap.side,
                                  by_reconcile=True))
    return 1 if ok else 0


def _adopt_entry(repository, rec, snap: OrderSnapshot, report, audit, clock) -> None:  # type: ignore[no-untyped-def]
    signal_id = rec.client_order_id.removeprefix("en-")
    pid = f"pos-{signal_id}"
    if repository.load_position(pid) is not None:
        return
    sig = repository.signal(signal_id)
    if sig is None:
        report.alerts.append(f"entry {rec.client_order_id} filled but its signal is unknown")
        audit.emit(ae.Alert(said=f"ALERT reconcile: entry {rec.client_order_id} filled {snap.filled_count} but its "
                                 "signal is not in the database; not adopted", client_order_id=rec.client_order_id))
        return
    s = sig.signal
    state = PositionState(position_id=pid, ticker=s.ticker, side=s.side, signal_type=s.signal_type, sport=s.sport,
                          game_id=s.game_id, entry_price=q6(snap.avg_fill_price or snap.limit_price),
                          initial_contracts=snap.filled_count, contracts=snap.filled_count, entry_fees=snap.fees,
                          opened_at=clock.now(), model_probability=s.win_probability)
    repository.upsert_position(state)
    report.positions_created.append(pid)
    audit.emit(ae.TradeExecuted(trade_id=snap.order_id, position_id=pid, order_id=snap.order_id,
                                client_order_id=snap.client_order_id, status=snap.status, entry_price=state.entry_price,
                                contracts=snap.filled_count, cost=state.entry_price * snap.filled_count, fees=snap.fees,
                                platform=s.platform, market=s.ticker, side=s.side, signal_id=s.signal_id,
                                fill_id=fill_id(snap.order_id, snap.filled_count), recovered=True))


