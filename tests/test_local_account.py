"""`mesh up` / `mesh down`: our servers on free loopback ports, stopped by PID, state on disk."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from snowmesh.console import SilentReporter
from snowmesh.local import lock, servers


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


def test_no_record_unless_both_servers_answer(tmp_path: Path, root: Path, monkeypatch) -> None:
    """A pair that cannot start leaves neither a record nor a running half behind."""
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path))
    from snowmesh.errors import LocalAccountError

    started: list[servers.Server] = []
    real_spawn_fakesnow = servers._spawn_fakesnow

    def spawn_fakesnow(r: Path) -> servers.Server:
        started.append(real_spawn_fakesnow(r))
        return started[-1]

    def broken_moto(_: Path) -> servers.Server:
        raise LocalAccountError("the local moto server exited with code 1 while starting")

    monkeypatch.setattr(servers, "_spawn_fakesnow", spawn_fakesnow)
    monkeypatch.setattr(servers, "_spawn_moto", broken_moto)
    with pytest.raises(LocalAccountError, match="moto"):
        servers.start(root)
    assert len(started) == 1 and not lock.pid_alive(started[0].pid)  # the half that started is stopped
    assert not (tmp_path / "servers.json").exists()


def test_the_record_stays_while_a_server_survives_stop(tmp_path: Path, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path))
    from snowmesh.errors import LocalAccountError

    up = servers.start(root)
    try:
        monkeypatch.setattr(servers, "_terminate", lambda s: None)  # a process that will not die
        with pytest.raises(LocalAccountError, match=f"pid {up.snowflake.pid}"):
            servers.stop(root)
        assert servers.running(root) == up  # still recorded: `mesh down` can find it again
    finally:
        monkeypatch.undo()
        monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path))
        assert servers.stop(root)
    assert not (tmp_path / "servers.json").exists()


def test_a_leftover_server_of_the_folder_is_stopped_before_new_ones_start(tmp_path: Path, root: Path,
                                                                          monkeypatch) -> None:
    """A server of this state folder that the record does not list would hold the DuckDB files' lock."""
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path))
    stray = servers._spawn_fakesnow(root)  # started, never recorded (as after a lost servers.json)
    reporter = SilentReporter()
    up = servers.ensure(root, "mesh run", reporter=reporter)
    try:
        assert not lock.pid_alive(stray.pid)
        assert any(f"leftover local server (pid {stray.pid})" in m for m in reporter.messages), reporter.messages
        assert up.snowflake.pid != stray.pid
    finally:
        servers.stop(root)


def test_summary_keeps_bracketed_text(root: Path) -> None:
    from rich.console import Console

    from snowmesh.pipeline.runner import RunReport, TaskRun
    from snowmesh.pipeline.steps import ProductOutcome

    report = RunReport(run_id="r1")
    report.products["D.P"] = ProductOutcome("D.P", validation_passed=False, failed_checks=["enum(CHANNEL): observed [tv]"])
    report.tasks.append(TaskRun("D_PIPELINE", "VALIDATE_P", "FAILED", 0.1, "D_WH", "pattern [A-Z]+ failed on [bold]x"))
    console = Console(record=True, width=400)
    from snowmesh.pipeline.summary import render_summary

    render_summary(console, report, [], [])
    text = console.export_text()
    assert "D_PIPELINE.VALIDATE_P FAILED: pattern [A-Z]+ failed on [bold]x" in text
    assert "observed [tv]" in text


def test_publish_is_audited_with_its_own_message(mesh_run) -> None:
    """TASK_RUNS says what PUBLISH did: the rows now serving and the view (not the build's message)."""
    t, mesh = mesh_run.target, mesh_run.mesh
    rows = dict(t.sql('SELECT "TASK", "MESSAGE" FROM "GOVERNANCE_DB"."AUDIT"."TASK_RUNS" '
                      "WHERE \"RUN_ID\" = 'testrun00001' AND \"STATUS\" = 'SUCCEEDED'"))
    publishes = {task: msg for task, msg in rows.items() if task.startswith("PUBLISH_")}
    assert publishes
    for p in mesh.products:
        task = f"PUBLISH_{p.name}"
        if task not in publishes:
            continue
        view = f"{mesh.domain(p.domain).database}.PRODUCTS.{p.view}"
        n = t.sql(f'SELECT COUNT(*) FROM "{mesh.domain(p.domain).database}"."PRODUCTS"."{p.view}"')[0][0]
        assert publishes[task] == f"{n} rows published as {view}"
        assert publishes[task] != rows[f"BUILD_{p.name}"]


def test_a_nested_target_leaves_the_servers_to_the_outer_one(tmp_path: Path, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path))
    from snowmesh.target import open_target

    with open_target(root, None, keep_servers=False) as outer:
        with open_target(root, None, keep_servers=False) as inner:
            assert inner.servers == outer.servers
        assert outer.sql("SELECT 41 + 1")[0][0] == 42  # the inner target did not stop them
    assert servers.running(root) is None and not (tmp_path / "servers.json").exists()


def test_an_interrupted_transaction_is_rolled_back_when_the_target_closes(tmp_path: Path, root: Path,
                                                                         monkeypatch) -> None:
    """Ctrl-C inside BEGIN ... COMMIT under `mesh up`: the rows it touched stay writable."""
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path))
    from snowmesh.target import open_target

    up = servers.start(root)
    try:
        with open_target(root, None) as t:
            t.sql('CREATE DATABASE IF NOT EXISTS "TX_DB"')
            t.sql('CREATE SCHEMA IF NOT EXISTS "TX_DB"."S"')
            t.sql('CREATE OR REPLACE TABLE "TX_DB"."S"."T" ("X" NUMBER)')
            t.sql('INSERT INTO "TX_DB"."S"."T" VALUES (1), (2)')
        with pytest.raises(KeyboardInterrupt), open_target(root, None) as t:
            t.sql("BEGIN")
            t.sql('DELETE FROM "TX_DB"."S"."T"')
            raise KeyboardInterrupt
        with open_target(root, None) as t:
            assert t.servers is not None and t.servers.snowflake.pid == up.snowflake.pid  # no restart needed
            t.sql('DELETE FROM "TX_DB"."S"."T" WHERE "X" = 1')  # would conflict with an open DELETE
            assert t.sql('SELECT SUM("X") FROM "TX_DB"."S"."T"')[0][0] == 2
    finally:
        servers.stop(root)
