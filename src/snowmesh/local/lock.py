"""The run lock: one writer at a time per state folder (``<project>/.mesh/``).

``mesh run``, ``mesh deploy``, ``mesh tasks deploy`` and a local ``mesh call`` (it rewrites the
product registry) hold it for their whole life. It is an ``flock`` on ``.mesh/run.lock`` plus a
JSON record in that file of who holds it (PID, command, start time, host):

- the kernel releases an flock when its process dies, however it dies (kill -9 included), so a
  crashed writer never blocks the next one; the record it leaves behind names a dead PID, and
  the next writer says in one line that it took the lock over;
- a second writer prints one line naming the holder and since when, and exits 1
  (``LockHeld``); with ``--wait`` it waits for the holder instead.

With ``--connection NAME`` the lock is ``.mesh/run-<NAME>.lock``: it keeps two commands of this
checkout from writing to the same account at once, and nothing more. Another machine and the
account's own scheduled task graphs are outside it; docs/local-account.md says what protects
those (the graphs' non-overlapping schedule and the exactly-once ledger).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from snowmesh.console import Reporter
from snowmesh.errors import MeshError

# Paths this process holds (flock is per open file: a nested hold in the same process must not
# wait for itself).
_held: dict[Path, int] = {}


class LockHeld(MeshError):
    """Another writer holds the state folder's run lock (exit 1: try again, or --wait)."""


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    started_at: str  # ISO 8601, UTC
    hostname: str

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid} on {self.hostname}) since {self.started_at}"

    @property
    def alive(self) -> bool:
        """Whether the holder's process still exists; a holder on another host is assumed alive."""
        if self.hostname != socket.gethostname():
            return True
        return pid_alive(self.pid)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a running process (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def lock_path(state: Path, connection: str | None = None) -> Path:
    if connection is None:
        return state / "run.lock"
    # A connection name becomes part of a file name only if it is a plain word.
    safe = connection if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", connection) else (
        hashlib.sha256(connection.encode()).hexdigest()[:16])
    return state / f"run-{safe}.lock"


def _read_record(fd: int) -> Holder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = b""
    while chunk := os.read(fd, 65536):
        raw += chunk
    if not raw.strip():
        return None
    try:
        return Holder(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def _holder_of(path: Path) -> Holder | None:
    """The record of whoever holds ``path``. The holder writes it right after taking the flock,
    so an empty read is retried briefly."""
    for _ in range(20):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            record = _read_record(fd)
        finally:
            os.close(fd)
        if record is not None:
            return record
        time.sleep(0.05)
    return None


def holder(state: Path, connection: str | None = None) -> Holder | None:
    """Who holds the lock now, or None when nobody does (``mesh down`` asks this)."""
    path = lock_path(state, connection)
    if path in _held:
        return _holder_of(path)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder_of(path) or Holder(0, "an unknown command", "an unknown time", socket.gethostname())
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _note(reporter: Reporter | None, message: str) -> None:
    """Said in one line: through the command's reporter, or as a ``snowmesh.local`` warning."""
    if reporter is not None:
        reporter.info(message)
    else:
        logging.getLogger("snowmesh.local").warning(message)


@contextmanager
def hold(state: Path, command: str, *, wait: bool = False, connection: str | None = None,
         reporter: Reporter | None = None) -> Iterator[Holder]:
    """Hold the run lock of ``state`` for the block; raise ``LockHeld`` if another writer has it."""
    path = lock_path(state, connection)
    if path in _held:  # nested in this process: already ours
        yield _holder_of(path) or Holder(os.getpid(), command, "", socket.gethostname())
        return
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _holder_of(path)
            who = other.describe() if other else "another command"
            if not wait:
                raise LockHeld(
                    f"{path} is held by {who}: one writer at a time per state folder",
                    hint="wait for it to finish, or run again with --wait",
                ) from None
            _note(reporter, f"waiting for {who} to release {path}")
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks; Ctrl-C interrupts it
        previous = _read_record(fd)
        if previous is not None and previous.pid != os.getpid():
            # The flock was free, so its last holder ended without clearing its record: it died.
            _note(reporter, f"took over the run lock of {previous.describe()}: that process is gone")
        me = Holder(os.getpid(), command, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), socket.gethostname())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        os.fsync(fd)
        _held[path] = fd
        try:
            yield me
        finally:
            _held.pop(path, None)
            os.ftruncate(fd, 0)  # a clean release leaves no record; a crash leaves its own
    finally:
        os.close(fd)  # closing the file releases the flock


@contextmanager
def writer(root: Path, command: str, *, connection: str | None = None, wait: bool = False,
           reporter: Reporter | None = None, enabled: bool = True) -> Iterator[Holder | None]:
    """What a writing command wraps itself in: the run lock of the project's state folder
    (``enabled=False`` for its read-only variants, such as ``--dry-run``)."""
    if not enabled:
        yield None
        return
    from snowmesh.local.servers import state_dir

    with hold(state_dir(root), command, wait=wait, connection=connection, reporter=reporter) as me:
        yield me
