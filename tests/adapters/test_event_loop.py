"""The one event-loop-thread bridge (adapters/event_loop.py), which the Kalshi venue and the ESPN
source both run their aiohttp sessions on."""
from __future__ import annotations

import asyncio

import pytest

from adapters.event_loop import LoopThread


@pytest.fixture
def io():  # type: ignore[no-untyped-def]
    t = LoopThread("test-io")
    yield t
    t.close()


def test_a_coroutine_runs_on_the_loop_thread_and_returns_its_result(io: LoopThread) -> None:
    import threading

    async def where() -> str:
        return threading.current_thread().name

    assert io.run(where(), timeout=5) == "test-io"


def test_an_answer_that_never_comes_times_out_and_is_cancelled(io: LoopThread) -> None:
    cancelled = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(TimeoutError):
        io.run(forever(), timeout=0.05)
    io.run(asyncio.sleep(0), timeout=5)          # the loop has processed the cancellation by now
    assert cancelled == [True]


def test_a_call_from_the_loop_thread_itself_is_refused_instead_of_deadlocking(io: LoopThread) -> None:
    async def reenter() -> str:
        inner = asyncio.sleep(0)
        try:
            io.run(inner, timeout=1)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "own thread" in io.run(reenter(), timeout=5)


def test_close_runs_the_last_coroutine_stops_the_thread_and_is_safe_twice() -> None:
    t = LoopThread("closing-io")
    done = []

    async def last() -> None:
        done.append(True)

    t.close(last())
    assert done == [True] and not t.thread.is_alive() and t.closed
    t.close(last())                                  # a second close neither raises nor runs it
    assert done == [True]
    with pytest.raises(RuntimeError, match="closed"):
        t.run(asyncio.sleep(0), timeout=1)


def test_a_last_coroutine_that_fails_does_not_stop_close() -> None:
    t = LoopThread("failing-io")

    async def boom() -> None:
        raise OSError("connection reset")

    t.close(boom())
    assert t.closed and not t.thread.is_alive()


def test_submit_runs_a_task_without_waiting_and_is_refused_once_closed() -> None:
    t = LoopThread("submit-io")
    started = asyncio.Event()

    async def task() -> str:
        started.set()
        return "ran"

    assert t.submit(task()).result(timeout=5) == "ran"
    t.close()
    with pytest.raises(RuntimeError, match="closed"):
        t.submit(task())
