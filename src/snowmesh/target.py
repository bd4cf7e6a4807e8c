"""Where the mesh runs: the embedded local account, or a real account via a snow CLI connection.

Both give the same three handles: a snowflake.connector connection, a Snowpark Session on
top of it, and a boto3 S3 client. Everything downstream takes a Target, never a global.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import snowflake.connector
from botocore.config import Config
from snowflake.connector._utils import _TrackedQueryCancellationTimer
from snowflake.connector.connection import SnowflakeConnection
from snowflake.connector.cursor import SnowflakeCursor
from snowflake.snowpark import Session

from snowmesh.console import Reporter
from snowmesh.errors import ConnectionConfigError, LocalAccountError
from snowmesh.local import probes, servers
from snowmesh.local.fakesnow_server import CLIENT_PID

# A server-side 500 otherwise makes the connector retry for ~10 minutes (EMULATION.md).
NETWORK_TIMEOUT_S = 20
# Locally a retry never helps: fakesnow's HTTP 500 is an unsupported statement, not a blip, and
# a refused connection is a dead server (the backoff below stops at once then). A short retry
# window makes either fail in seconds; it bounds retries only, not how long a statement runs.
LOCAL_NETWORK_TIMEOUT_S = 6
# Snowflake answers a long statement at once and the client polls; fakesnow answers only when
# the statement is done, so locally the socket must wait as long as the longest statement
# (the connector's default is 60 s; a 10M-click load or typing pass takes longer on 2 cores).
LOCAL_SOCKET_TIMEOUT_S = 900
LOCAL_REGION = "us-east-1"
# Test hooks (tests/test_crash_sweep.py): stop the process with os._exit(137) right after the
# N-th statement ("N", or "N:REGEX" for the N-th statement matching REGEX), and append each
# statement's number, wall seconds and first line to a trace file (where a slow step's time
# goes). Read once per connection; unset, they cost one integer increment per statement.
KILL_ENV, TRACE_ENV = "SNOWMESH_TEST_KILL_AFTER", "SNOWMESH_TEST_TRACE"


class _Hooks:
    """The statement counter behind the kill and trace hooks, shared by every cursor of a process."""

    def __init__(self) -> None:
        self.count = 0
        self.matched = 0
        spec = os.environ.get(KILL_ENV, "")
        n, _, pattern = spec.partition(":")
        self.kill_after = int(n) if n.strip().isdigit() else None
        self.pattern = re.compile(pattern, re.IGNORECASE | re.DOTALL) if pattern else None
        self.trace = os.environ.get(TRACE_ENV)

    def done(self, statement: str, seconds: float) -> None:
        self.count += 1
        if self.trace is None and self.kill_after is None:
            return
        flat = " ".join(statement.split())  # REGEX and the trace see one line, blanks collapsed
        if self.trace:
            with open(self.trace, "a") as f:
                f.write(f"{self.count}\t{seconds:.3f}\t{flat[:160]}\n")
        if self.kill_after is None:
            return
        if self.pattern is None or self.pattern.search(flat):
            self.matched += 1
            if self.matched == self.kill_after:
                os._exit(137)  # like kill -9: no cleanup, no finally, no atexit


_hooks = _Hooks()
_depth = threading.local()


class MeshCursor(SnowflakeCursor):
    """The one executor of every statement (the connector's, Snowpark's, ours): counts each one
    for the test hooks. executemany counts once, whatever it does inside."""

    def _counted(self, run: Callable[[], Any], statement: str) -> Any:
        depth = getattr(_depth, "n", 0)
        _depth.n = depth + 1
        start = time.perf_counter()
        try:
            return run()
        finally:
            _depth.n = depth
            if depth == 0:
                _hooks.done(statement, time.perf_counter() - start)

    def execute(self, command: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._counted(lambda: super(MeshCursor, self).execute(command, *args, **kwargs), command)

    def executemany(self, command: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._counted(lambda: super(MeshCursor, self).executemany(command, *args, **kwargs), command)


class MeshConnection(SnowflakeConnection):
    """snowflake.connector's connection whose cursors are MeshCursors (Snowpark's included)."""

    def cursor(self, cursor_class: type[SnowflakeCursor] = MeshCursor) -> Any:  # type: ignore[override]
        return super().cursor(cursor_class)


def _gone_backoff(server: servers.Server) -> Callable[[], Iterator[int]]:
    """The connector's retry backoff for the local account: short sleeps, and no retry at all
    once the server's process is gone (the connector would otherwise retry a refused connection
    for its whole network_timeout, then spend as long again aborting the query)."""

    def policy() -> Iterator[int]:
        yield 1  # taken when the request starts, before any failure
        while True:
            if not probes.alive(server):
                raise LocalAccountError(f"{server.describe()} stopped answering", hint=_RESTART_HINT)
            yield 1

    return policy


_RESTART_HINT = ("run the command again: it starts new servers and keeps the data in .mesh/fakesnow "
                 "(server logs: .mesh/logs/)")


@dataclass
class Target:
    name: str
    is_local: bool
    conn: Any  # snowflake.connector.SnowflakeConnection
    session: Session
    s3: Any  # boto3 S3 client
    root: Path
    servers: servers.LocalServers | None = None  # the local account's processes

    def sql(self, text: str, params: Any = None) -> list[tuple]:
        """Run one statement through the connector and return its rows."""
        with self.conn.cursor() as cur:
            cur.execute(text, params)
            try:
                return cur.fetchall()
            except snowflake.connector.errors.ProgrammingError:
                return []  # statements without a result set

    def use_role(self, role: str) -> None:
        """``USE ROLE`` on a real account; the local account has no roles to switch to (apply.py)."""
        if not self.is_local:
            from governance.sql import ident

            self.sql(f"USE ROLE {ident(role)}")

    def expect_load(self, nbytes: int) -> None:
        """A load of ``nbytes`` of files is about to run: the local engine sizes its memory for it
        (snowmesh.local.fakesnow_server, "The limit follows the data"). A real warehouse's size is
        Terraform's (the domain's warehouse), never changed by a run."""
        if self.servers is not None:
            probes.expect_load(self.servers.snowflake, nbytes)

    def gone(self) -> servers.Server | None:
        """A local server whose process has died, if any."""
        if self.servers is None:
            return None
        return next((s for s in self.servers.all if not probes.alive(s)), None)

    def fail_if_gone(self) -> None:
        """Turn any failure into one clear line when its cause is a dead local server."""
        if (dead := self.gone()) is not None:
            raise LocalAccountError(f"{dead.describe()} stopped answering mid-run", hint=_RESTART_HINT)

    def close(self) -> None:
        if not self.is_local:
            self.session.close()
            self.conn.close()
            return
        # Session.close() cancels running queries via SYSTEM$CANCEL_ALL_QUERIES, which
        # fakesnow lacks, and its exit hook would retry a server we have already stopped
        # (~30 s per command): locally, closing the connection is enough.
        atexit.unregister(self.session._close_at_exit)
        if self.servers is not None and probes.alive(self.servers.snowflake):
            try:
                # fakesnow keeps a session (and its DuckDB transaction) after the client closes:
                # the connector's logout needs a master token fakesnow never issues. An
                # interrupted BEGIN ... COMMIT would then block writes to its rows for as long as
                # this process lives, so end it here (a no-op outside a transaction).
                self.sql("ROLLBACK")
                self.conn.close()
            except (snowflake.connector.errors.Error, LocalAccountError):
                pass  # the server went away meanwhile; there is nothing left to close


def _quiet_clients(local: bool) -> None:
    # Locally the connector's own ERROR logs (a traceback per refused retry) repeat what the
    # one-line LocalAccountError says; on a real account they stay visible.
    level = logging.CRITICAL if local else logging.ERROR
    for name in ("snowflake.connector", "snowflake.snowpark", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(level)


def local_s3_client(endpoint: str) -> Any:
    # Few retries, a short connect timeout: moto answers at once or is gone.
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id="local",  # moto accepts any key; nothing real is ever used locally
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=60),
    )


def _local(root: Path, srv: servers.LocalServers) -> Target:
    from governance.sql import ident

    try:
        conn = MeshConnection(
            user="mesh", password="local", account="local", host="127.0.0.1", port=srv.snowflake.port,
            protocol="http", network_timeout=LOCAL_NETWORK_TIMEOUT_S, login_timeout=NETWORK_TIMEOUT_S,
            socket_timeout=LOCAL_SOCKET_TIMEOUT_S, backoff_policy=_gone_backoff(srv.snowflake),
            database="GOVERNANCE_DB", schema="PUBLIC",
            # The client's PID lets the server's health probe spot sessions of dead clients.
            session_parameters={"QUERY_TAG": "snowmesh", CLIENT_PID: os.getpid()},
        )
    except snowflake.connector.errors.Error as exc:
        raise LocalAccountError(f"cannot connect to the local account on port {srv.snowflake.port}: {exc}") from None
    with conn.cursor() as cur:
        # fakesnow re-attaches persisted DuckDB files on CREATE DATABASE IF NOT EXISTS.
        for db_file in sorted(servers.db_dir(root).glob("*.db")):
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {ident(db_file.stem)}")
    session = Session.builder.configs({"connection": conn}).create()
    return Target("local", True, conn, session, local_s3_client(srv.s3.url), root, srv)


def _real(root: Path, connection: str) -> Target:
    """A snow CLI connection from connections.toml / config.toml and SNOWFLAKE_* variables."""
    try:
        # snow CLI's own resolution (environment overrides included): snowmesh.connections.
        from snowmesh.connections import resolve

        conn = MeshConnection(**{**resolve(connection), "network_timeout": NETWORK_TIMEOUT_S})
    except snowflake.connector.errors.Error as exc:
        from snowflake.connector.constants import CONFIG_FILE, CONNECTIONS_FILE

        raise ConnectionConfigError(
            f"connection {connection!r} failed: {exc}",
            hint=(f"add it with `snow connection add -n {connection}`, or define [{connection}] in "
                  f"{CONNECTIONS_FILE} or [connections.{connection}] in {CONFIG_FILE} (SNOWFLAKE_HOME moves both)"),
        ) from None
    session = Session.builder.configs({"connection": conn}).create()
    return Target(connection, False, conn, session, boto3.client("s3"), root)


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread so that every ``finally`` runs (servers stopped,
    lock released) before the process exits with 143, as a shell reports a SIGTERM."""


