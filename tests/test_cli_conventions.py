"""CLI conventions as a script sees them: stdout a pipe, exit codes, which stream gets what.

`mesh` runs in a subprocess with stdout and stderr as pipes (not a terminal). `mesh products`
reads the session's local account (tests/conftest.py ``mesh_run``: SNOWMESH_STATE_DIR points at
it and its servers are up); `mesh deploy` gets its own scratch account.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from snowmesh.cli.ui import RichReporter

ROOT = Path(__file__).resolve().parents[1]
ESC = "\x1b["


def mesh(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "COLUMNS")}
    return subprocess.run([sys.executable, "-m", "snowmesh", *args], check=False, capture_output=True, text=True,
                          timeout=300, env={**base, **(env or {})})


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    proc = mesh(flag)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"mesh (snowmesh) {version('snowmesh')}\n", "")


def test_shell_completion_is_available() -> None:
    assert "--install-completion" in mesh("--help").stdout
    proc = mesh("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert proc.returncode == 0 and "_MESH_COMPLETE" in proc.stdout and "complete " in proc.stdout


def test_debug_is_accepted_anywhere_and_keeps_the_exit_code(tmp_path: Path) -> None:
    quiet = mesh("plan", "-p", str(tmp_path))
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    message = next(line for line in quiet.stderr.splitlines() if line.startswith("error: "))
    assert "no domain manifests" in message and str(tmp_path / "domains") in message
    for args in (("--debug", "plan", "-p", str(tmp_path)), ("plan", "-p", str(tmp_path), "--debug")):
        proc = mesh(*args)
        assert proc.returncode == 2, args
        assert "Traceback (most recent call last)" in proc.stderr and "main.py" in proc.stderr, args
        assert proc.stderr.count(message) == 1, args  # the same message, once, after the traceback


@pytest.mark.parametrize(("args", "hint"), [
    (("run", "--nosuch"), "hint: try `mesh run --help`"),
    (("contract", "validate", "--bogus"), "hint: try `mesh contract validate --help`"),
    (("nosuchcommand",), "hint: try `mesh --help`"),
])
def test_a_usage_error_hints_at_help(args: tuple[str, ...], hint: str) -> None:
    proc = mesh(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and hint in proc.stderr and "Traceback" not in proc.stderr


def test_products_through_a_pipe_cuts_no_cell_and_has_no_colour(mesh_run) -> None:
    # COLUMNS=60 as in a narrow CI log: off a terminal the table still takes the width it needs.
    proc = mesh("products", "--project", str(ROOT), env={"COLUMNS": "60"})
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout and ESC not in proc.stdout
    rows = {line.split("│")[2].strip(): line for line in proc.stdout.splitlines() if line.count("│") > 5}
    products = {p.name: p for p in mesh_run.mesh.products}
    assert set(rows) == set(products)
    for name, line in rows.items():
        p = products[name]
        database = mesh_run.mesh.domain(p.domain).database
        assert f"│ {p.domain} " in line and f" {database}.PRODUCTS.{p.view} " in line
    assert "PASSED 20" in rows["AD_CLICKS"]  # the whole validation time stamp, not "PASS…"


def _colours(text: str) -> set[str]:
    """The SGR colour parameters in ``text`` (30-37, 90-97 foreground; 38: 256/true colour)."""
    params = {p for seq in re.findall(r"\x1b\[([0-9;]*)m", text) for p in seq.split(";")}
    return {p for p in params if p in {str(n) for n in (*range(30, 39), *range(90, 98))}}


def test_colour_only_when_forced(mesh_run) -> None:
    plain = mesh("nosuchcommand")  # "error:" is bold red on a terminal
    assert plain.returncode == 2 and ESC not in plain.stderr
    forced = mesh("nosuchcommand", env={"FORCE_COLOR": "1"})
    assert "31" in _colours(forced.stderr)
    assert _colours(mesh("nosuchcommand", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stderr) == set()
    # Forced colour is not a terminal width: the piped table is still whole.
    products = mesh("products", "--project", str(ROOT), env={"FORCE_COLOR": "1"})
    assert products.returncode == 0 and ESC in products.stdout and "…" not in products.stdout
    assert "MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1" in products.stdout


def test_deploy_results_on_stdout_progress_and_notes_on_stderr(tmp_path: Path) -> None:
    proc = mesh("deploy", "--project", str(ROOT), env={"SNOWMESH_STATE_DIR": str(tmp_path / "state")})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert len(out) == 2 and out[0].startswith("executed ") and " statements; recorded " in out[0]
    assert out[1].startswith("task graphs: not deployed on the local account")
    assert proc.stderr.count("policies: ") == 1 and "recorded, not enforced" in proc.stderr
    assert "deploy" in proc.stderr and "━" in proc.stderr  # the progress bar
    assert "━" not in proc.stdout and "policies" not in proc.stdout


def test_each_note_once_per_command(capsys) -> None:
    """The deploy and each publish report the same policies note with their own count: shown once."""
    reporter = RichReporter()
    reporter.info("policies: 20 tag/masking statement(s) recorded, not enforced")
    reporter.info("policies: 4 tag/masking statement(s) recorded, not enforced")
    reporter.info("versions: AD_CLICKS_V1 already retired")
    reporter.info("versions: CAMPAIGN_ROI_V1 already retired")  # another fact: shown
    reporter.warn("no generator for domain X")
    reporter.warn("no generator for domain X")
    with reporter.progress("load", total=2) as advance:
        advance(2)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("policies:") == 1 and "policies: 20 " in err
    assert "AD_CLICKS_V1" in err and "CAMPAIGN_ROI_V1" in err
    assert err.count("warning: no generator for domain X") == 1 and "load" in err
