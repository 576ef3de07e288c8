"""Trading signals from outside: JSON Lines ("signal" events of the replay format) read from a
file or a named pipe as lines are appended, so a user's own model can drive entries.

`SignalFollower.poll()` reads whatever complete lines are there now (tests call it directly);
`start()` runs it on a daemon thread every `interval_s` (live only). A malformed line is
reported with its line number and skipped; nothing else stops the follower.
"""
from __future__ import annotations

import codecs
import json
import os
import threading
from pathlib import Path
from typing import Callable

from loguru import logger

from adapters.files.replay import ReplayError, _Line, _signal
from models.signal import TradingSignal


class SignalFollower:
    def __init__(self, path: Path, on_signal: Callable[[TradingSignal], None], *, platform: str = "kalshi",
                 interval_s: float = 0.5) -> None:
        self.path = Path(path)
        self.on_signal = on_signal
        self.platform = platform
        self.interval_s = interval_s
        self._fd: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._line = 0
        self.accepted = 0
        self.skipped = 0
        self.problems: list[str] = []   # why each skipped line was skipped ("FILE:LINE: ..."), in order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> int:
        """Read every complete line available now; returns how many signals were passed on.

        Never blocks: the file is opened and read non-blocking, so a named pipe with no writer
        yet, or with a writer that keeps it open, gives what has been written so far."""
        if self._fd is None:
            if not self.path.exists():
                return 0
            # O_NONBLOCK: opening a FIFO does not wait for a writer, reading does not wait for EOF.
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        chunks = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:      # a pipe with a writer and nothing more written yet
                break
            if not data:                 # end of the file (or no writer on the pipe) for now
                break
            chunks.append(self._decoder.decode(data))
        if not chunks:
            return 0
        self._buffer += "".join(chunks)
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
            return self._skip(f"{where}: skipped: not valid JSON ({exc.msg})")
        except RecursionError:            # "[[[[..." nested past the decoder's depth
            return self._skip(f"{where}: skipped: not valid JSON (nested too deeply)")
        except ReplayError as exc:
            return self._skip(f"skipped: {exc}")
        except (ValueError, TypeError, ArithmeticError) as exc:   # e.g. "contracts": "Infinity"
            return self._skip(f"{where}: skipped: a value out of range ({type(exc).__name__}: {exc})")
        if sig.platform != self.platform:
            sig = TradingSignal(**{**{f: getattr(sig, f) for f in sig.__dataclass_fields__},
                                   "platform": self.platform, "source": "signals-file"})
        self.accepted += 1
        self.on_signal(sig)
        return True

    def _skip(self, why: str) -> bool:
        self.skipped += 1
        self.problems.append(why.replace("skipped: ", "", 1))
        logger.warning("{}", why)
        return False

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll()
                except OSError as exc:
                    logger.error("signals file {}: {}", self.path, exc.strerror)
                except Exception as exc:  # noqa: BLE001 - nothing may stop the follower
                    logger.error("signals file {}: {}: {}", self.path, type(exc).__name__, exc)
                self._stop.wait(self.interval_s)

        self._thread = threading.Thread(target=loop, name="signals-file", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


