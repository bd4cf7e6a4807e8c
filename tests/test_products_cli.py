"""``mesh products`` on the local account after a run, and ``mesh product show``."""

from __future__ import annotations

import json
from pathlib import Path

from snowmesh.cli.main import run_app

ROOT = Path(__file__).resolve().parents[1]


def test_products_lists_health_after_a_run(mesh_run, capsys) -> None:
    # The session's run keeps its local account up (SNOWMESH_STATE_DIR points at it): the command
    # connects to it as it would after `mesh run --keep-servers`, and leaves it running.
    assert run_app(["products", "--project", str(ROOT), "--refresh", "--format", "json"]) == 0
    rows = {r["product"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"CAMPAIGN_PERFORMANCE", "AD_CLICKS", "CAMPAIGN_ROI"}
    cp = rows["CAMPAIGN_PERFORMANCE"]
    assert cp["last_validation"] == "PASSED" and cp["last_validated_at"]
    assert cp["row_count"] > 0 and cp["freshness_hours"] is not None and cp["sla_hours"] == 26.0
    assert cp["view_name"] == "MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1" and cp["consumers"] == "FINANCE"
    assert run_app(["products", "--project", str(ROOT)]) == 0
    assert "data products" in capsys.readouterr().out  # the table (columns fold at 80 chars)


def test_product_show_prints_schema_and_metadata(capsys) -> None:
    assert run_app(["product", "show", "MARKETING.AD_CLICKS", "--project", str(ROOT), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    cols = {c["name"]: c for c in d["columns"]}
    assert cols["COST_USD"] == {"name": "COST_USD", "type": "NUMBER(12,4)", "nullable": False,
                                "classification": "confidential", "masked": True,
                                "description": cols["COST_USD"]["description"]}
    assert cols["UTM_SOURCE"]["nullable"] and d["consumers"] == ["FINANCE"] and d["sla"]["max_age_hours"] == 26
    assert d["versions"][0]["read_by"] == ["FINANCE.CAMPAIGN_ROI"]
    assert run_app(["product", "show", "NOPE", "--project", str(ROOT)]) == 2
    assert "unknown product" in capsys.readouterr().err
