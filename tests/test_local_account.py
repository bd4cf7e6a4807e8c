"""`mesh up` / `mesh down`: our servers on free loopback ports, stopped by PID, state on disk."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from snowmesh.local import servers


def _open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_up_down_and_persistence(tmp_path: Path, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path / "state"))
    from snowmesh.target import open_target

    up = servers.start(root)
    try:
        assert servers.running(root) == up  # a second `up` finds the same pair
        assert _open(up.snowflake.port) and _open(up.s3.port)
        with open_target(root, None) as t:  # servers were running: left running
            t.sql('CREATE DATABASE IF NOT EXISTS "PERSIST_DB"')
            t.sql('CREATE SCHEMA IF NOT EXISTS "PERSIST_DB"."S"')
            t.sql('CREATE TABLE "PERSIST_DB"."S"."T" ("X" NUMBER)')
            t.sql('INSERT INTO "PERSIST_DB"."S"."T" VALUES (41), (1)')
        assert servers.running(root) == up
    finally:
        assert servers.stop(root)
    assert not _open(up.snowflake.port) and not _open(up.s3.port)
    assert servers.running(root) is None
    assert (tmp_path / "state" / "fakesnow" / "PERSIST_DB.db").exists()
    # A new server process sees the same data; open_target stops what it started.
    with open_target(root, None) as t:
        assert t.sql('SELECT SUM("X") FROM "PERSIST_DB"."S"."T"')[0][0] == 42
        port = servers.running(root).snowflake.port
    assert servers.running(root) is None and not _open(port)


def test_stop_ignores_a_pid_that_is_not_ours(tmp_path: Path, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path))
    (tmp_path / "servers.json").write_text(
        json.dumps({"snowflake": {"name": "fakesnow", "pid": os.getpid(), "port": 1},
                    "s3": {"name": "moto", "pid": os.getpid(), "port": 2}})
    )
    assert servers.stop(root) is False  # our own pytest process is not a fakesnow/moto server
