"""The whole mesh on the local account, checked against what users rely on."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from independent import roi_by_campaign

from snowmesh.console import SilentReporter

pytestmark = pytest.mark.slow


def test_every_task_succeeded_and_every_product_published(mesh_run) -> None:
    failed = [(t.task, t.message) for t in mesh_run.report.tasks if t.status != "SUCCEEDED"]
    assert failed == []
    for key, outcome in mesh_run.report.products.items():
        assert outcome.validation_passed, (key, outcome.failed_checks)
        assert outcome.published and outcome.published_rows == outcome.staged_rows > 0, key


def test_landed_equals_loaded_plus_quarantined_exactly(mesh_run) -> None:
    generated: dict[str, int] = defaultdict(int)
    corrupt: dict[str, int] = defaultdict(int)
    for f in mesh_run.landed:
        generated[f.source] += f.rows
        corrupt[f.source] += f.corrupt
    loads = {l.source: l for l in mesh_run.report.loads}
    assert set(loads) == set(generated)
    for source, load in loads.items():
        assert load.rows_landed == generated[source], source
        assert load.rows_loaded + load.rows_quarantined == load.rows_landed, source
        assert load.rows_quarantined == corrupt[source], source
    assert sum(corrupt.values()) > 0  # the run did exercise quarantine


def test_quarantine_names_file_line_and_reason(mesh_run) -> None:
    t = mesh_run.target
    expected = {(f.key, line) for f in mesh_run.landed if f.source == "AD_CLICKS" for line, _ in f.corrupt_lines}
    rows = t.sql('SELECT "_FILE", "_LINE", "REASON" FROM "MARKETING_DB"."RAW"."AD_CLICKS_QUARANTINE"')
    assert {(f, int(n)) for f, n, _ in rows} == expected
    reasons = {r for _, _, r in rows}
    assert all(r.startswith(("missing ", "bad ")) for r in reasons), reasons


def test_roi_matches_an_independent_pandas_computation(mesh_run) -> None:
    mk, fi = mesh_run.mesh.domain("MARKETING"), mesh_run.mesh.domain("FINANCE")
    expected = roi_by_campaign(mesh_run.target.s3, mk.bucket, fi.bucket)
    rows = mesh_run.target.sql(
        'SELECT "CAMPAIGN_ID", SUM("REVENUE_USD")::NUMBER(18,2), SUM("SPEND_USD")::NUMBER(18,2) FROM "FINANCE_DB"."PRODUCTS"."CAMPAIGN_ROI_V1" '
        'GROUP BY "CAMPAIGN_ID"'
    )
    got = {c: (Decimal(str(rev)), Decimal(str(sp))) for c, rev, sp in rows}
    assert set(got) == set(expected)
    for campaign, (rev, spend) in got.items():
        assert rev == expected[campaign]["revenue"], campaign
        assert spend == expected[campaign]["spend"], campaign
    # ROI as the summary reports it, against the independent figure.
    from snowmesh.pipeline.summary import top_roi

    top = top_roi(mesh_run.target, mesh_run.mesh)
    assert len(top) == min(10, len(expected))
    for r in top:
        assert abs(Decimal(str(r.roi)) - expected[r.campaign_id]["roi"]) < Decimal("0.000001")
    ranked = sorted((v["roi"] for v in expected.values() if v["roi"] is not None), reverse=True)[:10]
    assert [round(float(r.roi), 6) for r in top] == [round(float(x), 6) for x in ranked]


def test_zero_copy_finance_holds_no_marketing_data(mesh_run) -> None:
    t = mesh_run.target
    finance_objects = {
        name for (name,) in t.sql(
            'SELECT TABLE_NAME FROM "FINANCE_DB"."INFORMATION_SCHEMA"."TABLES" WHERE TABLE_SCHEMA <> \'INFORMATION_SCHEMA\''
        )
    }
    marketing = mesh_run.mesh.domain("MARKETING")
    forbidden = {s.name for s in marketing.sources} | {p.name for p in marketing.products} | {
        p.view for p in marketing.products
    }
    assert finance_objects and not (finance_objects & forbidden), finance_objects & forbidden
    # The ROI handler reads Marketing's published views in place.
    from finance.campaign_roi import transform

    sql = " ".join(transform(t.session).queries["queries"])
    assert "MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1" in sql and "MARKETING_DB.PRODUCTS.AD_CLICKS_V1" in sql
    assert "MARKETING_DB.RAW" not in sql and "MARKETING_DB.STAGING" not in sql


def test_unemulated_objects_are_recorded_not_executed(mesh_run) -> None:
    from snowmesh.deploy.plan import build_plan

    plan = build_plan(mesh_run.mesh, local=True)
    deferred = {s.sql for s in plan.all if not s.locally_executable}
    recorded = {r[0] for r in mesh_run.target.sql('SELECT "STATEMENT" FROM "GOVERNANCE_DB"."CATALOG"."ACCOUNT_OBJECTS"')}
    assert deferred <= recorded
    kinds = {r[0] for r in mesh_run.target.sql('SELECT DISTINCT "KIND" FROM "GOVERNANCE_DB"."CATALOG"."ACCOUNT_OBJECTS"')}
    assert {"warehouse", "resource_monitor", "account_role", "database_role", "grant"} <= kinds


def test_task_runs_are_audited(mesh_run) -> None:
    rows = mesh_run.target.sql(
        'SELECT "DAG", "TASK", "STATUS", "WAREHOUSE" FROM "GOVERNANCE_DB"."AUDIT"."TASK_RUNS" WHERE "RUN_ID" = %s',
        (mesh_run.report.run_id,),
    )
    assert len(rows) == len(mesh_run.report.tasks)
    by_task = {r[1]: r for r in rows}
    assert by_task["BUILD_CAMPAIGN_ROI"][3] == "FINANCE_WH"  # Finance's reads of Marketing bill Finance
    assert by_task["BUILD_CAMPAIGN_PERFORMANCE"][3] == "MARKETING_WH"


def test_second_run_loads_nothing_twice_and_converges(mesh_run) -> None:
    """Runs last in this module: re-lands the same files and walks the graphs again."""
    from snowmesh.landing import land_mesh
    from snowmesh.pipeline.runner import RunReport, walk_mesh

    t, mesh = mesh_run.target, mesh_run.mesh
    before = t.sql('SELECT "CAMPAIGN_ID", "PERIOD_DATE", "REVENUE_USD", "SPEND_USD", "ROI" FROM "FINANCE_DB"."PRODUCTS"."CAMPAIGN_ROI_V1" ORDER BY 1, 2')
    raw_before = t.sql('SELECT COUNT(*) FROM "MARKETING_DB"."RAW"."AD_CLICKS"')[0][0]
    land_mesh(t, mesh, mesh_run.options, SilentReporter())
    again = RunReport(run_id="testrun00002")
    walk_mesh(t, mesh, SilentReporter(), again)
    assert all(l.files_new == 0 and l.rows_landed == 0 and l.files_skipped > 0 for l in again.loads)
    assert t.sql('SELECT COUNT(*) FROM "MARKETING_DB"."RAW"."AD_CLICKS"')[0][0] == raw_before
    after = t.sql('SELECT "CAMPAIGN_ID", "PERIOD_DATE", "REVENUE_USD", "SPEND_USD", "ROI" FROM "FINANCE_DB"."PRODUCTS"."CAMPAIGN_ROI_V1" ORDER BY 1, 2')
    assert after == before
    assert all(t.status == "SUCCEEDED" for t in again.tasks)
