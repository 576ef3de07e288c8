"""The ids of an exit and of its orders, built in one place and read back in one place.

An exit's id is `{position_id}-{epoch}x{n}`, with `p{stage}` after it for a partial stage: the
epoch is the process's (a restarted process never reuses an id an earlier one sent), n counts the
position's exits in that process, and the stage lets a restart tell a stage sold. Each order the
exit sends is `{exit_id}-{attempt}` (attempt from 1), its client_order_id, written down before
it is sent and reused on a retry. An entry's client_order_id is `en-{signal_id}`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ENTRY_PREFIX = "en-"
_EXIT_ORDER = re.compile(r"(?P<exit>(?P<position>.+)-[0-9a-z]*x\d+(?:p\d+)?)-(?P<attempt>\d+)")


def exit_id(position_id: str, epoch: str, n: int, stage: int | None = None) -> str:
    return f"{position_id}-{epoch}x{n}" + (f"p{stage}" if stage is not None else "")


def exit_order_id(exit_id_: str, attempt: int) -> str:
    """The client_order_id of the exit's attempt-th order."""
    return f"{exit_id_}-{attempt}"


@dataclass(frozen=True, slots=True)
class ExitOrderRef:
    position_id: str
    exit_id: str
    attempt: int


def read_exit_order_id(client_order_id: str) -> ExitOrderRef | None:
    """The position, exit and attempt an exit order's client_order_id names; None for any other
    id (an entry's, or one Arbees did not send)."""
    m = _EXIT_ORDER.fullmatch(client_order_id)
    if m is None or client_order_id.startswith(ENTRY_PREFIX):
        return None
    return ExitOrderRef(m["position"], m["exit"], int(m["attempt"]))
