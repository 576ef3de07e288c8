"""Fault injection and call counting for simulated venues (reliability tests).

`inject(method, error, times)` makes the next `times` calls of a venue method raise `error`
before doing anything (the request never reached the venue). `inject_after` lets the call do
its work first and then raises (the venue acted but the answer was lost, like a timeout after
an order was created). An after-fault is used up only by a call that would otherwise have
succeeded; a call that raises on its own leaves it armed. Faulted calls are counted too.
"""
from __future__ import annotations

import functools
from collections import Counter, defaultdict, deque
from typing import Callable, Iterable, TypeVar

F = TypeVar("F", bound=Callable)


class FaultInjector:
    def __init__(self, methods: Iterable[str]) -> None:
        self.methods = frozenset(methods)
        self.calls: Counter[str] = Counter()
        self._before: dict[str, deque[Exception]] = defaultdict(deque)
        self._after: dict[str, deque[Exception]] = defaultdict(deque)

    def inject(self, method: str, error: Exception, times: int = 1) -> None:
        self._check(method, times)
        self._before[method].extend([error] * times)

    def inject_after(self, method: str, error: Exception, times: int = 1) -> None:
        self._check(method, times)
        self._after[method].extend([error] * times)

    def clear(self) -> None:
        self._before.clear()
        self._after.clear()

    def on_call(self, method: str) -> None:
        """Count the call; raise its pending before-fault, if any."""
        self.calls[method] += 1
        if self._before[method]:
            raise self._before[method].popleft()

    def on_success(self, method: str) -> None:
        """Raise the method's pending after-fault, if any."""
        if self._after[method]:
            raise self._after[method].popleft()

    def _check(self, method: str, times: int) -> None:
        if method not in self.methods:
            raise ValueError(f"inject_fault: {method!r} is not a venue method ({sorted(self.methods)})")
        if times < 1:
            raise ValueError(f"inject_fault: times must be >= 1, got {times}")


def faultable(fn: F) -> F:
    """Decorate a venue method: hold `self._lock`, count the call and apply `self._faults`."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            self._faults.on_call(name)
            result = fn(self, *args, **kwargs)
            self._faults.on_success(name)
            return result

    return wrapper  # type: ignore[return-value]
