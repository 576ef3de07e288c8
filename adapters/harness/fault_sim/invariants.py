"""The invariants every fault-simulation session must keep, checked after it ends.

`check_invariants(observation)` returns a Violation per broken rule (empty when all hold).
The observation is taken after the session's final stop and start-up reconciliation, so
orders that were in flight at the end have been looked up and their fills recorded.

- no_oversell: no sell was ever sent for more than was held less what resting sells
  committed (the venue checked each one as it arrived); no ORDER_REJECTED for overselling;
  no holding below zero; no position's recorded sells exceed what it bought.
- one_live_exit_order: no exit order was sent while another sell for that market and side
  was still resting at the venue.
- exits_sum_to_contracts: a closed position sold (fills ledger) exactly what it bought, less
  what settled; each exit's outcome record (position_exits) says what its orders' fills say,
  and an exit that ended has one (only an exit a stop cut off is left to the ledger, which
  start-up reconciliation completes); an open position holds what it bought less what it
  sold; and for every market and side the venue holds exactly the sum of the open positions'
  contracts.
- db_venue_audit_agree: one TRADE_EXECUTED per position in the database, with its size;
  every order at the venue was written down first; the fills ledger and the orders table
  match the venue's filled counts order by order; every filled entry became its position;
  every POSITION_CLOSED is closed in the database; no exit order rested after its position
  closed; the final reconciliation found nothing to correct.
- call_budget: at most the configured number of requests the venue saw in any sliding minute
  (its own log: every request, whoever sent it), over every process of the session (each
  restart starts a new RateLimiter) and the start-up reconciliations (which call the venue
  directly). A call that makes several requests counts each.
- engine_health: no actor crashed except those the simulation crashed on purpose, no core
  actor was restarted more often than the simulation hit it, the engine never failed safe,
  virtual time never stalled, no actor was left running.
- stop_protected: no open position sat past its stop with no exit in flight for longer than
  PROTECTION_BOUND (adapters/harness/fault_sim/protection.py).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, Sequence

from adapters.harness.fault_sim.protection import Episode
from models.budget import WINDOW, max_calls_in_any_window
from models.market import Side
from models.orders import Action, OrderSnapshot
from models.position import PositionStatus
from models.records import ExitStatus
INVARIANTS = ("no_oversell", "one_live_exit_order", "exits_sum_to_contracts", "db_venue_audit_agree",
              "call_budget", "engine_health", "stop_protected")


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


class VenueView(Protocol):
    double_exits: list[str]
    oversells: list[str]

    def all_orders(self) -> list[OrderSnapshot]: ...
    def held(self) -> dict[tuple[str, Side], int]: ...
    def is_settled(self, ticker: str) -> bool: ...


@dataclass
class Observation:
    """What one session left behind: the venue, the database, the audit, the call times."""

    venue: VenueView
    repository: Any                         # adapters.storage.repository.Repository
    audit: Sequence[dict[str, Any]]
    call_times: Sequence[datetime]          # every RateLimiter's venue calls, across restarts
    budget: int
    reconcile_times: Sequence[datetime] = ()   # start-up reconciliation's calls (not through the RateLimiter)
    request_times: Sequence[datetime] | None = None   # every request as the venue saw it (None: the calls above)
    planted_crashes: Counter = field(default_factory=Counter)   # position id -> crashes planted
    stale_exits: Sequence[str] = ()         # exit orders resting for closed positions at the end
    reconcile_alerts: Sequence[str] = ()    # what the final reconciliation had to correct
    errors: Sequence[str] = ()              # stalls, leaked actors, exceptions from the run
    planted_core: Counter = field(default_factory=Counter)   # core actor name -> faults planted
    episodes: Sequence[Episode] = ()        # positions past their stop with no exit in flight


def check_invariants(obs: Observation) -> list[Violation]:
    ledger = _Ledger(obs.repository)
    out: list[Violation] = []
    out += _no_oversell(obs, ledger)
    out += [Violation("one_live_exit_order", d) for d in obs.venue.double_exits]
    out += _exits_sum(obs, ledger)
    out += _agree(obs, ledger)
    out += _budget(obs)
    out += _health(obs)
    out += [Violation("stop_protected", f"{e.position_id} ({e.ticker}) was past its stop with no exit in flight "
                                        f"for {e.seconds:.0f}s from {e.start.isoformat()} ({e.ended_by}; bound "
                                        f"{e.bound.total_seconds():.0f}s)")
            for e in obs.episodes if e.end - e.start > e.bound]
    return out


class _Ledger:
    """The database, read once: positions, each position's sell fills, and each exit's."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self.positions = {p.position_id: p for p in repo.all_positions()}
        self.sold: dict[str, int] = {}
        self.sold_by_exit: dict[str, dict[str, int]] = {}
        for pid in self.positions:
            by_exit: dict[str, int] = defaultdict(int)
            for o in repo.orders_for(pid):
                if o.order_id and o.request.action is Action.SELL:
                    by_exit[o.exit_id or "?"] += sum(f.count for f in repo.fills_for_order(o.order_id))
            self.sold_by_exit[pid] = dict(by_exit)
            self.sold[pid] = sum(by_exit.values())


