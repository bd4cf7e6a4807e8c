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
import re
from typing import Any

import fakesnow.server
import uvicorn
from fakesnow.instance import FakeSnow
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-path", required=True)
    args = parser.parse_args()
    fakesnow.server.shared_fs = FakeSnow(db_path=args.db_path)
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
