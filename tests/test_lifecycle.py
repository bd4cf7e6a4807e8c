"""The local servers' lifecycle around real `mesh run` processes: signals, `mesh down` mid-run,
a server killed mid-run, a wedged server, orphans of a killed run, and two runs at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snowmesh.console import SilentReporter
from snowmesh.local import lock, probes, servers
from snowmesh.local.lock import pid_alive


def _env(state: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "SNOWMESH_STATE_DIR": str(state), **extra}


def _start_run(root: Path, state: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "snowmesh", "run", "-p", str(root), "--clicks", "2000", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(state, **env))


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _ran(trace: Path, text: str) -> bool:
    """Whether the run's statement trace (SNOWMESH_TEST_TRACE) shows a statement containing ``text``."""
    try:
        return text in trace.read_text()
    except OSError:
        return False


FIRST_TASK_DONE = 'INSERT INTO "GOVERNANCE_DB"."AUDIT"."TASK_RUNS"'  # deploy done, a task graph running


def _recorded(state: Path) -> dict:
    return json.loads((state / "servers.json").read_text())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_run_stops_the_servers_it_started(tmp_path: Path, root: Path, sig: signal.Signals,
                                                      monkeypatch) -> None:
    state, trace = tmp_path / "state", tmp_path / "trace.txt"
    run = _start_run(root, state, SNOWMESH_TEST_TRACE=str(trace))
    try:
        _wait_for(lambda: _ran(trace, FIRST_TASK_DONE), 120, "the run's first task")
        rec = _recorded(state)
        pids = [rec["snowflake"]["pid"], rec["s3"]["pid"]]
        assert rec["owner"]["pid"] == run.pid and not rec["owner"]["keep"]
        if sig == signal.SIGINT:  # mid-run, `mesh down` refuses and leaves the servers alone
            down = subprocess.run([sys.executable, "-m", "snowmesh", "down", "-p", str(root)], capture_output=True,
                                  text=True, env=_env(state), timeout=60, check=False)
            assert down.returncode == 1 and f"`mesh run` (pid {run.pid}" in down.stderr, down.stderr
            assert all(pid_alive(p) for p in pids)
        run.send_signal(sig)
        _, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == (143 if sig == signal.SIGTERM else 130), err
    assert "Traceback" not in err
    assert not any(pid_alive(p) for p in pids), "a server outlived the run that started it"
    assert not (state / "servers.json").exists()
    assert lock.holder(state) is None
    # The next command starts new servers on the same DuckDB files: what the run committed is there.
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(state))
    from snowmesh.target import open_target

    with open_target(root, None) as t:
        assert t.sql('SELECT COUNT(*) FROM "GOVERNANCE_DB"."CATALOG"."DATA_PRODUCTS"')[0][0] > 0
        assert t.servers is not None and t.servers.snowflake.pid not in pids
    assert not (state / "servers.json").exists()


def test_a_server_killed_mid_run_fails_the_run_fast_in_one_line(tmp_path: Path, root: Path) -> None:
    state, trace = tmp_path / "state", tmp_path / "trace.txt"
    run = _start_run(root, state, SNOWMESH_TEST_TRACE=str(trace))
    try:
        _wait_for(lambda: _ran(trace, FIRST_TASK_DONE), 120, "the run's first task")
        rec = _recorded(state)
        os.killpg(rec["snowflake"]["pid"], signal.SIGKILL)
        killed = time.monotonic()
        _, err = run.communicate(timeout=60)
        took = time.monotonic() - killed
    finally:
        run.kill()
    assert run.returncode == 1, err
    assert took < 15, f"the run took {took:.1f} s to fail after its server died"
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert f"Snowflake server (fakesnow, pid {rec['snowflake']['pid']}" in errors[0], errors[0]
    assert "run the command again" in err  # what to do next
    assert not pid_alive(rec["s3"]["pid"]) and not (state / "servers.json").exists()