def _no_oversell(obs: Observation, ledger: _Ledger) -> list[Violation]:
    out = [Violation("no_oversell", d) for d in obs.venue.oversells]
    for e in obs.audit:
        if e.get("event") == "ORDER_REJECTED" and "cannot sell" in str(e.get("error", "")):
            out.append(Violation("no_oversell", f"{e.get('ts')}: venue refused an oversell: {e.get('error')}"))
    for (ticker, side), n in obs.venue.held().items():
        if n < 0:
            out.append(Violation("no_oversell", f"the venue holds {n} {side.value} of {ticker}"))
    for pid, p in ledger.positions.items():
        if ledger.sold[pid] > p.initial_contracts:
            out.append(Violation("no_oversell", f"{pid} sold {ledger.sold[pid]} of {p.initial_contracts} bought"))
    return out


def _exits_sum(obs: Observation, ledger: _Ledger) -> list[Violation]:
    out: list[Violation] = []

    def v(detail: str) -> None:
        out.append(Violation("exits_sum_to_contracts", detail))

    ended = {e.get("exit_id") for e in obs.audit if e.get("event") in ("EXIT_COMPLETED", "EXIT_GAVE_UP")}
    open_by_market: dict[tuple[str, Side], int] = defaultdict(int)
    for pid, p in ledger.positions.items():
        sold = ledger.sold[pid]
        reconciled = (p.exit_reason or "").startswith("reconciled")    # reported through its alert
        outcomes = {x.exit_id: x for x in ledger.repo.exits_for(pid) if x.status is not ExitStatus.TRIGGERED}
        settled = sum(x.contracts for x in outcomes.values() if x.reason == "settlement")
        # Each exit's outcome record says what its orders sold; an exit with no record must be
        # one that never ended (a stop cut it off; its fills were recovered into the ledger).
        for exit_id, n in sorted(ledger.sold_by_exit[pid].items()):
            rec = outcomes.get(exit_id)
            if rec is not None and rec.contracts != n:
                v(f"{pid}: exit {exit_id} is recorded as selling {rec.contracts}, its orders' fills say {n}")
            elif rec is None and n > 0 and exit_id in ended:
                v(f"{pid}: exit {exit_id} ended and sold {n} but has no outcome in position_exits")
        for exit_id, rec in outcomes.items():
            if rec.reason != "settlement" and rec.contracts > 0 and exit_id not in ledger.sold_by_exit[pid]:
                v(f"{pid}: exit {exit_id} is recorded as selling {rec.contracts} with no fills in the ledger")
        if p.status is PositionStatus.CLOSED:
            if p.contracts != 0:
                v(f"{pid} is closed with {p.contracts} contracts")
            if p.exit_reason == "settlement" and not obs.venue.is_settled(p.ticker):
                v(f"{pid} closed by settlement but {p.ticker} is not settled at the venue")
            if not reconciled and sold + settled != p.initial_contracts:
                v(f"{pid} closed ({p.exit_reason}): bought {p.initial_contracts}, sold {sold}, settled {settled}")
        else:
            if settled:
                v(f"{pid} is open but has a settlement of {settled} recorded")
            if p.contracts != p.initial_contracts - sold:
                v(f"{pid} is open with {p.contracts} contracts but bought {p.initial_contracts} and sold {sold}")
            open_by_market[(p.ticker, p.side)] += p.contracts
    held = obs.venue.held()
    for key in sorted(set(held) | set(open_by_market), key=lambda k: (k[0], k[1].value)):
        if held.get(key, 0) != open_by_market.get(key, 0):
            v(f"{key[0]} {key[1].value}: the venue holds {held.get(key, 0)}, open positions in the database "
              f"{open_by_market.get(key, 0)}")
    return out


