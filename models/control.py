"""Commands a person sends to a running engine (through adapters/operator/control.py), as messages.

`ManualExitRequested` goes to one position (via the supervisor): from then on every evaluation
of that position adds a CRITICAL `manual` trigger, ranked before every other condition, so the
router runs (or preempts into) a CRITICAL exit for every contract held. Repeating it changes
nothing. It is not persisted: after a restart the position is back under its rules (say
`exit` again). `SetEntriesPaused` stops (or restarts) new entries at the EntryManager; exits
keep running.
"""
from __future__ import annotations

from dataclasses import dataclass

from models.exit_rules import ExitTrigger
from models.position import PositionState
from models.priorities import Priority

MANUAL = "manual"
MANUAL_RANK = (-1, 0)      # before every configured condition, CRITICAL ones included


@dataclass(frozen=True, slots=True)
class ManualExitRequested:
    reason: str


@dataclass(frozen=True, slots=True)
class SetEntriesPaused:
    paused: bool
    reason: str


def manual_trigger(state: PositionState, reason: str) -> ExitTrigger:
    return ExitTrigger(MANUAL, Priority.CRITICAL, MANUAL_RANK, state.contracts, None, None, reason)