def test_a_dead_s3_server_fails_in_seconds_naming_it(tmp_path: Path, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path / "state"))
    from snowmesh.errors import LocalAccountError
    from snowmesh.target import open_target

    t0 = 0.0
    with pytest.raises(LocalAccountError, match=r"the local S3 server \(moto, pid \d+") as info, \
            open_target(root, None) as t:
            assert t.servers is not None
            os.killpg(t.servers.s3.pid, signal.SIGKILL)
            _wait_for(lambda: not pid_alive(t.servers.s3.pid), 10, "moto to die")
            t0 = time.monotonic()
            t.s3.list_buckets()
    assert time.monotonic() - t0 < 10
    assert "stopped answering" in info.value.message
    assert not (tmp_path / "state" / "servers.json").exists()


KILL_IN_TRANSACTION = """
import os, sys
from pathlib import Path
from snowmesh.target import open_target
with open_target(Path(sys.argv[1]), None) as t:
    t.sql('CREATE DATABASE IF NOT EXISTS "WEDGE_DB"')
    t.sql('CREATE SCHEMA IF NOT EXISTS "WEDGE_DB"."S"')
    t.sql('CREATE OR REPLACE TABLE "WEDGE_DB"."S"."T" ("X" NUMBER)')
    t.sql('INSERT INTO "WEDGE_DB"."S"."T" VALUES (1), (2)')
    t.sql("BEGIN")
    t.sql('DELETE FROM "WEDGE_DB"."S"."T"')
    os._exit(137)  # killed inside the transaction: no COMMIT, no ROLLBACK, no logout
"""


def test_a_wedged_server_is_detected_and_restarted(tmp_path: Path, root: Path, monkeypatch) -> None:
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path / "state"))
    from snowmesh.target import _local, open_target

    up = servers.start(root)
    try:
        client = subprocess.run([sys.executable, "-c", KILL_IN_TRANSACTION, str(root)], env=dict(os.environ),
                                capture_output=True, text=True, timeout=120, check=False)
        assert client.returncode == 137, client.stderr
        problem = probes.health(up.snowflake)
        assert problem is not None and "open transaction" in problem and "gone" in problem, problem
        # Without the restart the dead transaction blocks writes to its rows (the "Conflict").
        stuck = _local(root, up)
        try:
            with pytest.raises(Exception):  # noqa: B017 - the connector's error for fakesnow's HTTP 500
                stuck.sql('DELETE FROM "WEDGE_DB"."S"."T" WHERE "X" = 1')
        finally:
            stuck.close()
        reporter = SilentReporter()
        with open_target(root, None, reporter=reporter) as t:
            notes = [m for m in reporter.messages if "restarted" in m]
            assert len(notes) == 1 and f"pid {up.snowflake.pid}" in notes[0] and "open transaction" in notes[0]
            assert t.servers is not None and t.servers.snowflake.pid != up.snowflake.pid
            assert t.servers.s3 == up.s3  # only the wedged server was restarted
            # Committed rows are kept; the dead transaction's DELETE is gone; writes work again.
            assert t.sql('SELECT COUNT(*) FROM "WEDGE_DB"."S"."T"')[0][0] == 2
            t.sql('DELETE FROM "WEDGE_DB"."S"."T" WHERE "X" = 1')
            assert t.sql('SELECT SUM("X") FROM "WEDGE_DB"."S"."T"')[0][0] == 2
        assert probes.health(servers.running(root).snowflake) is None  # `mesh up` keeps them, healthy
    finally:
        servers.stop(root)
    assert not pid_alive(up.s3.pid)


