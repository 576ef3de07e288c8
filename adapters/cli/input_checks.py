"""Command-line paths checked before anything starts: a clear exit 2 instead of a traceback
deep in SQLite, or a run that waits forever on a file that will never come.

- An output path (`--db`, `--audit`, `--out`) must be in a folder that exists (nothing creates
  folders for a typo) and must not itself be a folder.
- `--signals` in paper mode is read once, before the session: the file must exist.
- `--signals` in live mode is followed while the engine runs: a named pipe may be opened by its
  writer later, a plain file must exist unless `--signals-wait` says a producer will create it.
"""
from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

OUTPUT_FLAGS = (("db", "--db"), ("audit", "--audit"), ("out", "--out"))


class BadPath(ValueError):
    """A path the command cannot use; the message names the flag and the path."""


def check_output_path(flag: str, value: str) -> None:
    path = Path(value)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise BadPath(f"{flag} {value}: the folder {folder} does not exist (create it first, or pick another path)")
    if not folder.is_dir():
        raise BadPath(f"{flag} {value}: {folder} is not a folder")
    if path.is_dir():
        raise BadPath(f"{flag} {value}: is a folder; expected a file path")


def check_signals_path(value: str, *, live: bool, wait: bool = False) -> None:
    path = Path(value)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if live and wait:
            return
        hint = " (or add --signals-wait if a producer will create it)" if live else ""
        raise BadPath(f"--signals {value}: no such file{hint}") from None
    except OSError as exc:
        raise BadPath(f"--signals {value}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise BadPath(f"--signals {value}: is a folder; expected a JSON Lines file or a named pipe")
    if stat.S_ISFIFO(mode) and not live:
        raise BadPath(f"--signals {value}: a named pipe can only be followed by `live`; paper reads a file once")
    if not os.access(path, os.R_OK):
        raise BadPath(f"--signals {value}: not readable")


def check_paths(args: argparse.Namespace, command: str | None) -> None:
    """Every path flag the parsed command line carries. Raises BadPath."""
    for attr, flag in OUTPUT_FLAGS:
        value = getattr(args, attr, None)
        if not value or (attr == "db" and os.environ.get("DATABASE_URL")):
            continue
        check_output_path(flag, value)
    signals = getattr(args, "signals", None)
    if isinstance(signals, str) and signals:
        check_signals_path(signals, live=command == "live", wait=bool(getattr(args, "signals_wait", False)))
