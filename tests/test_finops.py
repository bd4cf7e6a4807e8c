"""mesh finops: the local estimate is TASK_RUNS seconds x the size's rate; reads are billed to the reader.

Guards: credits per warehouse (computed by hand here from the rows, 60 s minimum per run), the page and
the CLI both matching that hand figure."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlglot

from snowmesh.finops import attribution_sql, estimate, finops, from_account_usage, local_sql, metering_sql

ROOT = Path(__file__).resolve().parents[1]
RATE = {"XSMALL": 1, "SMALL": 2, "MEDIUM": 4, "LARGE": 8, "XLARGE": 16}


def _by_hand(mesh, rows) -> dict[str, tuple[float, float, float]]:
    """warehouse -> (billed credits, busy credits, % of quota) from (run_id, warehouse, seconds) rows:
    credits per second at the size's rate, each run's seconds on a warehouse billed at least 60 s."""
    per_run: dict[tuple[str, str], float] = defaultdict(float)
    for run_id, wh, seconds in rows:
        per_run[(wh, run_id)] += seconds
    out = {}
    for d in mesh.domains:
        wh, rate = d.warehouse.name, RATE[d.warehouse.size]
        busy = sum(s for (w, _), s in per_run.items() if w == wh) * rate / 3600
        billed = sum(max(60.0, s) for (w, _), s in per_run.items() if w == wh) * rate / 3600
        out[wh] = (billed, busy, 100 * billed / d.warehouse.monthly_credit_quota)
    return out


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
    # Every read of another domain's view runs on the reading domain's warehouse: the consumer pays.
    mesh = mesh_run.mesh
    readers = [c for c in report.tasks if c.reads]
    assert roi in readers
    assert all(c.warehouse == mesh.domain(c.product.split(".")[0]).warehouse.name for c in readers), readers


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
    unmetered = {d.warehouse.name: 0.0 for d in mesh.domains if d.name not in ("FINANCE", "MARKETING")}
    assert {w.warehouse: w.quota_pct for w in report.warehouses} == {"FINANCE_WH": 10.0, "MARKETING_WH": 25.0,
                                                                      **unmetered}
    assert report.tasks[0].reads == ("MARKETING.CAMPAIGN_PERFORMANCE", "MARKETING.AD_CLICKS")
    # One metering query for every domain's warehouse.
    assert sent == [metering_sql([d.warehouse.name for d in mesh.domains]), attribution_sql()]


# --- one estimate: mesh finops (local) and the page compute it with governance.cost -------------

ROWS = [  # TASK_RUNS rows as the page's query sums them: (RUN_ID, WAREHOUSE, TASK, SECONDS, TASK_RUNS)
    ("r1", "MARKETING_WH", "MARKETING_INGEST", 30.0, 1), ("r1", "MARKETING_WH", "BUILD_AD_CLICKS", 45.5, 1),
    ("r2", "MARKETING_WH", "BUILD_AD_CLICKS", 12.0, 2), ("r1", "FINANCE_WH", "BUILD_CAMPAIGN_ROI", 7.25, 1),
    ("r3", "FINANCE_WH", "BUILD_CAMPAIGN_ROI", 80.0, 1),
]


class _Session:
    """Snowpark's session.sql(...).collect() over fixture rows; checks what the page sends."""

    def __init__(self, rows: list[tuple]) -> None:
        self.rows, self.sent = rows, []

    def sql(self, text: str):
        self.sent.append(text)
        sqlglot.parse_one(text, dialect="snowflake")
        return SimpleNamespace(collect=lambda: list(self.rows))


def _page():
    sys.path.insert(0, str(ROOT / "streamlit"))  # as streamlit run puts the page's folder on the path
    from mesh_page import mesh_facts

    return mesh_facts


def test_finops_and_the_page_give_the_same_numbers(root) -> None:
    from governance import cost
    from snowmesh.manifest import load_mesh

    mesh, facts = load_mesh(root), _page()
    cli = {w.warehouse: w for w in estimate(mesh, ROWS).warehouses}
    session = _Session(ROWS)
    page = facts.cost_vs_quota(session, facts.load_domains(root / "domains")).set_index("WAREHOUSE")
    # What the page sends: one real query of the audit's TASK_RUNS (a tree, not an opaque Command).
    [sent] = session.sent
    tree = sqlglot.parse_one(sent, dialect="snowflake")
    assert isinstance(tree, sqlglot.exp.Select) and sent == local_sql() == cost.task_runs_sql(cost.month_start())
    assert {t.name for t in tree.find_all(sqlglot.exp.Table)} == {"TASK_RUNS"}
    assert set(page.index) == set(cli) == {d.warehouse.name for d in mesh.domains}
    hand = _by_hand(mesh, [(r, w, s) for r, w, _, s, _ in ROWS])
    for wh, w in cli.items():
        row, (billed, busy, pct) = page.loc[wh], hand[wh]
        for got in (row["CREDITS_ESTIMATE"], w.credits):
            assert got == pytest.approx(billed, abs=1e-6)
        for got in (row["BUSY_CREDITS"], w.busy_credits):
            assert got == pytest.approx(busy, abs=1e-6)
        for got in (row["QUOTA_USED_PCT"], w.quota_pct):
            assert got == pytest.approx(pct, abs=1e-4)
        seconds = sum(s for _, x, _, s, _ in ROWS if x == wh)
        assert row["SECONDS"] == pytest.approx(seconds, abs=1e-3) and w.seconds == pytest.approx(seconds, abs=1e-3)
        assert row["MONTHLY_QUOTA"] == w.quota == mesh.domain(w.domain).warehouse.monthly_credit_quota
    mk = page.loc["MARKETING_WH"]  # r1: 75.5 s; r2: 12 s, billed as 60 s
    assert (mk["TASK_RUNS"], mk["DAG_RUNS"]) == (4, 2)
    rate = RATE[mesh.domain("MARKETING").warehouse.size]
    assert mk["CREDITS_ESTIMATE"] == pytest.approx((75.5 + 60) / 3600 * rate, abs=1e-6)


def test_raw_rows_and_summed_rows_give_the_same_estimate(root) -> None:
    from snowmesh.manifest import load_mesh

    mesh = load_mesh(root)
    raw = [(r, w, t, s / n) for r, w, t, s, n in ROWS for _ in range(n)]  # one row per task run
    assert estimate(mesh, raw).warehouses == estimate(mesh, ROWS).warehouses


def test_finops_and_the_page_agree_on_the_test_account(mesh_run) -> None:
    """Both match credits computed by hand from the account's TASK_RUNS rows (not from each other)."""
    facts = _page()
    cli = {w.warehouse: w for w in finops(mesh_run.mesh, mesh_run.target.sql, True).warehouses}
    page = facts.cost_vs_quota(mesh_run.target.session, facts.load_domains(ROOT / "domains")).set_index("WAREHOUSE")
    rows = mesh_run.target.sql('SELECT "RUN_ID", "WAREHOUSE", "SECONDS" FROM "GOVERNANCE_DB"."AUDIT"."TASK_RUNS"')
    hand = _by_hand(mesh_run.mesh, rows)
    assert set(cli) == set(hand)
    for wh, w in cli.items():
        billed, _, pct = hand[wh]
        assert billed > 0
        assert w.credits == pytest.approx(billed, abs=1e-6)
        assert page.loc[wh, "CREDITS_ESTIMATE"] == pytest.approx(billed, abs=1e-6)
        assert page.loc[wh, "QUOTA_USED_PCT"] == pytest.approx(pct, abs=1e-4) == w.quota_pct
