"""A fault-simulation seed judged after its session: what it observed, the invariants, the time
positions spent past their stop without an exit in flight, and the SeedResult (runner.py's
SimRun inherits this; it holds the session's engine, venue, audit and fault records).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from adapters.harness.fault_sim.invariants import Observation, Violation, check_invariants
from adapters.harness.fault_sim.protection import Episode, books_by_ticker, past_stop_at, unprotected_episodes
from models.position import PositionStatus


@dataclass(frozen=True, slots=True)
class SeedResult:
    seed: int
    faults: tuple[str, ...]                 # what was injected, in time order
    injected: tuple[tuple[str, int], ...]   # faults applied, by kind
    fired: tuple[tuple[str, int], ...]      # injected errors and races that actually hit a call
    violations: tuple[Violation, ...]
    positions: int
    closed: int
    orders: int
    restarts: int
    venue_calls: int
    budget: int
    virtual_s: float
    wall_s: float
    core_faults: tuple[tuple[float, str, str, str, float | None], ...] = ()   # (at s, kind, actor, point, unprotected s)
    failed_safe: str | None = None
    longest_unprotected_s: float = 0.0     # any position past its stop with no exit in flight

    @property
    def ok(self) -> bool:
        return not self.violations



class SeedVerdict:
    """The after-the-session reading of a SimRun (its attributes are set by SimRun)."""

    seed: int
    engine: Any
    venue: Any
    config: Any
    scenario: Any
    audit: list
    errors: list

    def observation(self) -> Observation:
        return Observation(venue=self.venue, repository=self.engine.repository, audit=self.audit,
                           call_times=tuple(self.call_times), reconcile_times=tuple(self.reconcile_times),
                           request_times=tuple(t for t, _ in self.venue.call_log),
                           budget=self.config.monitoring.max_api_calls_per_minute,
                           planted_crashes=Counter(self.planted), stale_exits=tuple(self.stale_exits),
                           reconcile_alerts=tuple(self.final_alerts), errors=tuple(self.errors),
                           planted_core=Counter(f.actor for _, f in self.core_faults), episodes=self.episodes())

    def episodes(self) -> list[Episode]:
        end = self.engine.clock.now()
        return unprotected_episodes(self.engine.repository.all_positions(), self.config,
                                    books_by_ticker(self.scenario.events), self.audit, self.restart_times, end)

    def unprotected_after(self, episodes: list[Episode]) -> list[tuple[float, str, str, str, float | None]]:
        """Per core fault: virtual seconds from it to the next exit decision for a position that
        was past its stop at that moment or went past it right after (0: its exit was in flight
        or routed at once; None: no position was past its stop)."""
        out = []
        books = books_by_ticker(self.scenario.events)
        positions = self.engine.repository.all_positions()
        soon = timedelta(seconds=1)
        for at, f in self.core_faults:
            hit = [e for e in episodes if e.start <= at + soon and e.end > at]
            worst = max(((e.end - max(e.start, at)).total_seconds() for e in hit), default=None)
            if worst is None and any(past_stop_at(p, self.config, books, at) for p in positions):
                worst = 0.0
            out.append(((at - self.scenario.start).total_seconds(), f.kind, f.actor or "", f.point or "", worst))
        return out

    def result(self) -> SeedResult:
        violations: tuple[Violation, ...]
        core: list = []
        longest = 0.0
        try:
            obs = self.observation()
            violations = tuple(check_invariants(obs))
            core = self.unprotected_after(list(obs.episodes))
            longest = max((e.seconds for e in obs.episodes), default=0.0)
            positions = self.engine.repository.all_positions()
        except Exception as exc:  # noqa: BLE001 - e.g. the run died before the database existed
            violations = tuple(Violation("engine_health", e) for e in self.errors) or (
                Violation("engine_health", f"invariants could not be checked: {type(exc).__name__}: {exc}"),)
            positions = ()
        end = self.engine.clock.now() if self.engine is not None else self.scenario.start
        return SeedResult(
            seed=self.seed, faults=tuple(self.applied), injected=tuple(sorted(self.injected.items())),
            fired=tuple(sorted(self.venue.fired.items())), violations=violations, positions=len(positions),
            closed=sum(1 for p in positions if p.status is PositionStatus.CLOSED),
            orders=len(self.venue.all_orders()), restarts=self.restarts, venue_calls=len(self.venue.call_log),
            budget=self.config.monitoring.max_api_calls_per_minute,
            virtual_s=(end - self.scenario.start).total_seconds(), wall_s=round(self._wall, 3),
            core_faults=tuple(core), failed_safe=self.failed_safe, longest_unprotected_s=longest)
