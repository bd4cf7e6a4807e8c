"""Each domain ships only its own code (issue 13, item 6): a domain's procedure entities in
snowflake.yml carry its own procedures/ folder and governance, never another domain's handlers.

On the four-domain fixture mesh (chain DELTA -> BETA -> ALPHA, diamond DELTA -> {BETA, GAMMA} ->
ALPHA: the domains that read each other most) and on the repository's own mesh, whatever its
domains. The bundle itself is built by the real snow CLI, offline: the zips it writes must hold
each handler under its package path, so that ``alpha.alpha_report.build`` imports inside
Snowflake as it does locally (snowmesh.deploy.code_artifacts explains the snow CLI's rules).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from snowmesh.deploy import project_file as pf
from snowmesh.deploy.code_artifacts import GLOB_FEATURE_ENV, GOVERNANCE, bundled_zip
from snowmesh.errors import InputError
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
FOUR = ROOT / "tests" / "fixtures" / "meshes" / "four_domains"
SNOW = Path(sys.executable).with_name("snow")


def _procedures(mesh) -> dict[str, dict]:
    return {k: e for k, e in pf.render_project(mesh)["entities"].items() if e["type"] == "procedure"}


def _folders(entity: dict) -> set[str]:
    """``procedures/<folder>/*`` -> folder."""
    out = set()
    for a in entity["artifacts"]:
        src = a["src"] if isinstance(a, dict) else a
        parts = src.split("/")
        assert parts[0] == "procedures" and parts[-1] == "*" and len(parts) == 3, src
        out.add(parts[1])
    return out


def _owner_by_database(mesh) -> dict[str, str]:
    return {d.database: d.name.lower() for d in mesh.domains}


@pytest.mark.parametrize("where", [FOUR, ROOT], ids=["four_domains", "repository"])
def test_no_entity_carries_another_domains_folder(where: Path) -> None:
    mesh = load_mesh(where)
    assert len(mesh.domains) >= (4 if where == FOUR else 2)
    owners = _owner_by_database(mesh)
    every_domain = set(owners.values())
    procs = _procedures(mesh)
    seen_domains = set()
    for key, e in procs.items():
        folders = _folders(e)
        own = owners.get(e["identifier"]["database"])  # None: a governance procedure in GOVERNANCE_DB
        assert GOVERNANCE in folders, key
        if own is None:
            assert folders == {GOVERNANCE}, key
        else:
            seen_domains.add(own)
            assert folders == {own, GOVERNANCE}, key
            assert not (folders & (every_domain - {own})), f"{key} ships another domain's code: {folders}"
        # The handler's package is one the entity ships.
        assert e["handler"].split(".")[0] in folders, key
    assert seen_domains == every_domain  # every domain has entities, each checked above


def test_the_committed_snowflake_yml_has_the_same_artifacts() -> None:
    committed = yaml.safe_load((ROOT / "snowflake.yml").read_text())["entities"]
    rendered = _procedures(load_mesh(ROOT))
    assert {k: e["artifacts"] for k, e in committed.items() if e["type"] == "procedure"} == {
        k: e["artifacts"] for k, e in rendered.items()
    }


def _fixture_project(tmp_path: Path) -> Path:
    """The four-domain mesh as a project snow can build: its files, the real governance code."""
    project = tmp_path / "mesh"
    shutil.copytree(FOUR, project)
    shutil.copytree(ROOT / "procedures" / GOVERNANCE, project / "procedures" / GOVERNANCE,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return project


def test_a_handler_importing_another_domains_code_is_refused_naming_the_file(tmp_path: Path) -> None:
    project = _fixture_project(tmp_path)
    report = project / "procedures" / "alpha" / "alpha_report.py"
    report.write_text("from beta.beta_summary import OUTPUT as _BETA  # noqa: F401\n" + report.read_text())
    mesh = load_mesh(project)  # the front door does not read imports; the render does
    with pytest.raises(InputError) as caught:
        pf.render_project(mesh)
    assert caught.value.message.startswith("procedures/alpha/alpha_report.py: imports procedures/beta/")
    # Through the CLI: exit 2, one message, nothing written.
    proc = subprocess.run([sys.executable, "-m", "snowmesh", "derive", "-p", str(project)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "procedures/alpha/alpha_report.py: imports procedures/beta/" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (project / "snowflake.yml").exists()


def _snow(project: Path, tmp_path: Path, *, glob_feature: bool) -> subprocess.CompletedProcess:
    home = tmp_path / "snowflake-home"
    home.mkdir(exist_ok=True)
    config = home / "config.toml"
    config.write_text("[cli]\nignore_new_version_warning = true\n")
    config.chmod(0o600)  # snow refuses a config file others can read
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_")}
    env["SNOWFLAKE_HOME"] = str(home)
    if glob_feature:
        env[GLOB_FEATURE_ENV] = "true"
    return subprocess.run([str(SNOW), "snowpark", "build", "--skip-dependencies"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.skipif(not SNOW.is_file(), reason="snow CLI not installed next to the interpreter")
def test_snow_builds_one_zip_per_folder_with_each_handler_at_its_import_path(tmp_path: Path) -> None:
    project = _fixture_project(tmp_path)
    mesh = load_mesh(project)
    pf.write(mesh)
    procs = yaml.safe_load((project / "snowflake.yml").read_text())["entities"]
    procs = {k: e for k, e in procs.items() if e["type"] == "procedure"}

    # Without the feature the old build refuses the globs (rather than zipping a folder from
    # inside, which would ship `alpha_report.py` where `alpha.alpha_report` cannot import it).
    refused = _snow(project, tmp_path, glob_feature=False)
    assert refused.returncode != 0
    assert "enable_snowpark_glob_support" in " ".join((refused.stdout + refused.stderr).split())

    built = _snow(project, tmp_path, glob_feature=True)
    assert built.returncode == 0, built.stdout + built.stderr
    owners = _owner_by_database(mesh)
    for key, e in procs.items():
        names = set()
        for folder in _folders(e):
            with zipfile.ZipFile(project / bundled_zip(folder)) as z:
                inside = z.namelist()
            # Every entry sits under its package folder: the zip's root is what Snowflake imports from.
            assert inside and all(n.startswith(f"{folder}/") for n in inside), (folder, inside[:3])
            names |= set(inside)
        module = e["handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert module in names, f"{key}: {module} is in none of its zips"
        others = set(owners.values()) - {owners.get(e["identifier"]["database"])}
        assert not {n.split("/")[0] for n in names} & others, key
    # The Native App bundles the governance zip only.
    app_src = dict(pf.APP_ARTIFACTS)
    assert bundled_zip(GOVERNANCE) in app_src and (project / bundled_zip(GOVERNANCE)).is_file()
