"""Shared fixtures: the repo root, and one small end-to-end run of the mesh on a scratch local account.

Guards the suite itself: every Snowpark session still open on the session's account is closed
before its servers stop, so no connector retries a stopped server at exit (a real error in a CI
log is not hidden in that noise)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The project's own procedures/ first on the import path: a domain's handlers added after
# `pip install -e .` import in the tests with no reinstall (the walker and the gate load them
# through snowmesh.handlers).
sys.path.insert(0, str(ROOT / "procedures"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture()
def project_copy(tmp_path: Path) -> Path:
    """A writable copy of the manifests and contracts, for bad-input tests."""
    for sub in ("domains", "contracts"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    return tmp_path


@dataclass
class MeshRun:
    target: object
    mesh: object
    report: object
    landed: list
    options: object


@pytest.fixture(scope="session")
def scratch_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point the local account at a scratch state folder for the whole session."""
    state = tmp_path_factory.mktemp("mesh-state")
    old = os.environ.get("SNOWMESH_STATE_DIR")
    os.environ["SNOWMESH_STATE_DIR"] = str(state)
    yield state
    if old is None:
        os.environ.pop("SNOWMESH_STATE_DIR", None)
    else:
        os.environ["SNOWMESH_STATE_DIR"] = old


@pytest.fixture(scope="session")
def mesh_run(scratch_state: Path) -> Iterator[MeshRun]:
    """Run the whole mesh once at a small scale (what `mesh run` does) and keep the account open."""
    from snowmesh.console import SilentReporter
    from snowmesh.landing import LandOptions, land_mesh
    from snowmesh.manifest import load_mesh
    from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
    from snowmesh.target import open_target

    mesh = load_mesh(ROOT)
    options = LandOptions(clicks=6_000, seed=7, corrupt_fraction=0.003, days=14)
    reporter = SilentReporter()
    # The servers are kept as `mesh up` keeps them: CLI commands the tests run in this process
    # would otherwise take them for their own (same PID) and stop them when they end.
    try:
        with open_target(ROOT, None, keep_servers=True) as target:
            report = RunReport(run_id="testrun00001")
            report.deploy = deploy(target, mesh, reporter)
            landed = land_mesh(target, mesh, options, reporter)
            walk_mesh(target, mesh, reporter, report)
            try:
                yield MeshRun(target, mesh, report, landed, options)
            finally:
                close_sessions_on(target.conn.port)
    finally:
        stop_servers()


def stop_servers() -> None:
    """`mesh down` for the state folder SNOWMESH_STATE_DIR points at (a fixture's scratch account)."""
    from snowmesh.local import servers

    servers.stop(ROOT)


def close_sessions_on(port: int) -> int:
    """Close every Snowpark session connected to ``port`` (the CLI commands and the page the tests
    run in-process open their own), before the server behind it stops. Snowpark's exit hook
    would otherwise call SYSTEM$CANCEL_ALL_QUERIES on a stopped server and retry it from the
    connector. Returns how many were still open."""
    from snowflake.snowpark import session as snowpark_session

    closed = 0
    for s in list(snowpark_session._active_sessions):
        conn = s._conn._conn
        if getattr(conn, "port", None) != port:
            continue
        atexit.unregister(s._close_at_exit)
        if not conn.is_closed():
            conn.close()
            closed += 1
    return closed
