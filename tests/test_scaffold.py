"""A new domain joins the mesh by writing only its own files (issue 13): `mesh domain new` and
`mesh product new` on a copy of the project, then the contract gate, `mesh run` and the
scaffolded test, as a new user would run them. Bad requests write nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The repository's domains, read from their manifests: the scaffold names them when a domain is unknown.
KNOWN = ", ".join(sorted(yaml.safe_load(p.read_text())["name"] for p in (ROOT / "domains").glob("*/domain.yml")))
OWN = {"domains/orders/domain.yml", "procedures/orders/__init__.py", "procedures/orders/orders_daily.py",
       "contracts/orders/orders_daily/v1.json", "tests/domains/orders/test_orders_orders_daily.py"}


def _env() -> dict[str, str]:
    """The user's environment without the session's scratch state folder: the copy's own .mesh
    is used, so its extra domain never reaches the account other tests share."""
    return {k: v for k, v in os.environ.items() if k != "SNOWMESH_STATE_DIR"} | {"COLUMNS": "250"}


def mesh(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snowmesh", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, env=_env())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """The project's own files (what a clone holds), in a scratch folder with its own .mesh state."""
    copy = tmp_path / "project"
    for sub in ("domains", "contracts", "procedures"):
        shutil.copytree(ROOT / sub, copy / sub, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")  # the lint and test settings
    (copy / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", copy / "tests" / "conftest.py")
    return copy


@pytest.mark.slow
def test_a_scaffolded_domain_passes_the_gate_the_run_and_its_own_test(project: Path):
    before = _files(project)
    new = mesh("domain", "new", "orders", cwd=project)
    assert new.returncode == 0, new.stderr
    added = mesh("product", "new", "ORDERS", "ORDERS_BY_CATEGORY", cwd=project)
    assert added.returncode == 0, added.stderr
    after = _files(project)
    # Only the domain's own files changed: nothing of the platform, nothing of another domain.
    changed = {k for k in after if before.get(k) != after[k]} | (set(before) - set(after))
    assert changed == OWN | {"procedures/orders/orders_by_category.py", "contracts/orders/orders_by_category/v1.json",
                             "tests/domains/orders/test_orders_orders_by_category.py"}
    assert "edited domains/orders/domain.yml" in added.stdout

    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "procedures/orders", "tests/domains"],
                          cwd=project, capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout
    own_test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/domains"],
                              cwd=project, capture_output=True, text=True, timeout=300, check=False, env=_env())
    assert own_test.returncode == 0 and "4 passed" in own_test.stdout, own_test.stdout + own_test.stderr

    # The gate catches a rename in the new domain's handler, and passes its untouched product.
    handler = project / "procedures" / "orders" / "orders_by_category.py"
    good = handler.read_text()
    handler.write_text(good.replace('.alias("TOTAL_AMOUNT")', '.alias("SUM_AMOUNT")'))
    gate = mesh("contract", "check", "-p", ".", cwd=project)
    assert gate.returncode == 2, gate.stdout + gate.stderr
    assert "ORDERS_BY_CATEGORY: column TOTAL_AMOUNT renamed to SUM_AMOUNT? (breaks contract v1)" in gate.stdout
    daily = next(line for line in gate.stdout.splitlines() if "ORDERS.ORDERS_DAILY" in line)
    assert "matches" in daily and "passes" in daily
    handler.write_text(good)

    run = mesh("run", "-p", ".", "--clicks", "3000", "--days", "5", cwd=project)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    for product in ("ORDERS.ORDERS_DAILY", "ORDERS.ORDERS_BY_CATEGORY"):
        line = next(x for x in run.stdout.splitlines() if product in x)
        assert "passed" in line and "yes" in line, line
    events = next(x for x in run.stdout.splitlines() if "ORDERS" in x and "EVENTS" in x)
    # scale 0.1 of 3000 rows landed; the declared corruption (ceil(0.001 x 300) = 1 row) quarantined
    assert [c.strip() for c in events.split("│")[5:8]] == ["300", "299", "1"], events


