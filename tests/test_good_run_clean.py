"""A good run has zero failing checks, and a NULL in a required column still fails, as not_null.

Both on the session's local account (tests/conftest.py ``mesh_run``): the audit of its good run
is read back from GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS; the NULL case validates a copy of a
published product in a scratch database, so the session's products and audit stay as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

from governance.contract import parse_contract
from governance.validate import validate_table

ROOT = Path(__file__).resolve().parents[1]
AUDIT = '"GOVERNANCE_DB"."AUDIT"."VALIDATION_RESULTS"'


def _required(path: str) -> set[str]:
    """The contract file's required columns, read from the JSON itself (not through the engine)."""
    return set(json.loads((ROOT / "contracts" / path).read_text())["required"])


def _rows(mesh_run, where: str, *cols: str) -> list[tuple]:
    names = ", ".join(f'"{c}"' for c in cols)
    return mesh_run.target.sql(f'SELECT {names} FROM {AUDIT} WHERE "RUN_ID" = %s AND {where}',
                               (mesh_run.report.run_id,))


def test_a_good_run_records_zero_failing_checks(mesh_run) -> None:
    assert mesh_run.report.ok
    products = {p for (p,) in _rows(mesh_run, "TRUE", "PRODUCT")}
    assert products == {p.name for p in mesh_run.mesh.products}  # every product of the mesh, validated
    failing = _rows(mesh_run, 'NOT "PASSED"', "PRODUCT", "CHECK_NAME", "COLUMN_NAME", "OBSERVED", "SEVERITY")
    assert failing == []
    # Physical nullability is still reported, as information: Snowpark wrote the columns nullable.
    info = _rows(mesh_run, '"CHECK_NAME" = \'nullable\'', "PRODUCT", "COLUMN_NAME", "OBSERVED", "SEVERITY")
    assert {(p, c) for p, c, _, _ in info} >= {("AD_CLICKS", c) for c in _required("marketing/ad_clicks/v1.json")}
    assert {s for *_, s in info} == {"info"} and "NULL" in {o for _, _, o, _ in info}


def test_every_required_column_has_a_not_null_data_check(mesh_run) -> None:
    """The enforcement the info row relies on: a not_null row per required column, per product."""
    for product, path in (("AD_CLICKS", "marketing/ad_clicks/v1.json"),
                          ("CAMPAIGN_PERFORMANCE", "marketing/campaign_performance/v1.json"),
                          ("CAMPAIGN_ROI", "finance/campaign_roi/v1.json")):
        rows = _rows(mesh_run, f'"PRODUCT" = \'{product}\' AND "CHECK_NAME" = \'not_null\'',
                     "COLUMN_NAME", "OBSERVED", "SEVERITY")
        assert {c for c, _, _ in rows} == _required(path), product
        assert {(o, s) for _, o, s in rows} == {("0", "error")}, product


def test_a_null_in_a_required_column_fails_as_not_null_naming_it(mesh_run) -> None:
    target = mesh_run.target
    target.sql('CREATE DATABASE IF NOT EXISTS "NULLCHECK_DB"')
    target.sql('CREATE SCHEMA IF NOT EXISTS "NULLCHECK_DB"."DATA"')
    target.sql('CREATE OR REPLACE TABLE "NULLCHECK_DB"."DATA"."AD_CLICKS" AS '
               'SELECT * FROM "MARKETING_DB"."PRODUCTS"."AD_CLICKS"')
    target.sql('UPDATE "NULLCHECK_DB"."DATA"."AD_CLICKS" SET "COST_USD" = NULL WHERE "CLICK_ID" = '
               '(SELECT MIN("CLICK_ID") FROM "NULLCHECK_DB"."DATA"."AD_CLICKS")')
    contract = parse_contract(json.loads((ROOT / "contracts/marketing/ad_clicks/v1.json").read_text()))

    report = validate_table(target.session, contract, "NULLCHECK_DB.DATA.AD_CLICKS")

    assert not report.passed
    assert [(r.check, r.column, r.observed, r.severity) for r in report.failures] == [
        ("not_null", "COST_USD", "1", "error")
    ]
    nullable = next(r for r in report.results if r.check == "nullable" and r.column == "COST_USD")
    assert nullable.passed and nullable.severity == "info"
