"""The local control channel: a person steers a running engine (`exit`, `entries pause|resume`).

A Unix socket beside the database (`<database>.control.sock`; with PostgreSQL beside the
configured storage.database_path), created mode 0600 so only the user who runs the engine can
connect; no network port. One JSON line in, one JSON line out:
  {"command": "exit", "position_id": "pos-1"}  |  {"command": "exit", "all": true}
  {"command": "entries", "action": "pause" | "resume", "reason": "..."}
  -> {"ok": true|false, "answer": "...", "positions": [...]}
Commands are handled one at a time on the server's thread, checked against the database, and
are idempotent: an exit already requested, a position already closed, entries already paused
each get an answer saying so. Every command and its answer is a CONTROL_COMMAND audit event.

Engine side: a manual exit is `ManualExitRequested` to the position through the supervisor (a
CRITICAL `manual` trigger from then on, models/control.py); a pause is `SetEntriesPaused` to the
EntryManager. A pause outlives a restart: it is also written to `<database>.entries-paused`
(mode 0600), read when the server starts; `resume` removes it.
"""
from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

from loguru import logger

from models import audit_events as ae
from models.control import ManualExitRequested, SetEntriesPaused
from models.commands import ForwardToPosition
from models.position import PositionStatus

MAX_LINE = 64 * 1024
SUN_PATH_MAX = 107


class ControlError(Exception):
    """The control channel cannot be used (no engine listening, path too long, another engine)."""


def control_paths(db_path: str, config_db_path: str, environ: Any = None) -> tuple[Path, Path]:
    """(socket, pause marker) for a database: beside the SQLite file, or beside the configured
    storage.database_path when DATABASE_URL selects PostgreSQL."""
    environ = os.environ if environ is None else environ
    base = Path(config_db_path if environ.get("DATABASE_URL") else db_path).resolve()
    return base.with_name(base.name + ".control.sock"), base.with_name(base.name + ".entries-paused")


def _check_length(path: Path) -> None:
    if len(os.fsencode(str(path))) > SUN_PATH_MAX:
        raise ControlError(f"control socket path {path} is longer than {SUN_PATH_MAX} bytes; "
                           "put the database in a shorter directory")


