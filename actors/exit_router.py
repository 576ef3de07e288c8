"""ExitRouter: at most one exit in flight per position; the most urgent trigger wins.

- A trigger list from a position is checked against what the router knows was sold: an
  evaluation made before the position saw an exit's fills is stale and dropped (so an exit is
  never sized from contracts already sold).
- No exit in flight: start an ExecutorActor for the first trigger (priority, then config order).
- An exit in flight of lower priority: preempt it (the executor cancels, confirms, reports
  what filled) and start the more urgent one for what is left.
- An exit that gave up puts its condition on a cooldown for that position, so a condition that
  cannot be executed (no bids) does not loop; more urgent conditions are not held back. The
  cooldown is 120 s, or for a capital-protection exit 15, 30, 60, then 120 s while it keeps giving
  up (models/retry.py); the next exit is told how many gave up before it (ExitOrder.gave_up_before:
  it pages less, see EXIT_GAVE_UP `in_a_row`). When
  the cooldown ends the position is told to evaluate again. A capital-protection exit (stop
  loss, circuit breaker, trailing stop, time exit) is not held by its cooldown once our side's bid or size has changed
  since it gave up: it is re-attacked for as long as the position is past its stop.

Restart (actors/watchdog.py): executors report to the router's stable handle, so they outlive
it. `Rebuild` adopts every live executor as the exit in flight of its position (so nothing is
placed beside it), and the new router's exit ids carry a new epoch (never reusing an id). What
each position sold is read from the fills ledger (after a Store flush) the first time the new
router meets the position, so a trigger made before the position saw a fill is still dropped
as stale (an exit is never sized from contracts already sold). Lost:
pending preemptions (the next evaluation preempts again) and give-up cooldowns. An exit that
ended while the router was down is passed on to its position all the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pykka

from actors.base import ArbeesActor
from actors.executor import ExecutorActor, ExitOrder
from actors.wiring import Refs, Wired
from config.schema import Config
from models import audit_events as ae
from models.exit_rules import ExitTrigger
from models.exit_ids import exit_id as build_exit_id, read_exit_order_id
from models.commands import CancelExit, CancelExitFor, ForwardToPosition, Preempt, Rebuild
from models.events import (
    CooldownOver,
    ExecutorCrashed,
    ExitEnded,
    ExitOutcome,
    ExitStarted,
    ExitTriggered,
    FillStreamed,
    PositionClosed,
)
from models.store_commands import LinkTriggerToExit
from models.priorities import Priority
from models.retry import give_up_cooldown_secs

# Exits that protect capital: never left given up while the market they need comes back. The
# trailing stop (profit already made) and the time exit (minutes left before close) are
# protective too: a 120 s cooldown after an empty book would let the one give back what it
# protects and eat 40% of the other's 5-minute window.
CAPITAL_PROTECTION = frozenset({"stop_loss", "circuit_breaker", "trailing_stop", "time_based_urgent"})


@dataclass
class _InFlight:
    exit_id: str
    condition: str
    priority: Priority
    ref: Any
    order: ExitOrder
    preempting: bool = False
    restarts: int = 0
    sold_at_start: int = 0      # contracts the router knew sold when this exit started


class ExitRouter(ArbeesActor):
    """At most one exit in flight per position (see the module docstring).

    Receives: ExitTriggered from positions, ExitEnded from executors, ExecutorCrashed (via the
    Supervisor), PositionClosed, Wired and Rebuild, CancelExitFor from a position whose market
    settled (its executor is told CancelExit), and FillStreamed from the market-data stream
    (passed on to the executor whose order it is).

    Sends: Preempt and CancelExit to executors; ExitStarted, ExitEnded and (when a give-up
    cooldown ends, through the scheduler) CooldownOver to positions through the Supervisor
    (ForwardToPosition); LinkTriggerToExit to the Store.

    Asks: the Store Flush before reading the fills ledger after a restart; after a restart, each
    live executor's `o`, `router` and `filled` through its proxy; all within ask_timeout_s (10 s).
    """

    kind = "exit_router"
    survives_errors = True

    def __init__(self, rt, config: Config, *, give_up_cooldown_secs: float = 120.0, epoch: str = "",
                 repository=None, handle=None) -> None:
        super().__init__(rt, "router", handle=handle)
        self.repository = repository          # read-only: what positions sold, after a restart
        # Exit ids (and so client_order_ids) carry the process's epoch: a restarted process never
        # reuses an id that an earlier one sent, which a look-up by id would mistake for its own.
        self.epoch = epoch
        self.config = config
        self.refs: Refs | None = None
        self.cooldown = timedelta(seconds=give_up_cooldown_secs)
        self._inflight: dict[str, _InFlight] = {}
        self._sold: dict[str, int] = {}
        self._pending: dict[str, ExitTriggered] = {}
        self._cool: dict[tuple[str, str], tuple[datetime, int]] = {}   # -> (until, book changes at give-up)
        self._give_ups: dict[tuple[str, str], int] = {}   # -> give-ups in a row (the cooldown grows with them)
        self._book: dict[str, int] = {}        # position -> book changes in its last trigger list
        self._held: dict[str, dict[str, str]] = {}   # position -> condition -> why it was last held (said once)
        self._stages_sold: dict[str, set[int]] = {}  # position -> partial stages whose exit sold something
        self._seq: dict[str, int] = {}
        self.started = 0
        self._rebuilt = False

    def handle(self, message: Any) -> None:
        match message:
            case Wired(refs=refs):
                self.refs = refs
            case ExitTriggered():
                self._on_triggered(message)
            case ExitEnded():
                self._on_ended(message)
            case ExecutorCrashed():
                self._restart_executor(message)
            case Rebuild():
                self._adopt_executors()
            case PositionClosed(position_id=pid):
                flight = self._inflight.pop(pid, None)
                if flight is not None:
                    self.send(flight.ref, CancelExit())
                for d in (self._sold, self._pending, self._seq, self._book, self._held, self._stages_sold):
                    d.pop(pid, None)
                for cooling in (self._cool, self._give_ups):
                    for key in [k for k in cooling if k[0] == pid]:
                        del cooling[key]
            case CancelExitFor(position_id=pid):
                flight = self._inflight.get(pid)
                if flight is not None:
                    self.send(flight.ref, CancelExit())
            case FillStreamed():
                self._on_streamed_fill(message)
            case _:
                self.unknown(message)

    def _on_streamed_fill(self, message: FillStreamed) -> None:
        """To the executor of the exit whose order it is. An entry's fill is not ours to route
        (the entry's IOC answer carries it). An exit ends only after the venue's final answer for
        its order (executed, or the cancel confirmed), which counts every fill of it: a fill the
        stream reports after that is said and not counted again."""
        fill = message.fill
        ref = read_exit_order_id(fill.client_order_id)
        if ref is None:
            return
        flight = self._inflight.get(ref.position_id)
        if flight is not None and flight.exit_id == ref.exit_id:
            self.send(flight.ref, message)
            return
        repo = self._ledger()
        counted = None if repo is None else sum(f.count for f in repo.fills_for_order(fill.order_id))
        if counted is not None and counted < fill.count:
            # The ledger holds less for that order than this one fill: a fill nobody counted.
            self.rt.audit.emit(ae.Alert(
                said=f"ALERT {fill.ticker} {fill.side.value}: the stream reported {fill.count} sold on order "
                     f"{fill.order_id} after exit {ref.exit_id} ended, but the fills ledger holds {counted} for that "
                     "order: not counted automatically; compare the position with the venue "
                     "(python run.py positions --venue kalshi)",
                position_id=ref.position_id, market=fill.ticker, exit_id=ref.exit_id, client_order_id=fill.client_order_id,
                detail=f"order {fill.order_id}: stream {fill.count}, ledger {counted}"))
            return
        self.rt.audit.emit(ae.FillAfterExit(position_id=ref.position_id, market=fill.ticker, exit_id=ref.exit_id,
                                            order_id=fill.order_id, client_order_id=fill.client_order_id,
                                            contracts=fill.count, price=fill.price, fill_id=fill.fill_id,
                                            ledger_filled=counted, held=fill.side))

    def _to_position(self, pid: str, message: Any) -> None:
        """Via the supervisor, which knows the position's current actor (after a restart too)."""
        assert self.refs is not None
        self.send(self.refs.supervisor, ForwardToPosition(pid, message))

    def executor_ref(self, position_id: str) -> Any:
        """The executor of the position's exit in flight (None when there is none)."""
        flight = self._inflight.get(position_id)
        return None if flight is None else flight.ref

    def seed_sold(self, position_id: str, sold: int) -> None:
        self._sold[position_id] = sold

    def _best(self, msg: ExitTriggered) -> ExitTrigger | None:
        now = self.rt.clock.now()
        for trig in msg.triggers:
            cool = self._cool.get((msg.position_id, trig.condition))
            if cool is not None and now < cool[0]:
                # (!= rather than >: a restarted position actor counts from 0 again)
                if not (trig.condition in CAPITAL_PROTECTION and msg.book_changes != cool[1]):
                    continue
            return trig
        return None

    def _on_triggered(self, msg: ExitTriggered) -> None:
        pid = msg.position_id
        if self._rebuilt and pid not in self._sold:
            self._sold[pid] = self._ledger_sold(pid)
        sold = self._sold.setdefault(pid, msg.sold_so_far)
        if msg.sold_so_far < sold:
            return  # stale: made before the position saw fills we know of
        if msg.sold_so_far > sold:
            self._sold[pid] = sold = msg.sold_so_far
        self._book[pid] = msg.book_changes
        best = self._best(msg)
        if best is not None and best.stage is not None and best.stage in self._stages_sold.get(pid, ()):
            self._say_held(msg, best, f"stage {best.stage + 1} already sold")
            best = None
        flight = self._inflight.get(pid)
        if best is None:
            pass
        elif flight is None:
            self._start(msg, best, msg.contracts_held)
        elif best.priority < flight.priority and not flight.preempting:
            flight.preempting = True
            self._pending[pid] = msg
            self.rt.audit.emit(ae.ExitPreempted(position_id=pid, market=msg.ticker, exit_id=flight.exit_id,
                                                preempted=flight.condition, by=best.condition,
                                                priority=best.priority.name, held=msg.side,
                                                preempted_priority=flight.priority.name))
            self.send(flight.ref, Preempt(int(best.priority)))
        elif flight.preempting and pid in self._pending and best.priority < self._best(self._pending[pid]).priority:  # type: ignore[union-attr]
            self._pending[pid] = msg
        self._explain_held(msg, best)

    def _explain_held(self, msg: ExitTriggered, best: ExitTrigger | None) -> None:
        """Every trigger of the list that leads to nothing says why, once: cooling down after a
        give-up, or another exit in flight. The exit's own condition, and the trigger that
        preempts it, lead somewhere and say nothing."""
        pid = msg.position_id
        flight = self._inflight.get(pid)
        now = self.rt.clock.now()
        for trig in msg.triggers:
            if flight is not None and (trig.condition == flight.condition
                                       or (trig is best and best.priority < flight.priority)):
                continue
            cool = self._cool.get((pid, trig.condition))
            if cool is not None and now < cool[0] and trig is not best:
                self._say_held(msg, trig, self._cooling_reason(pid, trig.condition))
            elif flight is not None:
                self._say_held(msg, trig, _in_flight(flight), exit_id=flight.exit_id)

    def _cooling_reason(self, pid: str, condition: str) -> str:
        until = self._cool[(pid, condition)][0]
        return f"cooling down until {until:%H:%M:%S} after its exit gave up"

    def _say_held(self, msg: ExitTriggered, trig: ExitTrigger, why: str, exit_id: str | None = None) -> None:
        """A trigger that leads to nothing says why, once per reason (not on every evaluation)."""
        said = self._held.setdefault(msg.position_id, {})
        if said.get(trig.condition) == why:
            return
        said[trig.condition] = why
        self.rt.audit.emit(ae.ExitHeld(position_id=msg.position_id, market=msg.ticker, condition=trig.condition,
                                       priority=trig.priority.name, reason=why, exit_id=exit_id, held=msg.side))

    def _start(self, msg: ExitTriggered, trig: ExitTrigger, held: int) -> None:
        assert self.refs is not None, "router used before wiring"
        contracts = min(trig.contracts, held)
        if contracts <= 0:
            return
        pid = msg.position_id
        n = self._seq.get(pid, 0) + 1
        self._seq[pid] = n
        # A partial stage's exit names its stage, so a restart can tell the stage sold (reconcile).
        exit_id = build_exit_id(pid, self.epoch, n, trig.stage)
        order = ExitOrder(exit_id, pid, msg.ticker, msg.side, trig.condition, trig.priority, contracts, trig.stage,
                          trig.min_price, self._give_ups.get((pid, trig.condition), 0))
        ref = ExecutorActor.start(self.rt, self.config, self.refs, order, self.me)
        self._inflight[pid] = _InFlight(exit_id, trig.condition, trig.priority, ref, order,
                                        sold_at_start=self._sold.get(pid, 0))
        self.started += 1
        self.send(self.refs.store, LinkTriggerToExit(pid, trig.condition, exit_id))
        also = [t.condition for t in msg.triggers if t is not trig]
        # The EXIT line names them "also firing": that is their "why", said once already.
        self._held[pid] = {c: _in_flight(self._inflight[pid]) for c in also}
        self.rt.audit.emit(ae.ExitRouted(position_id=pid, market=msg.ticker, exit_id=exit_id, condition=trig.condition,
                                         priority=trig.priority.name, contracts=contracts, also_firing=tuple(also),
                                         held=msg.side))
        self._to_position(pid, ExitStarted(trig.priority))

    def _restart_executor(self, crashed: ExecutorCrashed) -> None:
        """Start the same exit again in recovery: before sending anything, the new executor looks
        up the exit's earlier orders by their client_order_ids ({exit_id}-1, -2, ...), counts what
        filled (the position ignores fills it has already counted) and takes over the last one if
        it still rests (its timeout, cancel and walks carry on from there)."""
        flight = next((f for f in self._inflight.values() if f.exit_id == crashed.exit_id), None)
        if flight is None:
            return
        pid = flight.order.position_id
        flight.restarts += 1
        if flight.restarts > 3:
            del self._inflight[pid]
            self.rt.audit.emit(ae.Alert(said=f"ALERT exit {crashed.exit_id} crashed {flight.restarts} times; abandoned "
                                             "(the position stays monitored; its next trigger starts a new exit)",
                                        exit_id=crashed.exit_id, position_id=pid, error=crashed.error))
            self._to_position(pid, ExitEnded(pid, flight.exit_id, flight.condition, ExitOutcome.GAVE_UP, 0,
                                             flight.order.stage))
            return
        flight.ref = ExecutorActor.start(self.rt, self.config, self.refs, flight.order, self.me, recover=True)
        self.rt.audit.emit(ae.ActorRestarted(exit_id=crashed.exit_id, position_id=pid, error=crashed.error,
                                             restarts=flight.restarts))

    def _adopt_executors(self) -> None:
        self._rebuilt = True
        for ref in pykka.ActorRegistry.get_by_class(ExecutorActor):
            try:
                proxy = ref.proxy()
                order: ExitOrder = proxy.o.get(timeout=self.rt.ask_timeout_s)
                mine = proxy.router.get(timeout=self.rt.ask_timeout_s) is self.me
            except Exception:  # noqa: BLE001 - an executor that is stopping
                continue
            if not mine:
                continue          # another engine's (tests run several)
            sold = self._ledger_sold(order.position_id)
            filled = proxy.filled.get(timeout=self.rt.ask_timeout_s)
            self._sold[order.position_id] = sold
            self._inflight[order.position_id] = _InFlight(order.exit_id, order.condition, order.priority, ref, order,
                                                          sold_at_start=max(sold - filled, 0))
        if self._inflight:
            self.rt.audit.emit(ae.ExitsAdopted(exit_ids=tuple(sorted(f.exit_id for f in self._inflight.values()))))

    def _ledger(self) -> Any:
        """The repository, once the Store has committed everything it was sent (None: no repository)."""
        if self.repository is None or self.refs is None:
            return None
        from models.store_commands import Flush

        try:
            self.rt.ask(self.refs.store, Flush())
        except Exception:  # noqa: BLE001 - read what is committed
            pass
        return self.repository

    def _ledger_sold(self, pid: str) -> int:
        """Contracts the fills ledger says this position sold (everything the Store was sent first)."""
        from models.orders import Action

        repo = self._ledger()
        if repo is None:
            return 0
        return sum(f.count for o in repo.orders_for(pid) if o.order_id and o.request.action is Action.SELL
                   for f in repo.fills_for_order(o.order_id))

    def _on_ended(self, ended: ExitEnded) -> None:
        pid = ended.position_id
        flight = self._inflight.get(pid)
        if flight is None and self._rebuilt:
            self._to_position(pid, ended)      # ended while the router was being restarted
            return
        if flight is None or flight.exit_id != ended.exit_id:
            return
        del self._inflight[pid]
        self._held.pop(pid, None)
        if ended.stage is not None and ended.filled > 0:
            self._stages_sold.setdefault(pid, set()).add(ended.stage)
        # A trigger sent mid-exit may already have counted some of this exit's fills: add the
        # exit's fills to what was sold when it started, never to what was learned since.
        self._sold[pid] = max(self._sold.get(pid, 0), flight.sold_at_start + ended.filled)
        key = (pid, ended.condition)
        if ended.outcome is not ExitOutcome.GAVE_UP:
            self._give_ups.pop(key, None)       # (a give-up that sold a contract or two goes on counting)
        if ended.outcome is ExitOutcome.GAVE_UP:
            n = self._give_ups[key] = self._give_ups.get(key, 0) + 1
            wait = give_up_cooldown_secs(n, self.cooldown.total_seconds(), ended.condition in CAPITAL_PROTECTION)
            until = self.rt.clock.now() + timedelta(seconds=wait)
            self._cool[(pid, ended.condition)] = (until, self._book.get(pid, 0))
            assert self.refs is not None
            self.rt.scheduler.call_at(until, self.refs.supervisor,
                                      ForwardToPosition(pid, CooldownOver(ended.condition)))
        self._to_position(pid, ended)
        pending = self._pending.pop(pid, None)
        if pending is not None:
            best = self._best(pending)
            held = pending.contracts_held - (self._sold[pid] - pending.sold_so_far)
            if best is not None and held > 0:
                self._start(pending, best, held)


def _in_flight(flight: _InFlight) -> str:
    return f"the {flight.condition} ({flight.priority.name}) exit is already in flight"
