"""Start, find and stop the two local servers.

Both run as child processes on free loopback ports. Their PIDs and ports live in
``<project>/.mesh/servers.json`` so that ``mesh up`` / ``mesh down`` and a later
``mesh run`` find the same servers. DuckDB files persist under ``.mesh/fakesnow``;
moto keeps S3 in memory, so landed files last as long as the S3 server does (the
ingest ledger in each RAW schema, not S3, is what makes re-runs idempotent).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from snowmesh.errors import LocalAccountError

READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Server:
    name: str
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class LocalServers:
    snowflake: Server
    s3: Server


def state_dir(root: Path) -> Path:
    """``<project>/.mesh``, or $SNOWMESH_STATE_DIR (tests and the CI gate use a scratch account)."""
    override = os.environ.get("SNOWMESH_STATE_DIR")
    return Path(override) if override else root / ".mesh"


def db_dir(root: Path) -> Path:
    """One DuckDB file per Snowflake database lives here."""
    return state_dir(root) / "fakesnow"


def _state_file(root: Path) -> Path:
    return state_dir(root) / "servers.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) still answers kill(0).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def _ours(server: Server) -> bool:
    """Only stop a PID that is still the server we started (PIDs get reused)."""
    try:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return _alive(server.pid)
    return ("fakesnow" in cmdline or "moto" in cmdline) and _alive(server.pid)


def _spawn(name: str, args: list[str], root: Path, port: int) -> Server:
    logs = state_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    tmp = state_dir(root) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    # fakesnow leaves fakesnow_bucket_* folders (its internal stages) in TMPDIR: keep them ours.
    env = {**os.environ, "TMPDIR": str(tmp)}
    log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # survives the CLI process after `mesh up`
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalAccountError(
                f"the local {name} server exited with code {proc.returncode} while starting",
                hint=f"see {logs / (name + '.log')}",
            )
        if _port_open(port):
            return Server(name=name, pid=proc.pid, port=port)
        time.sleep(0.1)
    proc.kill()
    raise LocalAccountError(f"the local {name} server did not answer on port {port} within {READY_TIMEOUT_S:.0f} s")


def running(root: Path) -> LocalServers | None:
    """The servers recorded in the state file, if both still answer."""
    path = _state_file(root)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        servers = LocalServers(snowflake=Server(**data["snowflake"]), s3=Server(**data["s3"]))
    except (ValueError, KeyError, TypeError):
        return None
    if all(_ours(s) and _port_open(s.port) for s in (servers.snowflake, servers.s3)):
        return servers
    return None


def start(root: Path) -> LocalServers:
    """Start both servers (or return the running ones)."""
    if (existing := running(root)) is not None:
        return existing
    stop(root)  # clear a half-dead pair
    db_dir(root).mkdir(parents=True, exist_ok=True)
    sf_port, s3_port = free_port(), free_port()
    snowflake = _spawn(
        "fakesnow",
        ["-m", "snowmesh.local.fakesnow_server", "--port", str(sf_port), "--db-path", str(db_dir(root))],
        root,
        sf_port,
    )
    try:
        s3 = _spawn("moto", ["-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)], root, s3_port)
    except LocalAccountError:
        _terminate(snowflake)
        raise
    servers = LocalServers(snowflake=snowflake, s3=s3)
    _state_file(root).write_text(json.dumps({k: asdict(v) for k, v in asdict_servers(servers).items()}, indent=2))
    return servers


def asdict_servers(servers: LocalServers) -> dict[str, Server]:
    return {"snowflake": servers.snowflake, "s3": servers.s3}


def _terminate(server: Server) -> None:
    if not _ours(server):
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(server.pid):
        time.sleep(0.05)
    if _alive(server.pid):
        os.killpg(server.pid, signal.SIGKILL)


def stop(root: Path) -> bool:
    """Stop the recorded servers. Returns whether anything was stopped."""
    path = _state_file(root)
    if not path.exists():
        return False
    stopped = False
    try:
        data = json.loads(path.read_text())
        for key in ("snowflake", "s3"):
            if key in data:
                server = Server(**data[key])
                if _ours(server):
                    _terminate(server)
                    stopped = True
    except (ValueError, TypeError):
        pass
    path.unlink(missing_ok=True)
    return stopped