def _agree(obs: Observation, ledger: _Ledger) -> list[Violation]:
    out: list[Violation] = []

    def v(detail: str) -> None:
        out.append(Violation("db_venue_audit_agree", detail))

    opened = Counter(e.get("position_id") for e in obs.audit if e.get("event") == "TRADE_EXECUTED")
    for pid, n in sorted(opened.items(), key=lambda kv: str(kv[0])):
        if n > 1:
            v(f"TRADE_EXECUTED {n} times for {pid}")
        if pid not in ledger.positions:
            v(f"TRADE_EXECUTED for {pid}, which is not in the database")
    for pid in ledger.positions:
        if pid not in opened:
            v(f"{pid} is in the database without a TRADE_EXECUTED")
    for e in obs.audit:
        if e.get("event") == "TRADE_EXECUTED" and e.get("position_id") in ledger.positions:
            p = ledger.positions[e["position_id"]]
            if e.get("contracts") != p.initial_contracts:
                v(f"TRADE_EXECUTED says {e.get('contracts')} contracts for {p.position_id}, "
                  f"the database {p.initial_contracts}")
        if e.get("event") == "POSITION_CLOSED":
            p = ledger.positions.get(e.get("position_id"))
            if p is None or p.status is not PositionStatus.CLOSED:
                v(f"POSITION_CLOSED for {e.get('position_id')}, which the database has "
                  f"{'never heard of' if p is None else p.status.value}")
    for o in obs.venue.all_orders():
        rec = ledger.repo.order_by_client_id(o.client_order_id)
        if rec is None:
            v(f"order {o.order_id} ({o.client_order_id}) is at the venue but was never written down")
            continue
        in_ledger = sum(f.count for f in ledger.repo.fills_for_order(o.order_id))
        if in_ledger != o.filled_count:
            v(f"order {o.client_order_id}: the venue filled {o.filled_count}, the fills ledger has {in_ledger}")
        if rec.filled_count != o.filled_count or rec.order_id != o.order_id:
            v(f"order {o.client_order_id}: the orders table says {rec.filled_count} filled (order id "
              f"{rec.order_id}), the venue {o.filled_count} ({o.order_id})")
        if o.action is Action.BUY and o.filled_count > 0:
            pid = "pos-" + o.client_order_id.removeprefix("en-")
            p = ledger.positions.get(pid)
            if p is None or p.initial_contracts != o.filled_count:
                v(f"entry {o.client_order_id} filled {o.filled_count} but position {pid} "
                  f"{'is missing' if p is None else f'bought {p.initial_contracts}'}")
    out += [Violation("db_venue_audit_agree", f"exit order resting after its position closed: {d}")
            for d in obs.stale_exits]
    out += [Violation("db_venue_audit_agree", f"the final reconciliation had to correct: {a}")
            for a in obs.reconcile_alerts]
    return out


def _budget(obs: Observation) -> list[Violation]:
    seen = obs.request_times if obs.request_times is not None else [*obs.call_times, *obs.reconcile_times]
    times = sorted(seen)
    worst = max_calls_in_any_window(times) if times else 0
    if worst <= obs.budget:
        return []
    # Name the busiest window and where its requests came from.
    start = next(t for t in times if max_calls_in_any_window([u for u in times if t <= u < t + WINDOW]) == worst)
    limiter = sum(1 for t in obs.call_times if start <= t < start + WINDOW)
    reconciling = sum(1 for t in obs.reconcile_times if start <= t < start + WINDOW)
    return [Violation("call_budget", f"{worst} venue requests in the minute from {start.isoformat()} (budget "
                                     f"{obs.budget}): {limiter} through RateLimiters, {reconciling} by "
                                     f"start-up reconciliation, {max(0, worst - limiter - reconciling)} by neither")]


def _health(obs: Observation) -> list[Violation]:
    out = [Violation("engine_health", e) for e in obs.errors]
    crashes = Counter(e.get("key") for e in obs.audit if e.get("event") == "ACTOR_CRASHED")
    for key, n in sorted(crashes.items(), key=lambda kv: str(kv[0])):
        extra = n - obs.planted_crashes.get(key, 0)
        if extra > 0:
            errors = sorted({e.get("error", "") for e in obs.audit
                             if e.get("event") == "ACTOR_CRASHED" and e.get("key") == key})
            out.append(Violation("engine_health", f"{extra} unplanned crash(es) of {key}: {'; '.join(errors)}"))
    restarts = Counter(e.get("actor") for e in obs.audit if e.get("event") == "ACTOR_RESTARTED" and e.get("actor"))
    for name, n in sorted(restarts.items()):
        if n > obs.planted_core.get(name, 0):
            reasons = sorted({e.get("reason", "") for e in obs.audit
                              if e.get("event") == "ACTOR_RESTARTED" and e.get("actor") == name})
            out.append(Violation("engine_health", f"core actor {name} restarted {n} times, "
                                                  f"{obs.planted_core.get(name, 0)} faults planted: {'; '.join(reasons)}"))
    for e in obs.audit:
        if e.get("event") == "ENGINE_FAILED_SAFE":
            out.append(Violation("engine_health", f"the engine failed safe: {e.get('reason')}"))
    return out
