"""Ctrl-C for the virtual-time commands (`paper`, `replay`): stop cleanly, never mid-write.

`stop_requested` is what a session polls between events. Inside `interruptible()`, SIGINT and
SIGTERM only set it: the session stops taking events, every message already sent is handled
(the actors go idle), the Store writes what it holds, the actors stop, the summary so far is
printed, and the command exits with EXIT_INTERRUPTED (130, as a shell reports Ctrl-C) and no
traceback. A second Ctrl-C while that runs exits at once (130), leaving the database as SQLite's
last committed transaction left it.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

EXIT_INTERRUPTED = 130

_requested = threading.Event()


def stop_requested() -> bool:
    return _requested.is_set()


def exit_status(ok: int = 0) -> int:
    """`ok`, or 130 when the run was interrupted."""
    return EXIT_INTERRUPTED if _requested.is_set() else ok


def _on_signal(signum: int, frame: object) -> None:
    if _requested.is_set():
        print("interrupted again: exiting now", file=sys.stderr, flush=True)
        os._exit(EXIT_INTERRUPTED)
    _requested.set()
    print("interrupted: finishing what is in flight, then the summary so far (Ctrl-C again to quit at once)",
          file=sys.stderr, flush=True)


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT/SIGTERM request a stop instead of raising, until the block ends (main thread only;
    elsewhere signals cannot be handled and this does nothing)."""
    _requested.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupt_note(now: object) -> dict[str, str]:
    """The summary's line saying the run was cut short (empty when it was not)."""
    if not _requested.is_set():
        return {}
    return {"Interrupted": f"by Ctrl-C at {now}: the summary so far (no later events, no tail)"}