_default_excepthook = threading.excepthook


def _quiet_gone(args: threading.ExceptHookArgs) -> None:
    """An interrupted statement leaves the connector's cancel-query timer thread behind (it fires
    after network_timeout, 6 s locally, on any statement still running); once the servers are
    stopped or dead, that thread finds them gone. The main thread reports the stop once; the
    thread's traceback would only repeat it. Anything else is printed."""
    if isinstance(args.exc_value, LocalAccountError):
        return
    if isinstance(args.thread, _TrackedQueryCancellationTimer) and _refused(args.exc_value):
        return  # a cancel sent to a server that is gone: nothing is left to cancel
    _default_excepthook(args)


def _refused(exc: BaseException | None) -> bool:
    """A refused or reset connection anywhere in the exception's chain."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ConnectionError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    threading.excepthook = _quiet_gone  # for the process: the stray thread may outlive this block
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def open_target(root: Path, connection: str | None = None, *, keep_servers: bool | None = None,
                reporter: Reporter | None = None, command: str = "mesh") -> Iterator[Target]:
    """Open the target. Locally: probe (and repair or adopt) the recorded servers, or start new
    ones; servers this command owns are stopped when it ends (normally, on an error, on Ctrl-C
    or SIGTERM) unless ``mesh up`` or ``keep_servers`` keeps them."""
    _quiet_clients(local=connection is None)
    if connection:
        target = _real(root, connection)
        try:
            yield target
        finally:
            target.close()
        return
    with _terminate_as_exit():
        srv = servers.ensure(root, command, keep=bool(keep_servers), reporter=reporter)
        try:
            target = _local(root, srv)
            try:
                yield target
            except Exception as exc:
                target.fail_if_gone()  # a dead server is the cause: say that, not the client's error
                if isinstance(exc, (snowflake.connector.errors.InternalServerError,
                                    snowflake.connector.errors.OperationalError)):
                    # The server answered but could not run a statement: one line and its log.
                    raise LocalAccountError(
                        f"the local Snowflake server failed a statement: {exc}",
                        hint=f"its log: {servers.state_dir(root) / 'logs' / 'fakesnow.log'}; "
                        "mesh --debug shows the traceback") from exc
                raise
            finally:
                target.close()
        finally:
            servers.release(root, reporter)
