"""RiskManager: the circuit breakers.

- Daily loss: the trading day's realized P&L plus the open positions' unrealized P&L at their
  marks; at or below -daily_loss_limit it trips. The trading day runs midnight to midnight in
  `circuit_breaker.day_timezone` (UTC by default) on the injected clock.
- API failures: the share of venue calls that failed within a sliding window; with at least
  `api_failure_min_calls` calls in it and `api_failure_rate_pct`% or more failed, it trips.
A trip is audited once, written to the database, halts entries, and sends circuit_breaker (a
CRITICAL exit) to every open position through the supervisor. It holds until the trading day
ends (then entries resume, audited) or an operator runs `python run.py breaker reset --yes`
(which takes effect at the next start). At start (Wired) `load_persisted_state` rebuilds the
day's P&L and any trip of the day from the database.

Restart (actors/watchdog.py): the new actor is sent `Wired` again, which runs
`load_persisted_state` (the day's P&L and a trip of the day, from the database); the API-failure window starts empty. A breaker already
tripped stays in force elsewhere (the Supervisor and the EntryManager keep it); when either of
them is restarted this actor re-announces a breaker it tripped (`on_peer_restarted`).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections import deque
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from actors.base import ArbeesActor
from actors.wiring import Refs, Wired
from config.schema import Config
from models import audit_events as ae
from models.durations import seconds
from models.commands import ForwardToPosition, HaltEntries, MarksNeeded, ResumeEntries, Rebuild
from models.events import ApiCallFailed, ApiCallSucceeded, CircuitBreakerTripped, PnlRealized, PositionMarked
from models.store_commands import Flush, RecordBreakerTrip
from models.money import ZERO, fmt_money
from models.risk import daily_loss_breached, day_start, failure_rate_breached, next_day_start, trading_day


@dataclass(frozen=True, slots=True)
class TradingDayEnded:
    """The RiskManager's own timer at the start of the next trading day."""


