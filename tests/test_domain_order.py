"""Dependency order across domains (issue 13, item 3), on the four-domain fixture mesh.

tests/fixtures/meshes/four_domains has a chain DELTA -> BETA -> ALPHA and a diamond
DELTA -> {BETA, GAMMA} -> ALPHA. ALPHA sorts first by name and its first product reads only its
own raw table, so ordering domains by where their first product appears would run ALPHA's graph
before the views it reads exist: on a fresh account its report would fail. The walker sorts the
domains topologically; a loop of domains waiting for each other is a manifest error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from snowmesh.errors import InputProblems
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
FOUR = ROOT / "tests" / "fixtures" / "meshes" / "four_domains"
BASE = ROOT / "tests" / "fixtures" / "meshes" / "base"


def _producers(doc_by_domain: dict[str, dict]) -> dict[str, set[str]]:
    """Read from the manifests themselves: whose products each domain's products read."""
    out: dict[str, set[str]] = {}
    for name, doc in doc_by_domain.items():
        out[name] = {i.split(".")[0] for p in doc["products"] for i in p["inputs"]} - {"RAW", name}
    return out


def _manifests(root: Path) -> dict[str, dict]:
    docs = [yaml.safe_load(f.read_text()) for f in sorted((root / "domains").glob("*/domain.yml"))]
    return {d["name"]: d for d in docs}


@pytest.mark.parametrize("root", [FOUR, ROOT], ids=["four_domains", "repository"])
def test_every_domain_comes_after_the_domains_it_reads(root):
    order = [d.name for d in load_mesh(root).domains_in_order()]
    producers = _producers(_manifests(root))
    assert sorted(order) == sorted(producers)
    for i, name in enumerate(order):
        assert producers[name] <= set(order[:i]), (name, order)


def test_four_domains_order_is_the_chain_and_the_diamond():
    assert [d.name for d in load_mesh(FOUR).domains_in_order()] == ["DELTA", "BETA", "GAMMA", "ALPHA"]


def test_a_fresh_account_runs_the_four_domains_in_order(tmp_path):
    """One whole run on a scratch account: every product publishes, no graph starts before its producers'."""
    from snowmesh.console import SilentReporter
    from snowmesh.contracts.gate import scratch_state
    from snowmesh.generate import summarize
    from snowmesh.landing import LandOptions, land_mesh
    from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
    from snowmesh.target import open_target

    project = tmp_path / "mesh"
    shutil.copytree(FOUR, project)
    mesh = load_mesh(project)
    reporter = SilentReporter()
    with scratch_state(), open_target(project, None, keep_servers=False) as target:
        report = RunReport(run_id="ordertest0001")
        report.deploy = deploy(target, mesh, reporter)
        landed = land_mesh(target, mesh, LandOptions(clicks=1_000, seed=3, corrupt_fraction=0.01, days=5), reporter)
        walk_mesh(target, mesh, reporter, report)
    assert report.ok, [(t.task, t.message) for t in report.tasks if t.status != "SUCCEEDED"]
    assert sorted(report.products) == sorted(p.key for p in mesh.products)
    assert all(o.published and o.published_rows for o in report.products.values())
    # A graph's first task comes after the last PUBLISH of every domain it reads.
    first = {}
    last_publish = {}
    for i, t in enumerate(report.tasks):
        domain = t.dag.removesuffix("_PIPELINE")
        first.setdefault(domain, i)
        if t.task.startswith("PUBLISH_"):
            last_publish[domain] = i
    for consumer, producers in _producers(_manifests(project)).items():
        for producer in producers:
            assert last_publish[producer] < first[consumer], (producer, consumer)
    # Declared sample data loads: landed = loaded + quarantined, quarantined = the declared corrupt rows.
    totals = summarize(landed)
    for load in report.loads:
        rows, bad = totals[load.source]
        assert (load.rows_loaded + load.rows_quarantined, load.rows_quarantined) == (rows, bad), load.source


def test_domains_waiting_for_each_other_are_a_manifest_error(tmp_path):
    """No product cycle (ORDERS_DAILY -> REVENUE -> REFUNDS), but SHOP and LEDGER each wait for the other."""
    project = tmp_path / "mesh"
    shutil.copytree(BASE, project)
    ledger = project / "domains" / "ledger" / "domain.yml"
    doc = yaml.safe_load(ledger.read_text())
    doc["products"][0]["consumers"] = ["SHOP"]
    ledger.write_text(yaml.safe_dump(doc, sort_keys=False))
    shop = project / "domains" / "shop" / "domain.yml"
    doc = yaml.safe_load(shop.read_text())
    doc["products"].append({"name": "REFUNDS", "contract": "contracts/shop/refunds/v1.json",
                            "handler": "shop.orders_daily.build", "inputs": ["LEDGER.REVENUE"], "consumers": []})
    shop.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(InputProblems) as err:
        load_mesh(project)
    assert err.value.problems == [
        ("domains/ledger/domain.yml: products: domain dependency cycle: LEDGER -> SHOP -> LEDGER "
        "(LEDGER.REVENUE reads SHOP.ORDERS_DAILY; SHOP.REFUNDS reads LEDGER.REVENUE)")]
    proc = subprocess.run([sys.executable, "-m", "snowmesh", "lineage", "-p", str(project)], capture_output=True,
                          text=True, timeout=120, check=False, env={**os.environ, "COLUMNS": "300"})
    assert proc.returncode == 2 and "domain dependency cycle: LEDGER -> SHOP -> LEDGER" in proc.stderr
    assert "Traceback" not in proc.stderr
