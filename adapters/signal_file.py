"""Trading signals from outside: JSON Lines ("signal" events of the replay format) read from a
file or a named pipe as lines are appended, so a user's own model can drive entries.

`SignalFollower.poll()` reads whatever complete lines are there now (tests call it directly);
`start()` runs it on a daemon thread every `interval_s` (live only). A malformed line is
reported with its line number and skipped; nothing else stops the follower.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable

from loguru import logger

from adapters.replay import ReplayError, _Line, _signal
from models.signal import TradingSignal


class SignalFollower:
    def __init__(self, path: Path, on_signal: Callable[[TradingSignal], None], *, platform: str = "kalshi",
                 interval_s: float = 0.5) -> None:
        self.path = Path(path)
        self.on_signal = on_signal
        self.platform = platform
        self.interval_s = interval_s
        self._fh = None
        self._buffer = ""
        self._line = 0
        self.accepted = 0
        self.skipped = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> int:
        """Read every complete line available now; returns how many signals were passed on."""
        if self._fh is None:
            if not self.path.exists():
                return 0
            # A FIFO blocks on open until a writer appears: open non-blocking-ish via the thread.
            self._fh = self.path.open("r", encoding="utf-8")
        chunk = self._fh.read()
        if not chunk:
            return 0
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split("\n")
        n = 0
        for raw in complete:
            self._line += 1
            if raw.strip() and self._one(raw):
                n += 1
        return n

    def _one(self, raw: str) -> bool:
        where = f"{self.path}:{self._line}"
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict):
                raise ReplayError(f"{where}: expected a JSON object")
            if obj.get("type", "signal") != "signal":
                raise ReplayError(f"{where}: field 'type': expected \"signal\", found {obj.get('type')!r}")
            ln = _Line(self.path, self._line, obj)
            ts = ln.time("ts")
            sig = _signal(ln, ts, {})
        except json.JSONDecodeError as exc:
            self.skipped += 1
            logger.warning("{}: skipped: not valid JSON ({})", where, exc.msg)
            return False
        except ReplayError as exc:
            self.skipped += 1
            logger.warning("skipped: {}", exc)
            return False
        if sig.platform != self.platform:
            sig = TradingSignal(**{**{f: getattr(sig, f) for f in sig.__dataclass_fields__},
                                   "platform": self.platform, "source": "signals-file"})
        self.accepted += 1
        self.on_signal(sig)
        return True

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll()
                except OSError as exc:
                    logger.error("signals file {}: {}", self.path, exc.strerror)
                self._stop.wait(self.interval_s)

        self._thread = threading.Thread(target=loop, name="signals-file", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._fh is not None:
            self._fh.close()


