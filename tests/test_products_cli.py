"""``mesh products`` on the local account after a run, and ``mesh product show``.

Guards: the catalog's health and metadata, checked against the contract files read here with json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from snowmesh.cli.main import run_app

ROOT = Path(__file__).resolve().parents[1]


def test_products_lists_health_after_a_run(mesh_run, capsys) -> None:
    # The session's run keeps its local account up (SNOWMESH_STATE_DIR points at it): the command
    # connects to it as it would after `mesh run --keep-servers`, and leaves it running.
    assert run_app(["products", "--project", str(ROOT), "--refresh", "--format", "json"]) == 0
    rows = {r["product"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {p.name for p in mesh_run.mesh.products}
    cp = rows["CAMPAIGN_PERFORMANCE"]
    assert cp["last_validation"] == "PASSED" and cp["last_validated_at"]
    assert cp["row_count"] > 0 and cp["freshness_hours"] is not None and cp["sla_hours"] == 26.0
    assert cp["view_name"] == "MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1"
    # the registry's comma-separated consumers: FINANCE, and any other domain the manifest adds
    assert cp["consumers"] == ",".join(mesh_run.mesh.product("MARKETING.CAMPAIGN_PERFORMANCE").consumers)
    assert "FINANCE" in cp["consumers"].split(",")
    assert run_app(["products", "--project", str(ROOT)]) == 0
    assert "data products" in capsys.readouterr().out  # the table (columns fold at 80 chars)


def test_product_show_prints_schema_and_metadata(capsys) -> None:
    assert run_app(["product", "show", "MARKETING.AD_CLICKS", "--project", str(ROOT), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    cols = {c["name"]: c for c in d["columns"]}
    contract = json.loads((ROOT / "contracts/marketing/ad_clicks/v1.json").read_text())  # read independently
    assert cols["COST_USD"] == {"name": "COST_USD", "type": "NUMBER(12,4)", "nullable": False,
                                "classification": "confidential", "masked": True,
                                "description": contract["properties"]["COST_USD"].get("description", "")}
    assert [c["name"] for c in d["columns"]] == list(contract["properties"])
    assert cols["UTM_SOURCE"]["nullable"] and d["consumers"] == ["FINANCE"] and d["sla"]["max_age_hours"] == 26
    assert d["versions"][0]["read_by"] == ["FINANCE.CAMPAIGN_ROI"]
    assert run_app(["product", "show", "NOPE", "--project", str(ROOT)]) == 2
    assert "unknown product" in capsys.readouterr().err


def test_product_show_prints_the_contracts_column_description(tmp_path: Path, capsys) -> None:
    """A description written into a copy's contract file is the one printed (not an empty string
    compared with itself)."""
    for sub in ("domains", "contracts", "procedures"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    path = tmp_path / "contracts/marketing/ad_clicks/v1.json"
    doc = json.loads(path.read_text())
    doc["properties"]["COST_USD"]["description"] = "What the click cost, in US dollars."
    path.write_text(json.dumps(doc, indent=2))
    assert run_app(["product", "show", "MARKETING.AD_CLICKS", "--project", str(tmp_path), "--format", "json"]) == 0
    cols = {c["name"]: c for c in json.loads(capsys.readouterr().out)["columns"]}
    assert cols["COST_USD"]["description"] == "What the click cost, in US dollars."
    assert cols["CLICK_ID"]["description"] == doc["properties"]["CLICK_ID"].get("description", "")
