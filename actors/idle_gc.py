"""Garbage collection between bursts, not in the middle of one.

CPython's cyclic collector runs when a thread allocates its 700th container object since the
last collection, whatever that thread is doing: in the middle of the handlers that carry a
quote to an exit order as readily as anywhere else. With 1,000 positions open, a young
collection there costs about 1 ms and a full one about 17 ms (measured, docs/performance.md),
which is most of the tail of tick -> order.

An engine installs an IdleCollector for as long as it runs. It moves the automatic trigger out
of the way (threshold0 × BACKSTOP: still a bound if the engine is never idle) and, each time
every actor is idle (the inline dispatcher found no message left; with threads, the activity
count fell to zero), runs exactly the collection CPython would have run by then: it restores
the usual thresholds for one container allocation, which lets the interpreter's own schedule
decide which generation to collect (the young ones, or a full collection when enough objects
have survived; CPython's own rule, not ours), then moves the trigger back. Collections happen
as often as before, only at the moments between bursts.

Process-wide: the thresholds are the interpreter's. Engines that overlap (tests) share them:
the first install saves the thresholds in force, the last uninstall puts them back.
"""
from __future__ import annotations

import gc
import threading

BACKSTOP = 100      # the automatic trigger while an engine runs: 100 × the usual threshold0

_lock = threading.RLock()     # re-entrant: a finalizer run by a collection may reach idle() again
_installed = 0
_saved: tuple[int, ...] | None = None


class IdleCollector:
    """See the module docstring. `idle()` is called when every actor is idle."""

    def __init__(self, backstop: int = BACKSTOP) -> None:
        self.backstop = backstop
        self.usual: tuple[int, ...] = gc.get_threshold()
        self.busy: tuple[int, ...] = self.usual
        self.installed = False
        self.runs = 0          # idle moments at which a collection was due

    def install(self) -> None:
        global _installed, _saved
        with _lock:
            if self.installed:
                return
            if _installed == 0:
                _saved = gc.get_threshold()
            _installed += 1
            self.installed = True
            self.usual = _saved or gc.get_threshold()
            t0, *rest = self.usual
            self.busy = (max(t0, 1) * self.backstop, *rest)
            if t0 > 0:          # collection not turned off by the user (threshold0 0)
                gc.set_threshold(*self.busy)

    def uninstall(self) -> None:
        global _installed, _saved
        with _lock:
            if not self.installed:
                return
            self.installed = False
            _installed -= 1
            if _installed == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None

    def idle(self) -> None:
        """Every actor is idle: run the collection that is due, if one is."""
        if not self.installed or not gc.isenabled() or self.usual[0] <= 0:
            return
        if gc.get_count()[0] <= self.usual[0]:
            return
        with _lock:     # threads: one at a time, and never after (or during) uninstall
            if not self.installed:
                return
            self.runs += 1
            before = _collections()
            gc.set_threshold(*self.usual)
            try:
                _Trigger()      # one container allocation, counted on every version (no free list)
                _check()        # 3.12+ runs a collection it scheduled at its next check: here
            finally:
                gc.set_threshold(*self.busy)
            ran = _collections() != before
        if not ran:
            # An interpreter that ran nothing still (a newer schedule): a young collection, never
            # a full one (CPython holds those back until enough objects have survived; the
            # backstop's own collections keep that rule).
            gc.collect(1 if gc.get_count()[1] >= self.usual[1] else 0)


class _Trigger:
    """A container allocated through the collector's own counter (lists and tuples may come from
    a free list, which does not count and so triggers nothing)."""

    __slots__ = ()


def _check() -> None:
    """A Python call: CPython 3.12+ runs a collection an allocation scheduled when a call starts."""


def _collections() -> int:
    return sum(g["collections"] for g in gc.get_stats())
