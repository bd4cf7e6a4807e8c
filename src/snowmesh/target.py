"""Where the mesh runs: the embedded local account, or a real account via a snow CLI connection.

Both give the same three handles: a snowflake.connector connection, a Snowpark Session on
top of it, and a boto3 S3 client. Everything downstream takes a Target, never a global.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import snowflake.connector
from botocore.config import Config
from snowflake.snowpark import Session

from snowmesh.errors import ConnectionConfigError, LocalAccountError
from snowmesh.local import servers

# A server-side 500 otherwise makes the connector retry for ~10 minutes (EMULATION.md).
NETWORK_TIMEOUT_S = 20
# Snowflake answers a long statement at once and the client polls; fakesnow answers only when
# the statement is done, so locally the socket must wait as long as the longest statement
# (the connector's default is 60 s; a 10M-click load or typing pass takes longer on 2 cores).
LOCAL_SOCKET_TIMEOUT_S = 900
LOCAL_REGION = "us-east-1"


@dataclass
class Target:
    name: str
    is_local: bool
    conn: Any  # snowflake.connector.SnowflakeConnection
    session: Session
    s3: Any  # boto3 S3 client
    root: Path

    def sql(self, text: str, params: Any = None) -> list[tuple]:
        """Run one statement through the connector and return its rows."""
        with self.conn.cursor() as cur:
            cur.execute(text, params)
            try:
                return cur.fetchall()
            except snowflake.connector.errors.ProgrammingError:
                return []  # statements without a result set

    def close(self) -> None:
        if not self.is_local:
            self.session.close()
        else:
            # Session.close() cancels running queries via SYSTEM$CANCEL_ALL_QUERIES, which
            # fakesnow lacks, and its exit hook would retry a server we have already stopped
            # (~30 s per command): locally, closing the connection is enough.
            atexit.unregister(self.session._close_at_exit)
        self.conn.close()


def _quiet_clients() -> None:
    for name in ("snowflake.connector", "snowflake.snowpark", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def local_s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id="local",  # moto accepts any key; nothing real is ever used locally
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60),
    )


def _local(root: Path, srv: servers.LocalServers) -> Target:
    from governance.sql import ident

    try:
        conn = snowflake.connector.connect(
            user="mesh", password="local", account="local", host="127.0.0.1", port=srv.snowflake.port,
            protocol="http", network_timeout=NETWORK_TIMEOUT_S, login_timeout=NETWORK_TIMEOUT_S,
            socket_timeout=LOCAL_SOCKET_TIMEOUT_S,
            database="GOVERNANCE_DB", schema="PUBLIC",
            session_parameters={"QUERY_TAG": "snowmesh"},
        )
    except snowflake.connector.errors.Error as exc:
        raise LocalAccountError(f"cannot connect to the local account on port {srv.snowflake.port}: {exc}") from None
    with conn.cursor() as cur:
        # fakesnow re-attaches persisted DuckDB files on CREATE DATABASE IF NOT EXISTS.
        for db_file in sorted(servers.db_dir(root).glob("*.db")):
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {ident(db_file.stem)}")
    session = Session.builder.configs({"connection": conn}).create()
    return Target("local", True, conn, session, local_s3_client(srv.s3.url), root)


def _real(root: Path, connection: str) -> Target:
    """A snow CLI connection from connections.toml / config.toml and SNOWFLAKE_* variables."""
    try:
        conn = snowflake.connector.connect(connection_name=connection, network_timeout=NETWORK_TIMEOUT_S)
    except snowflake.connector.errors.Error as exc:
        from snowflake.connector.constants import CONFIG_FILE, CONNECTIONS_FILE

        raise ConnectionConfigError(
            f"connection {connection!r} failed: {exc}",
            hint=(f"add it with `snow connection add -n {connection}`, or define [{connection}] in "
                  f"{CONNECTIONS_FILE} or [connections.{connection}] in {CONFIG_FILE} (SNOWFLAKE_HOME moves both)"),
        ) from None
    session = Session.builder.configs({"connection": conn}).create()
    return Target(connection, False, conn, session, boto3.client("s3"), root)


@contextmanager
def open_target(root: Path, connection: str | None = None, *, keep_servers: bool | None = None) -> Iterator[Target]:
    """Open the target. Local servers started here are stopped on exit unless they were
    already running (``mesh up``) or ``keep_servers`` is set."""
    _quiet_clients()
    if connection:
        target = _real(root, connection)
        try:
            yield target
        finally:
            target.close()
        return
    was_running = servers.running(root) is not None
    srv = servers.start(root)
    keep = was_running if keep_servers is None else keep_servers
    try:
        target = _local(root, srv)
        try:
            yield target
        finally:
            target.close()
    finally:
        if not keep:
            servers.stop(root)
