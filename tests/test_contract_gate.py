"""The pre-deploy gate on a scratch local account: passes on this repo, catches a renamed column for real."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from snowmesh.cli.main import run_app
from snowmesh.console import SilentReporter
from snowmesh.contracts.gate import run_gate
from snowmesh.landing import LandOptions
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--clicks", "2000", "--days", "3"]
HANDLER_PACKAGES = ("marketing", "finance")


@pytest.fixture(autouse=True)
def scratch_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Any state the test itself would create stays in tmp; the gate must use a scratch folder of its own."""
    mine = tmp_path / "state-the-gate-must-not-use"
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(mine))
    return mine


def _gate_dirs() -> set[str]:
    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("snowmesh-gate-")}


@pytest.fixture
def renamed_handlers(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project with CLICKS renamed to CLICK_COUNT in its handler. The gate imports the
    project's own procedures/ (snowmesh.handlers), so the copy's edited handler is what runs."""
    copy = tmp_path / "project"
    for part in ("domains", "contracts", "procedures"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    handler = copy / "procedures" / "marketing" / "campaign_performance.py"
    text = handler.read_text()
    assert text.count('.alias("CLICKS")') == 1
    handler.write_text(text.replace('.alias("CLICKS")', '.alias("CLICK_COUNT")'))

    def ours(name: str) -> bool:
        return name.split(".")[0] in HANDLER_PACKAGES

    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if ours(k)}
    try:
        yield copy
    finally:
        for k in [k for k in sys.modules if ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_gate_passes_on_this_repo(scratch_env: Path) -> None:
    before = _gate_dirs()
    report = run_gate(ROOT, SilentReporter(), LandOptions(clicks=2000, days=3))
    assert report.ok and report.exit_code == 0, report.problems()
    mesh = load_mesh(ROOT)
    assert [g.product for g in report.products] == [p.key for p in mesh.products_in_order()]
    for g in report.products:
        contract = json.loads((ROOT / mesh.product(g.product).contract).read_text())
        assert [o.name for o in g.observed] == list(contract["properties"])  # inferred from Snowpark
        assert g.published and not g.breaking and not g.data_failures
    # The scratch account is gone, and the state folder in the environment was never used.
    assert os.environ["SNOWMESH_STATE_DIR"] == str(scratch_env) and not scratch_env.exists()
    assert _gate_dirs() == before


def test_renamed_column_in_a_marketing_handler_fails_the_gate(
    renamed_handlers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = run_app(["contract", "check", "-p", str(renamed_handlers), *SMALL])
    out = capsys.readouterr()
    import marketing.campaign_performance as cp

    assert cp.__file__.startswith(str(renamed_handlers))  # the project's own (edited) handler ran
    assert rc == 2
    assert "CAMPAIGN_PERFORMANCE: column CLICKS renamed to CLICK_COUNT? (breaks contract v1)" in out.out
    assert "CAMPAIGN_ROI: not checked: upstream MARKETING.CAMPAIGN_PERFORMANCE" in out.out
    assert "contract gate failed" in out.err and "Traceback" not in out.err


def _project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    for part in ("domains", "contracts"):
        shutil.copytree(ROOT / part, project / part)
    return project


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["x-product"].update(name="AD_CLICKS"), "but the manifest uses this contract for"),
        (lambda d: d["x-product"].update(version="2.0.0"), "does not match the file name v1.json"),
        (lambda d: d["properties"]["CLICKS"].update(type="count"), "$.properties.CLICKS.type"),
        (
            lambda d: d["x-quality"]["custom"][0].update(sql="DELETE FROM {table}"),
            "must be a read-only SELECT",
        ),
    ],
    ids=["other-product", "major-mismatch", "unknown-type", "writing-sql"],
)
def test_gate_rejects_bad_contracts_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, message: str
) -> None:
    project = _project_copy(tmp_path)
    path = project / "contracts/marketing/campaign_performance/v1.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    before = _gate_dirs()
    assert run_app(["contract", "check", "-p", str(project)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert _gate_dirs() == before  # no scratch account was created
