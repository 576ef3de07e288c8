"""One engine per account: a lock per database and per Kalshi key, held for the engine's life.

- SQLite: `<database>.lock` beside the database file, held with fcntl.flock. The OS releases
  it when the process ends in any way (kill -9 included), so there is never a stale lock to
  clean up; the file itself stays and says which process last held it.
- PostgreSQL (DATABASE_URL): a session-level advisory lock (pg_try_advisory_lock) on a
  connection of its own, released by the server when that connection closes or the process dies.
- A Kalshi key: `kalshi-<sha256 of the key id>.lock` in ARBEES_LOCK_DIR (default: a
  per-user directory in the temp folder), so two engines with the same key on one machine
  refuse to run side by side even on different databases. The key id never appears in the
  file name or the message.

A second holder gets EngineLocked, whose message says what is locked and by which process.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

# pg_try_advisory_lock(bigint): one key for "the Arbees engine" (advisory locks are per database).
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"arbees-engine").digest()[:8], "big", signed=True)
LOCK_DIR_ENV = "ARBEES_LOCK_DIR"


class EngineLocked(RuntimeError):
    """Another engine holds the lock: stop it first (exit status 2 at the command line)."""


class EngineLock:
    def __init__(self, what: str, release: Any) -> None:
        self.what = what
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __del__(self) -> None:   # an engine that failed to build drops its lock with it
        self.release()


def lock_database(database_path: str, *, environ: Mapping[str, str] | None = None) -> EngineLock:
    """The lock of the database this engine will use: PostgreSQL if DATABASE_URL is set in
    `environ` (default os.environ), else the SQLite file `database_path`."""
    url = (os.environ if environ is None else environ).get("DATABASE_URL") or None
    if url is not None:
        return _advisory_lock(url)
    if not database_path or database_path == ":memory:":
        return EngineLock("an in-memory database", None)
    return _file_lock(Path(database_path + ".lock"), f"the database {database_path}")


def lock_kalshi_key(key_id: str, *, lock_dir: Path | None = None) -> EngineLock:
    digest = hashlib.sha256(key_id.strip().encode()).hexdigest()
    directory = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return _file_lock(directory / f"kalshi-{digest[:16]}.lock", f"the same Kalshi key (key id hash {digest[:8]})")


def default_lock_dir() -> Path:
    configured = os.environ.get(LOCK_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"arbees-locks-{os.getuid()}"


def _refusal(what: str, holder: str) -> EngineLocked:
    return EngineLocked(f"another Arbees engine is already running on {what}{holder}; one engine per account: "
                        "stop it first (the lock goes away with its process)")


def _file_lock(path: Path, what: str) -> EngineLock:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise EngineLocked(f"cannot open the lock file {path} ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
        finally:
            os.close(fd)
        shown = f" (pid {holder[0]}, since {holder[1]})" if len(holder) >= 2 else ""
        raise _refusal(what, shown) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n".encode(), 0)

    def release() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    return EngineLock(what, release)


def _advisory_lock(url: str) -> EngineLock:
    import psycopg2

    from adapters.storage.database import _postgres

    target = _postgres(url)          # parsed with care: errors never echo the password
    params = dict(target.connect_params)
    try:
        conn = psycopg2.connect(dbname=target.database, **params)
    except psycopg2.Error as exc:
        raise EngineLocked(f"cannot reach the PostgreSQL database {target.database!r} to take the engine lock: "
                           f"{type(exc).__name__}") from None
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,))
        (got,) = cur.fetchone()
        holder = ""
        if not got:
            cur.execute("SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
                        "AND l.objid = (%s::bigint & 4294967295)::oid AND l.database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1", (ADVISORY_KEY,))
            row = cur.fetchone()
            holder = f" (server backend pid {row[0]})" if row else ""
    if not got:
        conn.close()
        raise _refusal(f"the PostgreSQL database {target.database!r} (DATABASE_URL)", holder)
    return EngineLock(f"the PostgreSQL database {target.database!r}", conn.close)