class ControlServer:
    def __init__(self, system: Any, socket_path: Path, pause_marker: Path) -> None:
        self.system = system
        self.rt = system.rt
        self.repository = system.repository
        self.socket_path = Path(socket_path)
        self.pause_marker = Path(pause_marker)
        self.entries_paused: str | None = None
        self._manual: dict[str, str] = {}         # position id -> when the exit was requested
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------
    @classmethod
    def start(cls, system: Any, socket_path: Path, pause_marker: Path) -> "ControlServer":
        server = cls(system, socket_path, pause_marker)
        server._bind()
        if server.pause_marker.exists():
            reason = server.pause_marker.read_text(encoding="utf-8").strip() or "paused before the restart"
            server._pause(reason, source="restart")
        server._thread = threading.Thread(target=server._serve, name="control", daemon=True)
        server._thread.start()
        add = getattr(system.rt.audit, "add_heartbeat_source", None)
        if add is not None:
            add(lambda: {"entries_paused": server.entries_paused or ""})
        logger.info("control channel at {} (only this user can connect)", server.socket_path)
        return server

    def _bind(self) -> None:
        path = self.socket_path
        _check_length(path)
        if path.exists() or path.is_symlink():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(path))
                raise ControlError(f"another engine is already listening at {path} (same database?)")
            except (ConnectionRefusedError, FileNotFoundError):
                path.unlink()                  # left by a process that died
            except OSError as exc:
                raise ControlError(f"{path} exists and is not a control socket ({exc.strerror})") from None
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(8)
        sock.settimeout(0.2)
        self._sock = sock

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
        try:
            self.socket_path.unlink()
        except FileNotFoundError:
            pass

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5)
                    reply = self.handle(_read_line(conn))
                except (ValueError, OSError) as exc:
                    reply = {"ok": False, "answer": f"bad request: {exc}"}
                except Exception as exc:  # noqa: BLE001 - the control thread must survive anything
                    logger.opt(exception=exc).error("control command failed")
                    reply = {"ok": False, "answer": f"the engine could not handle it ({type(exc).__name__})"}
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode("utf-8"))
                except OSError:
                    pass

    # commands ----------------------------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        if command == "exit":
            reply = self._exit_all() if request.get("all") is True else self._exit(str(request.get("position_id", "")))
        elif command == "entries" and request.get("action") in ("pause", "resume"):
            reason = str(request.get("reason") or "by the operator")[:200]
            reply = self._pause(reason, source="command") if request["action"] == "pause" else self._resume()
        else:
            reply = {"ok": False, "answer": "unknown command (expected exit or entries pause|resume)"}
        positions = reply.get("positions")
        self.rt.audit.emit(ae.ControlCommand(
            command=str(command), request={k: v for k, v in request.items() if k != "command"}, ok=reply["ok"],
            answer=reply["answer"], positions=None if positions is None else tuple(positions),
            position_id=request.get("position_id") if command == "exit" else None))
        return reply

    def _exit(self, pid: str) -> dict[str, Any]:
        state = self.repository.load_position(pid) if pid else None
        if state is None:
            return {"ok": False, "answer": f"no position {pid!r}"}
        if state.status is PositionStatus.CLOSED or state.contracts <= 0:
            return {"ok": True, "answer": f"{pid} is already closed ({state.exit_reason or 'no contracts'}); nothing to do",
                    "positions": [pid]}
        if not self._has_actor(pid):
            try:                               # just closed? its last writes may still be queued at the Store
                self.system.flush()
            except Exception:  # noqa: BLE001 - then the database as it is
                pass
            state = self.repository.load_position(pid) or state
            if state.status is PositionStatus.CLOSED or state.contracts <= 0:
                return {"ok": True, "answer": f"{pid} is already closed ({state.exit_reason or 'no contracts'}); "
                                              "nothing to do", "positions": [pid]}
            return {"ok": False, "answer": f"{pid} is open in the database but no actor trades it (reconciliation "
                                           "could not confirm its orders at start-up); nothing was sent",
                    "positions": [pid]}
        now = self.rt.clock.now()
        # Sent again on a repeat: harmless (the position already fires `manual`, the router keeps
        # the one CRITICAL exit in flight) and it re-arms a position actor restarted since.
        self.rt.send(self.system.refs.supervisor,
                     ForwardToPosition(pid, ManualExitRequested("manual exit requested by the operator")))
        if pid in self._manual:
            return {"ok": True, "answer": f"{pid}: a manual exit was already requested at {self._manual[pid]}; "
                                          "it is running (see `timeline`)", "positions": [pid]}
        self._manual[pid] = now.isoformat(timespec="seconds")
        return {"ok": True, "answer": f"{pid}: CRITICAL manual exit sent for the {state.contracts} contracts held "
                                      f"({state.ticker} {state.side.value})", "positions": [pid]}

    def _has_actor(self, pid: str) -> bool:
        """Whether the supervisor runs an actor for the position (a bounded read of its map)."""
        try:
            positions = self.system.refs.supervisor.proxy().positions.get(timeout=self.rt.ask_timeout_s)
        except Exception:  # noqa: BLE001 - unknown: send anyway (the supervisor drops what it cannot route)
            return True
        return pid in positions

    def _exit_all(self) -> dict[str, Any]:
        positions = self.repository.load_open_positions()
        if not positions:
            return {"ok": True, "answer": "no open position; nothing to do", "positions": []}
        replies = [self._exit(p.position_id) for p in positions]
        return {"ok": all(r["ok"] for r in replies), "answer": "; ".join(r["answer"] for r in replies),
                "positions": [p.position_id for p in positions]}

    def _pause(self, reason: str, *, source: str) -> dict[str, Any]:
        if self.entries_paused is not None:
            return {"ok": True, "answer": f"entries were already paused ({self.entries_paused})"}
        stamp = f"{reason}, since {self.rt.clock.now().isoformat(timespec='seconds')}"
        self.entries_paused = stamp
        self.rt.send(self.system.refs.entry_manager, SetEntriesPaused(True, stamp))
        if source == "command":
            old = os.umask(0o177)
            try:
                self.pause_marker.write_text(stamp + "\n", encoding="utf-8")
            finally:
                os.umask(old)
        else:
            self.rt.audit.emit(ae.ControlCommand(command="entries", request={"action": "pause", "source": source},
                                                 ok=True, answer=f"entries paused ({stamp})", still_paused=stamp))
        return {"ok": True, "answer": f"new entries paused ({stamp}); exits keep running"}

    def _resume(self) -> dict[str, Any]:
        if self.entries_paused is None:
            return {"ok": True, "answer": "entries were not paused"}
        self.entries_paused = None
        self.rt.send(self.system.refs.entry_manager, SetEntriesPaused(False, ""))
        try:
            self.pause_marker.unlink()
        except FileNotFoundError:
            pass
        return {"ok": True, "answer": "new entries resumed"}


def _read_line(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_LINE:
            raise ValueError("request too long")
    request = json.loads(data.split(b"\n", 1)[0] or b"null")
    if not isinstance(request, dict):
        raise ValueError("expected one JSON object")
    return request


def send_command(socket_path: Path, request: dict[str, Any], timeout_s: float = 15.0) -> dict[str, Any]:
    """Send one command to the engine listening at `socket_path`; its answer."""
    _check_length(Path(socket_path))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            sock.connect(str(socket_path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(f"no engine is listening at {socket_path} (is `live` running with this database?)") from None
        except PermissionError:
            raise ControlError(f"{socket_path}: permission denied (the engine runs as another user)") from None
        sock.sendall((json.dumps(request) + "\n").encode("utf-8"))
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        raise ControlError(f"the engine at {socket_path} did not answer within {timeout_s:.0f} s") from None
    finally:
        sock.close()
    try:
        reply = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        raise ControlError("the engine's answer was not JSON") from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ControlError("the engine's answer had no 'ok'")
    return reply
