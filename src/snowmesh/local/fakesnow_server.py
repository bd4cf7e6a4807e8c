"""Run fakesnow's HTTP server with every session sharing one DuckDB instance persisted to disk.

``fakesnow -s`` ignores ``-d``, and its per-session FAKESNOW_DB_PATH gives each login its own
DuckDB instance, so a second login fails to attach the same files. Giving the server's
shared instance a db_path keeps one instance, on disk, for all sessions.

    python -m snowmesh.local.fakesnow_server --port 8123 --db-path .mesh/fakesnow

It adds one route, ``GET /snowmesh/health``, for the health probe of ``snowmesh.local.servers``:
each login's client PID (our connector sends it as the session parameter SNOWMESH_CLIENT_PID)
and whether that session has a transaction open. fakesnow keeps a session, and its DuckDB
transaction, until the client logs out; a client killed inside BEGIN ... COMMIT never does, and
its open transaction makes every later write to the same rows fail ("Conflict on tuple
deletion", HTTP 500). The probe reports such sessions so the caller can restart this server:
DuckDB then discards the dead transaction and keeps everything committed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fakesnow.server
import uvicorn
from fakesnow.instance import FakeSnow
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from governance.sql import literal
from snowmesh.local.lock import pid_alive  # one liveness rule for the lock and the health probe

CLIENT_PID = "SNOWMESH_CLIENT_PID"
_client_pids: dict[str, int] = {}  # session token -> the client's PID
# Sessions inside an explicit BEGIN. With AUTOCOMMIT on (the default) fakesnow hands BEGIN to
# DuckDB and keeps no book of it, so the transaction's statements are tracked here.
_open_tx: set[str] = set()
_BEGIN = re.compile(r"\s*(BEGIN|START\s+TRANSACTION)\b", re.IGNORECASE)
_END = re.compile(r"\s*(COMMIT|ROLLBACK)\b", re.IGNORECASE)


async def _json_body(request: Request) -> dict[str, Any]:
    # request.body() is cached by Starlette, so fakesnow's handler and this read the same bytes.
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


async def _login(request: Request) -> Response:
    response = await fakesnow.server.login_request(request)
    try:
        pid = (await _json_body(request))["data"]["SESSION_PARAMETERS"].get(CLIENT_PID)
        token = json.loads(bytes(response.body))["data"]["token"]
        if pid is not None:
            _client_pids[token] = int(pid)
    except (ValueError, KeyError, TypeError):
        pass  # a client that does not say its PID is simply not reported
    return response


async def _query(request: Request) -> Response:
    response = await fakesnow.server.query_request(request)
    try:
        token = fakesnow.server.to_token(request)
        sql = (await _json_body(request)).get("sqlText", "")
        ok = json.loads(bytes(response.body)).get("success", False)
    except (ValueError, KeyError, TypeError, fakesnow.server.ServerError):
        return response
    if ok and _BEGIN.match(sql):
        _open_tx.add(token)
    elif ok and _END.match(sql):
        _open_tx.discard(token)
    return response


def _sessions() -> list[dict[str, Any]]:
    out = []
    for token, conn in list(fakesnow.server.sessions.items()):
        pid = _client_pids.get(token)
        alive = None if pid is None else pid_alive(pid)
        in_tx = token in _open_tx or bool(getattr(conn, "_in_transaction", False))
        if alive is False and not in_tx:
            # An idle session of a dead client holds nothing: forget it (its DuckDB cursor closes).
            fakesnow.server.sessions.pop(token, None)
            _client_pids.pop(token, None)
            continue
        out.append({"client_pid": pid, "client_alive": alive, "in_transaction": in_tx})
    return out


async def _health(_: Request) -> JSONResponse:
    def probe() -> list[dict[str, Any]]:
        # A statement on the shared instance proves DuckDB itself answers, not just the event loop.
        cur = fakesnow.server.shared_fs.duck_conn.cursor()
        try:
            cur.execute("SELECT 1").fetchall()
        finally:
            cur.close()
        return _sessions()

    return JSONResponse({"ok": True, "sessions": await run_in_threadpool(probe)})


# DuckDB's defaults are 80% of the machine's RAM and one thread per core: the server then grows
# with the data (4.1 GiB at 10M clicks). With a memory limit the buffer manager evicts and
# spills (sorts, joins, aggregates, temporary tables) to the temp directory instead; the limit
# covers the buffer manager only, so the process stays somewhat above it
# (https://duckdb.org/docs/configuration/overview: memory_limit, threads, temp_directory;
# https://duckdb.org/docs/2.0/operations_manual/limits.html). Ingest loads in bounded batches
# (governance.ingest.BATCH_MAX_BYTES), so one load's working set is about this size at any scale.
# One thread: each thread's buffers count against the limit, and on the 2-core machine the client
# and moto share, 1 thread under 256MB ran 1M clicks end to end as fast as before (2 threads, no
# limit), where 2 threads under 256MB were ~5% slower (bench/README.md has the figures).
MEMORY_LIMIT_ENV, THREADS_ENV = "SNOWMESH_DUCKDB_MEMORY_LIMIT", "SNOWMESH_DUCKDB_THREADS"
DEFAULT_MEMORY_LIMIT, DEFAULT_THREADS = "256MB", 1
_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def duckdb_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """``{setting: value}`` from the environment (or the defaults); a malformed value is refused."""
    limit = environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
    threads = environ.get(THREADS_ENV) or str(DEFAULT_THREADS)
    if not _SIZE.fullmatch(limit.strip()):
        raise SystemExit(f"{MEMORY_LIMIT_ENV}={limit!r}: expected a size such as 256MB or 1GiB")
    if not threads.isdigit() or int(threads) < 1:
        raise SystemExit(f"{THREADS_ENV}={threads!r}: expected a positive whole number")
    spill = Path(tempfile.gettempdir()) / "duckdb-spill"  # TMPDIR: the state folder's tmp/ (servers._spawn)
    return {"memory_limit": limit.strip(), "threads": threads, "temp_directory": str(spill)}


def _configure_duckdb(conn: Any) -> None:
    """Instance-wide settings (scope GLOBAL): every session's cursor shares them."""
    settings = duckdb_settings(os.environ)
    Path(settings["temp_directory"]).mkdir(parents=True, exist_ok=True)
    for name, value in settings.items():
        conn.execute(f"SET {name} = {value if name == 'threads' else literal(value)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-path", required=True)
    args = parser.parse_args()
    fakesnow.server.shared_fs = FakeSnow(db_path=args.db_path)
    _configure_duckdb(fakesnow.server.shared_fs.duck_conn)
    app = fakesnow.server.app
    wrapped = {"/session/v1/login-request": _login, "/queries/v1/query-request": _query}
    for i, route in enumerate(app.router.routes):
        path = getattr(route, "path", "")
        if path in wrapped:
            app.router.routes[i] = Route(path, wrapped[path], methods=["POST"])
    app.router.routes.append(Route("/snowmesh/health", _health, methods=["GET"]))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
