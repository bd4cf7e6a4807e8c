"""Run fakesnow's HTTP server with every session sharing one DuckDB instance persisted to disk.

``fakesnow -s`` ignores ``-d``, and its per-session FAKESNOW_DB_PATH gives each login its own
DuckDB instance, so a second login fails to attach the same files. Giving the server's
shared instance a db_path keeps one instance, on disk, for all sessions.

    python -m snowmesh.local.fakesnow_server --port 8123 --db-path .mesh/fakesnow

It adds two routes. ``POST /snowmesh/expect-load`` sizes DuckDB's memory for a load a client is
about to run (see AUTO_FLOOR below). ``GET /snowmesh/health`` is the health probe of ``snowmesh.local.servers``:
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
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
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
    if ok:
        _sizer.resize(fakesnow.server.shared_fs.duck_conn)
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
# https://duckdb.org/docs/2.0/operations_manual/limits.html).
#
# The limit follows the data, as a warehouse is sized to its load: the larger of DATA_RATIO
# times the bytes the account's databases hold (DuckDB's compressed blocks; a full-table sort or
# window needs them uncompressed, about 4-5 times as many) and LOAD_RATIO times the gzip bytes a
# client says it is about to load (POST /snowmesh/expect-load; gzip CSV is ~6x smaller than its
# text), never below AUTO_FLOOR nor above AUTO_CAP, and only ever raised while the server runs
# (lowering under load can fail). bench/bench_run.py's 1M scale (17 MB of files, ~50 MB of
# tables) stays at the floor, within its 1 GiB target; its 10M scale (170 MB of files) runs at
# the cap, and a load's typing, a full-table dedupe window and a clone stop spilling
# (bench/README.md has both). A fixed SNOWMESH_DUCKDB_MEMORY_LIMIT turns this off. Threads
# default to the cores: one thread left the second core idle while the client waits on a
# statement (the 10M scale: 127 s with 1 thread, 110 s with 2, the same memory).
MEMORY_LIMIT_ENV, THREADS_ENV = "SNOWMESH_DUCKDB_MEMORY_LIMIT", "SNOWMESH_DUCKDB_THREADS"
AUTO = "auto"
AUTO_FLOOR, AUTO_CAP = 256 * 10**6, 1250 * 10**6  # DuckDB's MB: 10**6 bytes
DATA_RATIO, LOAD_RATIO = 4, 8
RESIZE_EVERY_S = 1.0  # at most one size probe per second: it reads the block counts of each file
_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def default_threads() -> int:
    return max(os.cpu_count() or 1, 1)


def duckdb_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """``{setting: value}`` from the environment (or the defaults); a malformed value is refused.

    ``memory_limit`` is ``auto`` (sized by :func:`auto_limit`) unless the environment fixes it."""
    limit = (environ.get(MEMORY_LIMIT_ENV) or AUTO).strip()
    threads = environ.get(THREADS_ENV) or str(default_threads())
    if limit.lower() != AUTO and not _SIZE.fullmatch(limit):
        raise SystemExit(f"{MEMORY_LIMIT_ENV}={limit!r}: expected {AUTO} or a size such as 256MB or 1GiB")
    if not threads.isdigit() or int(threads) < 1:
        raise SystemExit(f"{THREADS_ENV}={threads!r}: expected a positive whole number")
    spill = Path(tempfile.gettempdir()) / "duckdb-spill"  # TMPDIR: the state folder's tmp/ (servers._spawn)
    return {"memory_limit": AUTO if limit.lower() == AUTO else limit, "threads": threads,
            "temp_directory": str(spill)}


def auto_limit(data_bytes: int, load_bytes: int = 0) -> int:
    """The memory limit, in bytes, for ``data_bytes`` on disk and a load of ``load_bytes`` (gzip)."""
    return min(AUTO_CAP, max(AUTO_FLOOR, DATA_RATIO * max(data_bytes, 0), LOAD_RATIO * max(load_bytes, 0)))


class _Sizer:
    """Raises DuckDB's memory_limit as the data grows (``auto``); does nothing for a fixed limit."""

    def __init__(self) -> None:
        self.auto = False
        self.limit = 0
        self.checked = 0.0
        self.load = 0  # the largest load a client announced

    def start(self, conn: Any, auto: bool) -> None:
        self.auto = auto
        if auto:
            self.resize(conn, force=True)

    def resize(self, conn: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.auto or (not force and now - self.checked < RESIZE_EVERY_S):
            return
        self.checked = now
        cur = conn.cursor()  # its own cursor: never the default one a session might be using
        try:
            data = data_bytes(cur)
            want = auto_limit(data, self.load)
            if want > self.limit:
                cur.execute(f"SET memory_limit = '{int(want)}B'")
                self.limit = want
                print(f"snowmesh: DuckDB memory_limit {want // 10**6} MB (data {data // 10**6} MB, "
                      f"load {self.load // 10**6} MB)", file=sys.stderr, flush=True)
        except duckdb.Error:
            pass  # sizing is best effort: the statement that just ran has succeeded either way
        finally:
            cur.close()


def data_bytes(cur: Any) -> int:
    """Bytes in use in the account's database files (not the in-memory and temporary catalogs)."""
    rows = cur.execute("SELECT used_blocks, block_size, database_name FROM pragma_database_size()").fetchall()
    return sum(int(used or 0) * int(size or 0) for used, size, name in rows if name not in ("memory", "temp", "system"))


_sizer = _Sizer()


async def _expect_load(request: Request) -> JSONResponse:
    """A client about to load ``{"bytes": N}`` of gzip files: size the engine for it (``auto``)."""
    try:
        n = int((await _json_body(request))["bytes"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"ok": False, "error": 'expected {"bytes": <whole number>}'}, status_code=400)
    _sizer.load = max(_sizer.load, n)
    _sizer.resize(fakesnow.server.shared_fs.duck_conn, force=True)  # on the event loop, as _query's: never two at once
    cur = fakesnow.server.shared_fs.duck_conn.cursor()
    try:  # what DuckDB itself now says, not this module's book of it
        (setting,) = cur.execute("SELECT current_setting('memory_limit')").fetchone()
    finally:
        cur.close()
    return JSONResponse({"ok": True, "auto": _sizer.auto, "memory_limit": setting})


def _configure_duckdb(conn: Any) -> None:
    """Instance-wide settings (scope GLOBAL): every session's cursor shares them."""
    settings = duckdb_settings(os.environ)
    Path(settings["temp_directory"]).mkdir(parents=True, exist_ok=True)
    for name, value in settings.items():
        if value != AUTO:
            conn.execute(f"SET {name} = {value if name == 'threads' else literal(value)}")
    _sizer.start(conn, settings["memory_limit"] == AUTO)


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
    app.router.routes.append(Route("/snowmesh/expect-load", _expect_load, methods=["POST"]))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
