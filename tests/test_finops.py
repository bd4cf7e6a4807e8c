"""mesh finops: the local estimate is TASK_RUNS seconds x the size's rate; reads are billed to the reader."""

from __future__ import annotations

from collections import defaultdict

import pytest
import sqlglot

from snowmesh.finops import attribution_sql, estimate, finops, from_account_usage, metering_sql

RATE = {"XSMALL": 1, "SMALL": 2, "MEDIUM": 4, "LARGE": 8, "XLARGE": 16}


def test_estimate_equals_task_run_seconds_times_rate(mesh_run) -> None:
    t, mesh = mesh_run.target, mesh_run.mesh
    report = finops(mesh, t.sql, True)
    rows = t.sql('SELECT "RUN_ID", "WAREHOUSE", "SECONDS" FROM "GOVERNANCE_DB"."AUDIT"."TASK_RUNS"')
    busy, per_run = defaultdict(float), defaultdict(float)
    for run_id, wh, seconds in rows:
        busy[wh] += seconds
        per_run[(wh, run_id)] += seconds
    assert report.estimate and "estimate" in report.source
    for w in report.warehouses:
        r = RATE[mesh.domain(w.domain).warehouse.size]
        assert w.busy_credits == pytest.approx(busy[w.warehouse] * r / 3600)
        billed = sum(max(60.0, s) for (wh, _), s in per_run.items() if wh == w.warehouse) * r / 3600
        assert w.credits == pytest.approx(billed)
        assert w.quota_pct == pytest.approx(100 * billed / mesh.domain(w.domain).warehouse.monthly_credit_quota)
        assert w.credits > 0


def test_finance_wh_carries_the_reads_of_marketing_views(mesh_run) -> None:
    report = finops(mesh_run.mesh, mesh_run.target.sql, True)
    [roi] = [c for c in report.tasks if c.task == "BUILD_CAMPAIGN_ROI"]
    assert roi.warehouse == "FINANCE_WH"
    assert set(roi.reads) == {"MARKETING.CAMPAIGN_PERFORMANCE", "MARKETING.AD_CLICKS"}
    assert not [c for c in report.tasks if c.reads and c.warehouse != "FINANCE_WH"]


def test_sixty_second_minimum_per_run(root) -> None:
    from snowmesh.manifest import load_mesh

    mesh = load_mesh(root)
    rows = [("r1", "MARKETING_WH", "BUILD_AD_CLICKS", 10.0), ("r1", "MARKETING_WH", "PUBLISH_AD_CLICKS", 5.0),
            ("r2", "MARKETING_WH", "BUILD_AD_CLICKS", 90.0)]
    [mk] = [w for w in estimate(mesh, rows).warehouses if w.warehouse == "MARKETING_WH"]
    assert mk.busy_credits == pytest.approx(105 / 3600)
    assert mk.credits == pytest.approx((60 + 90) / 3600)


def test_account_usage_report_from_metering_and_attribution(root) -> None:
    from snowmesh.manifest import load_mesh

    mesh = load_mesh(root)
    sent: list[str] = []

    def query(sql: str) -> list[tuple]:
        sent.append(sql)
        sqlglot.parse_one(sql, dialect="snowflake")  # what is sent is valid Snowflake SQL
        if "WAREHOUSE_METERING_HISTORY" in sql:
            return [("FINANCE_WH", 5.0), ("MARKETING_WH", 25.0)]
        return [("FINANCE_WH", "BUILD_CAMPAIGN_ROI", "FINANCE.CAMPAIGN_ROI", 0.4)]

    report = from_account_usage(mesh, query)
    assert not report.estimate
    assert {w.warehouse: w.quota_pct for w in report.warehouses} == {"FINANCE_WH": 10.0, "MARKETING_WH": 25.0}
    assert report.tasks[0].reads == ("MARKETING.CAMPAIGN_PERFORMANCE", "MARKETING.AD_CLICKS")
    assert sent == [metering_sql(["FINANCE_WH", "MARKETING_WH"]), attribution_sql()]