class RiskManager(ArbeesActor):
    """The circuit breakers (see the module docstring).

    Receives: PnlRealized, PositionMarked, ApiCallSucceeded, ApiCallFailed, Wired, Rebuild,
    and its own timer TradingDayEnded.

    Sends: HaltEntries, ResumeEntries and CircuitBreakerTripped to the Supervisor (which passes
    them on); MarksNeeded to every position (through the Supervisor, or ForwardToPosition to one)
    when the daily loss limit is within reach of what quiet bands may hide; RecordBreakerTrip to the
    Store; TradingDayEnded to itself.

    Asks: the Store Flush before reloading the day from the database, within ask_timeout_s
    (10 s) (it is asked for `tripped` by the Heartbeat).
    """

    kind = "risk_manager"
    survives_errors = True

    def __init__(self, rt, config: Config, supervisor, repository=None, *, handle=None) -> None:
        super().__init__(rt, "risk", supervisor, handle=handle)
        self.cfg = config.circuit_breaker
        self.tz = ZoneInfo(self.cfg.day_timezone)
        self.repository = repository           # read-only: the day's P&L and trips at start
        self.refs: Refs | None = None
        self.day: date = trading_day(rt.clock.now(), self.tz)
        self.realized = ZERO                    # of the trading day (since an operator's reset, if any)
        self.counted: set[str] = set()          # keys of the PnlRealized in `realized` (fill / settlement ids)
        self.unrealized: dict[str, Decimal] = {}
        self.unrealized_total = ZERO            # sum of `unrealized`, kept as marks arrive (not re-summed per mark)
        # Quiet bands (issue 14): a position whose quotes are filtered reports the least its P&L can
        # be before it reports again (`floor_pnl`). While the day's P&L counted at those floors stays
        # above the limit, no filtered quote can trip the breaker; once it does not, every position is
        # asked for every quote and an exact mark (MarksNeeded), and the breaker waits for their answers.
        self.floors: dict[str, Decimal] = {}
        self.floor_gap = ZERO                   # sum over `floors` of min(floor - unrealized, 0)
        self.marks_needed = False
        self.waiting: set[str] = set()          # asked for an exact mark, not answered yet
        self.calls: deque[tuple[datetime, bool]] = deque()
        self.failures = 0
        self.tripped: str | None = None
        self._day_timer = None

    def handle(self, message: Any) -> None:
        match message:
            case Wired(refs=refs):
                self.refs = refs
                self.load_persisted_state()
            case PnlRealized(amount=amount, key=key):
                self._roll_day()
                if key and key in self.counted:
                    return       # already in the day's P&L reloaded from the database (a restart)
                if key:
                    self.counted.add(key)
                self.realized += amount
                self._check_daily_loss()
            case PositionMarked(position_id=pid, unrealized_pnl=u, floor_pnl=floor):
                self._roll_day()
                old = self.unrealized.pop(pid, ZERO)
                self.unrealized_total -= old
                if pid in self.floors:
                    self.floor_gap -= min(self.floors.pop(pid) - old, ZERO)
                if u:
                    self.unrealized[pid] = u
                    self.unrealized_total += u
                if floor is None:
                    self.waiting.discard(pid)
                elif self.marks_needed:
                    self.send(self.supervisor, ForwardToPosition(pid, MarksNeeded()))
                else:
                    self.floors[pid] = floor
                    self.floor_gap += min(floor - u, ZERO)
                self._check_daily_loss()
            case ApiCallFailed(ts=ts, method=method, error=error):
                self._count_call(ts, False, f"{method} {error}")
            case ApiCallSucceeded(ts=ts, method=method):
                self._count_call(ts, True, method)
            case TradingDayEnded():
                self._roll_day()
            case Rebuild():
                # a restart sends Wired first, and Wired reloads the persisted state; the floors of
                # positions whose quotes are filtered are gone with the old actor: ask for exact marks
                self._need_marks(set())
            case _:
                self.unknown(message)

    # state ---------------------------------------------------------------------------------
    def load_persisted_state(self) -> None:
        """Rebuild the breaker from the database (at start, and whenever this actor is rebuilt):
        the trading day's realized P&L (since midnight, or since an operator's reset that day),
        the open positions' unrealized P&L at their last saved marks, and a trip of this day that
        no operator has cleared, which is re-applied (entries halted, positions closed)."""
        if self.repository is None:
            return
        if self.refs is not None:
            # What was sent to the Store (a trip, a fill) is committed before it is read back.
            try:
                self.rt.ask(self.refs.store, Flush())
            except Exception as exc:  # noqa: BLE001 - rebuild from what is committed
                logger.error("risk: store flush before reloading the breaker failed: {}", type(exc).__name__)
        now = self.rt.clock.now()
        self.day = trading_day(now, self.tz)
        trips = self.repository.breaker_trips(self.day.isoformat())
        since = max([day_start(self.day, self.tz)] + [t.cleared_at for t in trips if t.cleared_at is not None])
        self.realized = self.repository.realized_pnl_since(since)
        self.counted = set(self.repository.realized_pnl_keys_since(since))
        self.unrealized = {p.position_id: p.unrealized_pnl for p in self.repository.load_open_positions()
                           if p.unrealized_pnl}
        self.unrealized_total = sum(self.unrealized.values(), ZERO)
        active = [t for t in trips if t.cleared_at is None]
        if active:
            self.tripped = active[0].reason
            self.rt.audit.emit(ae.CircuitBreakerRestored(
                reason=self.tripped, kind=active[0].kind, day=self.day.isoformat(), tripped_at=active[0].tripped_at,
                realized_pnl=self.realized, unrealized_pnl=sum(self.unrealized.values(), ZERO)))
            self._halt(self.tripped, now)
            return
        self._check_daily_loss()

    def _roll_day(self) -> None:
        """A new trading day: the day's realized P&L starts again from 0, and a trip of the day
        before is cleared (audited) and entries resume."""
        now = self.rt.clock.now()
        today = trading_day(now, self.tz)
        if today <= self.day:
            return
        ended, self.day = self.day, today
        self.realized = ZERO
        self.counted.clear()
        self.calls.clear()
        self.failures = 0
        if self.tripped:
            reason, self.tripped = self.tripped, None
            why = f"the trading day {ended} ended ({self.cfg.day_timezone})"
            self.rt.audit.emit(ae.CircuitBreakerReset(reason=reason, by="day_end", day=ended.isoformat(), why=why))
            self.send(self.supervisor, ResumeEntries())

    # the two breakers --------------------------------------------------------------------------
    def _need_marks(self, waiting: set[str]) -> None:
        self.marks_needed = True
        self.waiting = waiting
        self.floors.clear()
        self.floor_gap = ZERO
        self.send(self.supervisor, MarksNeeded())

    def _check_daily_loss(self) -> None:
        if self.tripped:
            return
        if self.floors and daily_loss_breached(self.realized, self.unrealized_total + self.floor_gap,
                                               self.cfg.daily_loss_limit_dollars):
            self._need_marks(set(self.floors))
        if self.waiting:
            return      # until every position asked has reported an exact mark
        # The running total decides (exact: Decimal sums of money), so a mark costs O(1), not a
        # sum over every open position; the trip's record re-sums (the same value, written as the
        # positions' marks are, whatever marks came and went before).
        if not daily_loss_breached(self.realized, self.unrealized_total, self.cfg.daily_loss_limit_dollars):
            return
        unrealized = sum(self.unrealized.values(), ZERO)
        total = self.realized + unrealized
        self._trip("daily_loss", f"daily loss {fmt_money(total)} (realized {fmt_money(self.realized)}, unrealized "
                                 f"{fmt_money(unrealized)}) reached the limit -${self.cfg.daily_loss_limit_dollars}",
                   realized_pnl=self.realized, unrealized_pnl=unrealized, day_pnl=total)

    def _count_call(self, ts: datetime, ok: bool, what: str) -> None:
        window = seconds(self.cfg.api_failure_window_secs)
        self.calls.append((ts, ok))
        self.failures += 0 if ok else 1
        while self.calls and self.calls[0][0] <= ts - window:
            _, was_ok = self.calls.popleft()
            self.failures -= 0 if was_ok else 1
        n = len(self.calls)
        if ok or self.tripped or not failure_rate_breached(n, self.failures, self.cfg.api_failure_min_calls,
                                                           self.cfg.api_failure_rate_pct):
            return
        self._trip("api_failures", f"venue call failure rate {self.failures}/{n} "
                                   f"({Decimal(self.failures * 100) / n:.0f}%) within {self.cfg.api_failure_window_secs}s "
                                   f"reached {self.cfg.api_failure_rate_pct}% (last: {what})",
                   calls=n, failures=self.failures)

    def on_peer_restarted(self, name: str) -> None:
        if self.tripped and name in ("supervisor", "entry_manager"):
            self.send(self.supervisor, HaltEntries(self.tripped))
            self.send(self.supervisor, CircuitBreakerTripped())

    def _trip(self, kind: str, reason: str, **fields: Any) -> None:
        if self.tripped:
            return
        self.tripped = reason
        now = self.rt.clock.now()
        self.rt.audit.emit(ae.CircuitBreakerTripped(reason=reason, kind=kind, day=self.day.isoformat(), **fields))
        if self.refs is not None:
            self.send(self.refs.store, RecordBreakerTrip(self.day.isoformat(), kind, reason, now))
        self._halt(reason, now)

    def _halt(self, reason: str, now: datetime) -> None:
        self.send(self.supervisor, HaltEntries(reason))
        self.send(self.supervisor, CircuitBreakerTripped())
        if self._day_timer is not None:
            self._day_timer.cancel()
        self._day_timer = self.rt.scheduler.call_at(next_day_start(now, self.tz), self.me, TradingDayEnded())
