"""The `mesh` command line as a user runs it: help, exit codes, messages without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def mesh(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snowmesh", *args], check=False, capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )


def test_help_lists_the_commands() -> None:
    out = mesh("--help").stdout
    for command in ("run", "up", "down", "plan", "deploy", "generate"):
        assert f" {command} " in out, command


def test_missing_connection_names_connection_and_file(tmp_path: Path, root: Path) -> None:
    proc = mesh("run", "--project", str(root), "--connection", "nosuch", env={"HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert "connection 'nosuch' failed" in proc.stderr and "connections.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_arguments_exit_2(root: Path) -> None:
    proc = mesh("run", "--project", str(root), "--clicks", "0")
    assert proc.returncode == 2 and "--clicks must be between 1 and" in proc.stderr and "got 0" in proc.stderr
    proc = mesh("run", "--project", str(root), "--corrupt-fraction", "0.9")
    assert proc.returncode == 2 and "--corrupt-fraction" in proc.stderr
    proc = mesh("nosuchcommand")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_plan_prints_real_sql_and_marks_what_is_recorded(root: Path) -> None:
    out = mesh("plan", "--project", str(root), "--local").stdout
    assert 'CREATE WAREHOUSE IF NOT EXISTS "MARKETING_WH"' in out
    assert out.count("-- recorded, not executed on the local account") > 50
    assert 'CREATE TABLE IF NOT EXISTS "FINANCE_DB"."RAW"."TRANSACTIONS"' in out


def test_generate_writes_files_to_a_folder(tmp_path: Path, root: Path) -> None:
    proc = mesh("generate", "--project", str(root), "--out", str(tmp_path), "--clicks", "2000", "--days", "3")
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.csv.gz"))
    assert "mesh-marketing-landing/ad_clicks/dt=2026-11-01/part-00000.csv.gz" in files
    assert "mesh-finance-landing/transactions/dt=2026-10-30/part-00000.csv.gz" in files
