"""Is a local server there, and well? Its process, its port and what it answers over HTTP.

snowmesh.local.servers starts, adopts and stops the servers; this module only asks them: a
free port for a new one, whether a recorded PID is still the server we started, whether its
port accepts connections, whether it answers HTTP at all (a started server is ready),
fakesnow's health probe (a wedged server, or one holding a dead client's transaction, needs a
restart) and the announcement of a load (fakesnow sizes DuckDB's memory for it:
snowmesh.local.fakesnow_server, "The limit follows the data").
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from snowmesh.local.lock import pid_alive

if TYPE_CHECKING:
    from snowmesh.local.servers import Server

PROBE_TIMEOUT_S = 10.0  # the health probe: a server that cannot answer SELECT 1 in this is wedged


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def ours(server: Server) -> bool:
    """Only stop a PID that is still the server we started (PIDs get reused)."""
    try:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return pid_alive(server.pid)
    return ("fakesnow" in cmdline or "moto" in cmdline) and pid_alive(server.pid)


def alive(server: Server) -> bool:
    """The process is still there and its port still accepts connections."""
    return ours(server) and port_open(server.port)


def _get(url: str, timeout: float) -> tuple[int, bytes] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (OSError, ValueError):
        return None


def answers(server: Server, timeout: float = 2.0) -> bool:
    """An HTTP answer, not just an open port: fakesnow's health route, any reply from moto."""
    path = "/snowmesh/health" if server.name == "fakesnow" else "/"
    reply = _get(server.url + path, timeout)
    return reply is not None and (server.name != "fakesnow" or reply[0] == 200)


def expect_load(server: Server, nbytes: int) -> None:
    """Tell fakesnow a load of ``nbytes`` (gzip) is coming, so it sizes its memory for it.

    Best effort: the load runs the same either way, and an old server without the route is fine."""
    req = urllib.request.Request(server.url + "/snowmesh/expect-load", data=json.dumps({"bytes": int(nbytes)}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=PROBE_TIMEOUT_S):
            pass
    except (OSError, ValueError):
        pass


def health(server: Server) -> str | None:
    """None when fakesnow is healthy, else why it is not (it then needs a restart)."""
    reply = _get(server.url + "/snowmesh/health", PROBE_TIMEOUT_S)
    if reply is None:
        return f"did not answer its health probe within {PROBE_TIMEOUT_S:.0f} s"
    if reply[0] != 200:
        return f"failed its health probe (HTTP {reply[0]})"
    try:
        sessions = json.loads(reply[1])["sessions"]
    except (ValueError, KeyError):
        return "gave an unreadable health probe answer"
    dead = sorted({s["client_pid"] for s in sessions if s["client_alive"] is False and s["in_transaction"]})
    if dead:
        return "holds an open transaction of a process that is gone (pid " + ", ".join(map(str, dead)) + ")"
    return None
