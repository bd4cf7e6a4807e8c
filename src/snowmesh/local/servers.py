"""Start, check, hand over and stop the two local servers; ``.mesh/servers.json`` records them.

Both run as child processes on free loopback ports. The record says which PIDs and ports, and
who owns them: ``mesh up`` (or ``--keep-servers``) owns them for good (``keep``); a command that
started them for itself owns them until it ends. The record matches the processes:

- it is written only after both servers answer over HTTP, and removed only once both are gone;
- every change to it happens under ``.mesh/servers.lock`` (an flock), so two commands never
  start two pairs or stop each other's half-started pair;
- servers of an owner that died (a killed ``mesh run``) are adopted by the next command with a
  one-line note, after a health probe: the adopter then owns them and stops them when it ends;
- a fakesnow that holds an open transaction of a dead client, or whose probe fails, is
  restarted with a one-line note (the DuckDB files under ``.mesh/fakesnow`` keep everything
  committed; the dead transaction is discarded);
- a server process of this state folder that the record does not list (a leftover) is stopped
  before new servers start: it would hold the DuckDB files' lock.

moto keeps S3 in memory, so landed files last as long as the S3 server does (the ingest ledger
in each RAW schema, not S3, is what makes re-runs idempotent).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from snowmesh.console import Reporter
from snowmesh.errors import LocalAccountError
from snowmesh.local import lock
from snowmesh.local.lock import pid_alive
from snowmesh.local.probes import PROBE_TIMEOUT_S, alive, answers, free_port, health, ours, port_open

READY_TIMEOUT_S = 30.0
STATE_ENV = "SNOWMESH_SERVER_STATE"  # set in each server's environment: finds leftovers of a folder
LABELS = {"fakesnow": "Snowflake", "moto": "S3"}
# Open targets of this process per state folder: a target opened inside another one (a test
# fixture's account, a command's helper) shares its servers and must not stop them at its end.
_users: dict[Path, int] = {}


@dataclass(frozen=True)
class Server:
    name: str
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def describe(self) -> str:
        return f"the local {LABELS.get(self.name, self.name)} server ({self.name}, pid {self.pid}, port {self.port})"


@dataclass(frozen=True)
class Owner:
    pid: int
    command: str
    keep: bool  # `mesh up` / --keep-servers: the servers outlive the command
    since: str


@dataclass(frozen=True)
class LocalServers:
    snowflake: Server
    s3: Server
    owner: Owner | None = None

    @property
    def all(self) -> tuple[Server, Server]:
        return self.snowflake, self.s3


def state_dir(root: Path) -> Path:
    """``<project>/.mesh``, or $SNOWMESH_STATE_DIR (tests and the CI gate use a scratch account)."""
    override = os.environ.get("SNOWMESH_STATE_DIR")
    return Path(override) if override else root / ".mesh"


def db_dir(root: Path) -> Path:
    """One DuckDB file per Snowflake database lives here."""
    return state_dir(root) / "fakesnow"


def _state_file(root: Path) -> Path:
    return state_dir(root) / "servers.json"


def _read(root: Path) -> LocalServers | None:
    try:
        data = json.loads(_state_file(root).read_text())
        owner = Owner(**data["owner"]) if data.get("owner") else None
        return LocalServers(snowflake=Server(**data["snowflake"]), s3=Server(**data["s3"]), owner=owner)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(root: Path, srv: LocalServers) -> None:
    path = _state_file(root)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(srv), indent=2))
    tmp.replace(path)  # atomic: a reader sees the old record or the new one


@contextmanager
def _guard(root: Path) -> Iterator[None]:
    """Serialise every change to the servers and their record (held for seconds, not a run)."""
    state_dir(root).mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir(root) / "servers.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def running(root: Path) -> LocalServers | None:
    """The recorded servers, if both processes are still ours and listening."""
    srv = _read(root)
    return srv if srv is not None and all(alive(s) for s in srv.all) else None


def _owner(command: str, keep: bool) -> Owner:
    return Owner(os.getpid(), command, keep, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _spawn(name: str, args: list[str], root: Path, port: int) -> Server:
    logs = state_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    tmp = state_dir(root) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    # fakesnow leaves fakesnow_bucket_* folders (its internal stages) in TMPDIR: keep them ours.
    env = {**os.environ, "TMPDIR": str(tmp), STATE_ENV: str(state_dir(root).resolve())}
    for var in ("SNOWMESH_TEST_KILL_AFTER", "SNOWMESH_TEST_TRACE"):
        env.pop(var, None)  # the client's test hooks, not the server's
    if name == "moto":
        # moto keeps an object in memory up to this size and in a temp file (TMPDIR) beyond: on
        # disk, the landed files cost moto no memory at any scale (moto.settings).
        env.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(64 * 1024))
    log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        start_new_session=True,  # its own process group: a Ctrl-C of the CLI does not reach it
    )
    server = Server(name=name, pid=proc.pid, port=port)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalAccountError(f"the local {name} server exited with code {proc.returncode} while starting",
                                    hint=f"see {logs / (name + '.log')}")
        if port_open(port) and answers(server):
            return server
        time.sleep(0.1)
    _terminate(server)
    raise LocalAccountError(f"the local {name} server did not answer on port {port} within {READY_TIMEOUT_S:.0f} s")


def _spawn_fakesnow(root: Path) -> Server:
    port = free_port()
    return _spawn("fakesnow", ["-m", "snowmesh.local.fakesnow_server", "--port", str(port),
                               "--db-path", str(db_dir(root))], root, port)


def _spawn_moto(root: Path) -> Server:
    port = free_port()
    return _spawn("moto", ["-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], root, port)


def _terminate(server: Server) -> None:
    """SIGTERM the server's process group, SIGKILL after 5 s; returns once the PID is gone."""
    if not ours(server):
        return
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(server.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and pid_alive(server.pid):
            time.sleep(0.05)
        if not pid_alive(server.pid):
            return


def _strays(root: Path, known: set[int]) -> list[int]:
    """Server processes started for this state folder that the record does not list."""
    marker = f"{STATE_ENV}={state_dir(root).resolve()}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in known or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _stop_unlocked(root: Path) -> bool:
    _users.pop(state_dir(root).resolve(), None)  # stopped servers have no users left
    srv = _read(root)
    stopped = False
    if srv is not None:
        for s in srv.all:
            if ours(s):
                _terminate(s)
                stopped = True
        left = [s.describe() for s in srv.all if ours(s)]
        if left:  # the record stays while its processes do
            raise LocalAccountError("could not stop " + ", ".join(left), hint="kill it by hand, then mesh down")
    _state_file(root).unlink(missing_ok=True)
    return stopped


def _note(reporter: Reporter | None, message: str) -> None:
    """A restart, an adoption or a takeover is always said, in one line: through the command's
    reporter, or else as a warning of the ``snowmesh.local`` logger (Python prints an
    unconfigured logger's warnings on stderr)."""
    if reporter is not None:
        reporter.info(message)
    else:
        logging.getLogger("snowmesh.local").warning(message)


def ensure(root: Path, command: str, *, keep: bool = False, reporter: Reporter | None = None,
           counted: bool = True) -> LocalServers:
    """Healthy servers for ``command``: the recorded ones (probed, adopted or repaired), or new ones.
    Each ``counted`` call is paired with one ``release`` (``mesh up`` is not: it releases nothing)."""
    key = state_dir(root).resolve()
    if counted and _users.get(key) and (srv := running(root)) is not None:
        _users[key] += 1  # nested in this process: the outer user already checked and owns them
        if keep and srv.owner is not None and not srv.owner.keep:
            with _guard(root):
                srv = replace(srv, owner=_owner(command, True))
                _write(root, srv)
        return srv
    with _guard(root):
        srv = _ensure_unlocked(root, command, keep, reporter)
    if counted:
        _users[key] = _users.get(key, 0) + 1
    return srv


def _ensure_unlocked(root: Path, command: str, keep: bool, reporter: Reporter | None) -> LocalServers:
    srv = _read(root)
    if srv is not None and all(alive(s) for s in srv.all):
        return _check(root, srv, command, keep, reporter)
    if srv is not None:
        gone = [s.describe() for s in srv.all if not alive(s)]
        _note(reporter, f"{' and '.join(gone)} recorded in {_state_file(root)} is gone: starting new servers")
        _stop_unlocked(root)
    known = {s.pid for s in srv.all} if srv else set()
    for pid in _strays(root, known):
        _note(reporter, f"stopping a leftover local server (pid {pid}) that {_state_file(root)} does not list")
        _terminate(Server("fakesnow", pid, 0))
    db_dir(root).mkdir(parents=True, exist_ok=True)
    snowflake = _spawn_fakesnow(root)
    try:
        s3 = _spawn_moto(root)
    except LocalAccountError:
        _terminate(snowflake)
        raise
    srv = LocalServers(snowflake, s3, _owner(command, keep))
    _write(root, srv)
    return srv


def _check(root: Path, srv: LocalServers, command: str, keep: bool, reporter: Reporter | None) -> LocalServers:
    writer = lock.holder(state_dir(root))
    busy = writer is not None and writer.pid != os.getpid() and writer.alive
    problem = health(srv.snowflake)
    if problem and busy:
        # Restarting would cut off the live writer's own session: say so and leave it alone.
        _note(reporter, f"{srv.snowflake.describe()} {problem}; not restarted while {writer.describe()} runs")
    elif problem:
        _terminate(srv.snowflake)
        fresh = _spawn_fakesnow(root)
        _note(reporter, f"{srv.snowflake.describe()} {problem}: restarted it (pid {fresh.pid}); "
                        f"committed data in {db_dir(root)} is kept")
        srv = replace(srv, snowflake=fresh)
    if not answers(srv.s3, PROBE_TIMEOUT_S) and not busy:
        _terminate(srv.s3)
        fresh = _spawn_moto(root)
        _note(reporter, f"{srv.s3.describe()} did not answer: restarted it (pid {fresh.pid}); S3 starts empty")
        srv = replace(srv, s3=fresh)
    owner = srv.owner
    if keep:
        owner = _owner(command, True)
    elif owner is None or (not owner.keep and not pid_alive(owner.pid)):
        was = f"`{owner.command}` (pid {owner.pid})" if owner else "a command that did not record itself"
        _note(reporter, f"using the local servers left by {was}, which is gone; {command} stops them when it ends")
        owner = _owner(command, False)
    srv = replace(srv, owner=owner)
    _write(root, srv)
    return srv


def start(root: Path, *, command: str = "mesh up", reporter: Reporter | None = None) -> LocalServers:
    """``mesh up``: healthy servers that outlive the command."""
    return ensure(root, command, keep=True, reporter=reporter, counted=False)


def release(root: Path, reporter: Reporter | None = None) -> bool:
    """At the end of a command: stop the servers if this process owns them and nobody else needs
    them; if a live writer (the run-lock holder) uses them, hand them to it. Returns whether stopped."""
    key = state_dir(root).resolve()
    _users[key] = max(_users.get(key, 0) - 1, 0)
    if _users[key]:
        return False  # another open target of this process still uses them
    with _guard(root):
        srv = _read(root)
        if srv is None or srv.owner is None or srv.owner.pid != os.getpid() or srv.owner.keep:
            return False
        writer = lock.holder(state_dir(root))
        if writer is not None and writer.pid != os.getpid() and writer.alive:
            _write(root, replace(srv, owner=Owner(writer.pid, writer.command, False, writer.started_at)))
            _note(reporter, f"left the local servers running for {writer.describe()}, which stops them")
            return False
        return _stop_unlocked(root)


def stop(root: Path) -> bool:
    """``mesh down``: stop exactly the recorded PIDs; the record goes once they are gone."""
    with _guard(root):
        return _stop_unlocked(root)
