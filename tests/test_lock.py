"""The run lock: one writer per state folder; a second one says who holds it and exits 1, or waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snowmesh.console import SilentReporter
from snowmesh.local import lock

HOLD = """
import sys, time
from pathlib import Path
from snowmesh.local.lock import hold
with hold(Path(sys.argv[1]), "mesh run"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder_process(state: Path, seconds: float) -> subprocess.Popen:
    """Another process that takes the lock as `mesh run` and keeps it for ``seconds``."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(state), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _cli(args: list[str], state: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SNOWMESH_STATE_DIR": str(state)}
    return subprocess.run([sys.executable, "-m", "snowmesh", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_a_second_writer_names_the_holder_and_exits_1(tmp_path: Path, root: Path) -> None:
    state = tmp_path / "state"
    holder = _holder_process(state, 60)
    try:
        # run and deploy share one path (run_cmd); a local call takes the lock in ship_cmd.
        for args in (["run", "-p", str(root), "--clicks", "100"], ["call", "PRODUCT_HEALTH", "-p", str(root)]):
            r = _cli(args, state)
            assert r.returncode == 1, (args, r.stderr)
            errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1, r.stderr
            assert f"`mesh run` (pid {holder.pid} on " in errors[0] and " since 20" in errors[0], errors[0]
            assert "Traceback" not in r.stderr
            assert "--wait" in r.stderr  # the hint
        assert not (state / "servers.json").exists()  # refused before anything started
        assert not (state / "fakesnow").exists()
    finally:
        holder.kill()
        holder.wait()


def test_wait_waits_for_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    holder = _holder_process(state, 2)
    reporter = SilentReporter()
    t0 = time.monotonic()
    with lock.hold(state, "mesh deploy", wait=True, reporter=reporter) as me:
        waited = time.monotonic() - t0
        assert me.pid == os.getpid() and me.command == "mesh deploy"
        record = json.loads((state / "run.lock").read_text())
        assert record["pid"] == os.getpid() and record["command"] == "mesh deploy"
    holder.wait(timeout=30)
    assert waited >= 1.5  # the holder kept it for 2 s after it said "held"
    assert any(m.startswith(f"waiting for `mesh run` (pid {holder.pid}") for m in reporter.messages), reporter.messages
    assert (state / "run.lock").read_text() == ""  # a clean release leaves no record
    assert lock.holder(state) is None


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # A writer killed with -9: the kernel dropped its flock, its record stayed behind.
    dead = subprocess.Popen([sys.executable, "-c", HOLD, str(state), "60"], stdout=subprocess.PIPE, text=True)
    assert dead.stdout is not None and dead.stdout.readline().strip() == "held"
    dead.kill()
    dead.wait()
    assert json.loads((state / "run.lock").read_text())["pid"] == dead.pid
    assert lock.holder(state) is None  # nobody holds it
    reporter = SilentReporter()
    with lock.hold(state, "mesh run", reporter=reporter):
        pass
    notes = [m for m in reporter.messages if "took over" in m]
    assert len(notes) == 1 and f"pid {dead.pid}" in notes[0] and "gone" in notes[0], reporter.messages


def test_holder_is_reported_while_held_and_none_after(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert lock.holder(state) is None
    holder = _holder_process(state, 60)
    try:
        h = lock.holder(state)
        assert h is not None and h.pid == holder.pid and h.command == "mesh run" and h.alive
        with pytest.raises(lock.LockHeld, match=f"pid {holder.pid}"), lock.hold(state, "mesh deploy"):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert lock.holder(state) is None


def test_mesh_down_refuses_while_a_writer_holds_the_lock(tmp_path: Path, root: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    holder = _holder_process(state, 60)
    try:
        r = _cli(["down", "-p", str(root)], state)
        assert r.returncode == 1
        assert f"`mesh run` (pid {holder.pid}" in r.stderr and "--force" in r.stderr and "Traceback" not in r.stderr
        r = _cli(["down", "--force", "-p", str(root)], state)
        assert r.returncode == 0 and "was not running" in r.stdout
    finally:
        holder.kill()
        holder.wait()


def test_a_connection_has_its_own_lock_file(tmp_path: Path) -> None:
    assert lock.lock_path(tmp_path) == tmp_path / "run.lock"
    assert lock.lock_path(tmp_path, "prod") == tmp_path / "run-prod.lock"
    odd = lock.lock_path(tmp_path, "../../etc/passwd")
    assert odd.parent == tmp_path and "/" not in odd.name.removeprefix("run-")