@pytest.mark.parametrize(("args", "message"), [
    (("domain", "new", "select"), "'select': 'SELECT' is a reserved word"),
    (("domain", "new", "MARKETING"), "domain MARKETING already exists (domains/marketing/domain.yml)"),
    (("domain", "new", "json"), "'json' is already a Python module"),
    (("domain", "new", "9lives"), "use letters, digits and _"),
    (("domain", "new", "orders", "--product", "TABLE"), "'TABLE' is a reserved word"),
    (("product", "new", "NOPE", "X_DAILY"), f"domain NOPE does not exist (known: {KNOWN})"),
    (("product", "new", "MARKETING", "AD_CLICKS"), "MARKETING already has a product AD_CLICKS"),
    (("product", "new", "MARKETING", "NEW_ONE", "--source", "NOPE"), "--source NOPE: not a source of MARKETING"),
])
def test_bad_requests_write_nothing(project: Path, args, message):
    before = _files(project)
    proc = mesh(*args, cwd=project)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert _files(project) == before


def test_a_scaffold_the_front_door_refuses_is_removed_again(project: Path):
    """Written, then refused by the front door (its warehouse is already another domain's): all undone."""
    manifest = project / "domains" / "marketing" / "domain.yml"
    manifest.write_text(manifest.read_text().replace("name: MARKETING_WH", "name: ORDERS_WH"))
    before = _files(project)
    proc = mesh("domain", "new", "orders", cwd=project)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "domains/orders/domain.yml: warehouse.name: 'ORDERS_WH' is already declared by domains/marketing" in proc.stderr
    assert _files(project) == before and not (project / "domains" / "orders").exists()


def test_mesh_derive_brings_every_derived_file_in_step_with_a_new_domain(project: Path, tmp_path: Path):
    """One command (mesh derive) for snowflake.yml (with the page's manifests), the tfvars and the example."""
    for name in ("snowflake.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "terraform", project / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    from snowmesh.infra import derived
    from snowmesh.manifest import load_mesh

    derived.write(load_mesh(project))  # in step to start with (the repository's are; CI checks them)
    assert mesh("domain", "new", "orders", cwd=project).returncode == 0
    stale = mesh("derive", "--check", "-p", ".", cwd=project)
    assert stale.returncode == 1
    for rel in ("snowflake.yml", "terraform/domains.auto.tfvars.json", "terraform/terraform.tfvars.example"):
        assert f"{rel} is stale" in stale.stderr
    before = (project / "snowflake.yml").read_text()
    assert [str(p) for p in derived.write(load_mesh(project))] == [
        "snowflake.yml", "terraform/domains.auto.tfvars.json", "terraform/terraform.tfvars.example"]
    assert derived.stale(load_mesh(project)) == {}

    project_file = yaml.safe_load((project / "snowflake.yml").read_text())
    page = next(e for e in project_file["entities"].values() if e["type"] == "streamlit")
    manifests = [a["src"] for a in page["artifacts"] if isinstance(a, dict) and a["src"].endswith("domain.yml")]
    # The repository's manifests kept in place, the new domain's appended.
    repo_page = next(e for e in yaml.safe_load((ROOT / "snowflake.yml").read_text())["entities"].values()
                     if e["type"] == "streamlit")
    kept = [a["src"] for a in repo_page["artifacts"] if isinstance(a, dict) and a["src"].endswith("domain.yml")]
    assert {"domains/marketing/domain.yml", "domains/finance/domain.yml"} <= set(kept)
    assert manifests == [*kept, "domains/orders/domain.yml"]
    assert project_file["entities"]["orders_build_orders_daily"]["handler"] == "orders.orders_daily.build"
    # Only additions: what the other domains had is untouched.
    old = yaml.safe_load(before)["entities"]
    assert all(project_file["entities"][k] == v for k, v in old.items() if v["type"] != "streamlit")
    example = (project / "terraform" / "terraform.tfvars.example").read_text()
    assert '  ORDERS    = "arn:aws:iam::123456789012:role/orders-data-team"\n' in example
    assert '  MARKETING = "arn:aws:iam::123456789012:role/marketing-data-team"\n' in example
    if shutil.which("terraform") is None:
        return
    # The type-check CI runs (tests/test_terraform.py): provider-less, variables + generated file + example.
    tf = tmp_path / "tf"
    tf.mkdir()
    shutil.copy(project / "terraform" / "variables.tf", tf / "variables.tf")
    shutil.copy(project / "terraform" / "domains.auto.tfvars.json", tf / "domains.auto.tfvars.json")
    shutil.copy(project / "terraform" / "terraform.tfvars.example", tf / "example.tfvars")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    for cmd in (["terraform", "init", "-input=false", "-no-color"],
                ["terraform", "plan", "-input=false", "-no-color", "-lock=false", "-var-file=example.tfvars"]):
        proc = subprocess.run(cmd, cwd=tf, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