def test_servers_of_a_killed_run_are_adopted_with_a_note(tmp_path: Path, root: Path, monkeypatch) -> None:
    state = tmp_path / "state"
    run = _start_run(root, state, SNOWMESH_TEST_KILL_AFTER="5")
    run.communicate(timeout=120)
    assert run.returncode == 137
    rec = _recorded(state)  # the killed run's servers are still up, recorded under its dead PID
    assert rec["owner"]["pid"] == run.pid and not pid_alive(run.pid)
    assert pid_alive(rec["snowflake"]["pid"]) and pid_alive(rec["s3"]["pid"])
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(state))
    from snowmesh.target import open_target

    reporter = SilentReporter()
    with open_target(root, None, reporter=reporter, command="mesh products") as t:
        assert t.servers is not None and t.servers.snowflake.pid == rec["snowflake"]["pid"]  # adopted, not restarted
        notes = [m for m in reporter.messages if "left by" in m]
        assert len(notes) == 1 and f"`mesh run` (pid {run.pid})" in notes[0] and "stops them" in notes[0]
        assert _recorded(state)["owner"]["pid"] == os.getpid()
    assert not pid_alive(rec["snowflake"]["pid"]) and not pid_alive(rec["s3"]["pid"])
    assert not (state / "servers.json").exists()


def test_two_runs_at_once(tmp_path: Path, root: Path, monkeypatch) -> None:
    """The second run exits 1 naming the first; a third with --wait runs after it; nothing is doubled."""
    state = tmp_path / "state"
    first = _start_run(root, state)
    try:
        _wait_for(lambda: lock.holder(state) is not None, 60, "the first run to take the lock")
        second = subprocess.run([sys.executable, "-m", "snowmesh", "run", "-p", str(root), "--clicks", "2000"],
                                capture_output=True, text=True, env=_env(state), timeout=120, check=False)
        assert second.returncode == 1, second.stderr
        assert f"`mesh run` (pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
        third = _start_run(root, state, "--wait")
        _, err1 = first.communicate(timeout=300)
        _, err3 = third.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, err1
    assert third.returncode == 0, err3
    assert f"waiting for `mesh run` (pid {first.pid}" in err3
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(state))
    from snowmesh.target import open_target

    with open_target(root, None) as t:
        raw = t.sql('SELECT COUNT(*), COUNT(DISTINCT "CLICK_ID") FROM "MARKETING_DB"."RAW"."AD_CLICKS"')[0]
        assert raw[0] == raw[1] > 0
        ledger = t.sql('SELECT COUNT(*), COUNT(DISTINCT "SOURCE" || \'/\' || "FILE_NAME"), '
                       'SUM(IFF("SOURCE" = \'AD_CLICKS\', "ROWS_LOADED", 0)) FROM "MARKETING_DB"."RAW"."INGESTED_FILES"')[0]
        assert ledger[0] == ledger[1] and ledger[2] == raw[0]
        assert t.sql('SELECT COUNT(*) FROM "MARKETING_DB"."PRODUCTS"."AD_CLICKS_V1"')[0][0] == raw[0]


def test_a_stray_connector_thread_finding_the_servers_gone_prints_no_traceback(monkeypatch) -> None:
    """Ctrl-C mid-statement leaves the connector's cancel-query timer thread behind; when it finds the
    stopped servers gone it must not print a traceback after the run's one line -- any other error
    in a thread still reaches the usual hook."""
    import threading

    from snowflake.connector._utils import _TrackedQueryCancellationTimer

    from snowmesh import target
    from snowmesh.errors import LocalAccountError

    reported: list[BaseException] = []
    monkeypatch.setattr(target, "_default_excepthook", lambda args: reported.append(args.exc_value))

    def raising(exc: BaseException, timer: bool = False) -> None:
        def run() -> None:
            raise exc
        t = _TrackedQueryCancellationTimer(0, run) if timer else threading.Thread(target=run)
        previous, threading.excepthook = threading.excepthook, target._quiet_gone
        try:
            t.start()
            t.join()
        finally:
            threading.excepthook = previous

    raising(LocalAccountError("the local Snowflake server stopped answering"))
    assert reported == []
    bug = ValueError("a real bug")
    raising(bug)
    assert reported == [bug]
    # The connector's cancel timer, firing on a long statement after its server died.
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as refused:
            raise RuntimeError("max retries exceeded") from refused
    except RuntimeError as wrapped:
        raising(wrapped, timer=True)
    assert reported == [bug]
    raising(bug, timer=True)  # any other error of that thread is still printed
    assert reported == [bug, bug]
