"""The one event-loop-thread bridge: synchronous callers (actors, commands) run coroutines on an
asyncio loop owned by one daemon thread (DESIGN.md §8: one owner per resource).

The Kalshi venue (adapters/kalshi/venue.py) and the ESPN source (adapters/espn/source.py) each own
one: the loop owns their aiohttp session, a call hands it a coroutine and waits with a timeout,
and the loop itself never waits on anything but I/O.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine

from loguru import logger


class LoopThread:
    """An asyncio loop running on its own daemon thread until `close()`."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()
        self.closed = False

    def run(self, coro: Coroutine[Any, Any, Any], *, timeout: float) -> Any:
        """The coroutine's result, run on the loop. Raises TimeoutError (the coroutine is cancelled)
        when it takes longer than `timeout` seconds, and RuntimeError when the loop is closed or
        when called from the loop's own thread (that would deadlock)."""
        if self.closed:
            coro.close()
            raise RuntimeError(f"the {self.thread.name} loop is closed")
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError(f"called from the {self.thread.name} loop's own thread: that would deadlock")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run `coro` on the loop without waiting for it (a long-lived task, such as the market-data
        WebSocket connection beside the HTTP session). RuntimeError when the loop is closed."""
        if self.closed:
            coro.close()
            raise RuntimeError(f"the {self.thread.name} loop is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self, last: Coroutine[Any, Any, Any] | None = None, *, timeout: float = 5) -> None:
        """Run `last` (closing a session, say) on the loop, then stop the loop and its thread. Safe
        to call twice; never raises (what went wrong is logged)."""
        if self.closed:
            if last is not None:
                last.close()
            return
        try:
            if last is not None and self.loop.is_running():
                asyncio.run_coroutine_threadsafe(last, self.loop).result(timeout=timeout)
            elif last is not None:
                last.close()
        except Exception as exc:  # closing must not raise past here; say what happened
            logger.warning("{} did not close cleanly: {}", self.thread.name, type(exc).__name__)
        finally:
            self.closed = True
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=timeout)
            if not self.thread.is_alive():
                self.loop.close()
