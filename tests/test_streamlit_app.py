"""The Streamlit page (streamlit/streamlit_app.py), run by Streamlit's AppTest on the test account.

The page runs against the session's scratch local account after the small end-to-end run
(the ``mesh_run`` fixture), the way `mesh page` runs it (SNOWMESH_PAGE_LOCAL=1: the local
account, not whatever Snowpark session the test process holds). Its figures are checked
against answers recomputed here in pandas from the raw rows; nothing is written.

streamlit is a pinned dependency, imported normally: a broken install fails here, it is not skipped.

Guards: the page's catalog, ROI and cost figures against pandas recomputations from the raw rows.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

# A pinned dependency (pyproject.toml): imported, never skipped, so a broken install fails loudly.
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit" / "streamlit_app.py"
SECTIONS = ["Product catalog", "ROI by campaign", "Lineage", "Domain cost against quota"]

sys.path.insert(0, str(APP.parent))  # the page's own modules, as streamlit run puts them on the path
from mesh_page import mesh_facts, queries, session


@pytest.fixture(scope="module")
def page_env(mesh_run) -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SNOWMESH_PROJECT", str(ROOT))
    mp.setenv("SNOWMESH_PAGE_LOCAL", "1")
    yield
    session.close_local()  # before mesh_run stops the servers
    import streamlit as st

    st.cache_resource.clear()
    mp.undo()


@pytest.fixture(scope="module")
def app(page_env) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _rows(mesh_run, sql: str) -> pd.DataFrame:
    with mesh_run.target.conn.cursor() as cur:
        cur.execute(sql)
        cols = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=cols)


def test_the_page_renders_every_section_without_error(app: AppTest) -> None:
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    assert [h.value for h in app.header] == SECTIONS
    assert "local account" in app.caption[0].value


def test_catalog_shows_every_product_with_its_badges(app: AppTest, mesh_run) -> None:
    shown = app.dataframe[0].value
    assert sorted(shown["PRODUCT"]) == sorted(p.name for p in mesh_run.mesh.products)
    # The latest validation run per product, recomputed from the raw audit rows.
    audit = _rows(mesh_run, "SELECT PRODUCT, RUN_ID, VALIDATED_AT, PASSED, SEVERITY FROM GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS")
    for _, row in shown.iterrows():
        mine = audit[audit["PRODUCT"] == row["PRODUCT"]]
        latest = mine.groupby("RUN_ID")["VALIDATED_AT"].max().sort_values().index[-1]
        run = mine[mine["RUN_ID"] == latest]
        passed = not ((run["SEVERITY"] == "error") & ~run["PASSED"].astype(bool)).any()
        assert row["VALIDATION"] == queries.VALIDATION_BADGES["PASSED" if passed else "FAILED"], row["PRODUCT"]
        assert row["FRESHNESS"].split(" ")[0] in ("🟢", "🔴", "⚪"), row["FRESHNESS"]
        assert row["FRESHNESS"].startswith("🟢 fresh")  # built minutes ago, SLA 26 h
    assert app.metric[0].value == str(len(mesh_run.mesh.products))


def test_roi_for_a_date_range_is_the_pandas_aggregation_of_the_product(app: AppTest, mesh_run) -> None:
    rows = _rows(mesh_run, "SELECT CAMPAIGN_ID, PERIOD_DATE, REVENUE_USD, SPEND_USD FROM FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1")
    first, last = rows["PERIOD_DATE"].min(), rows["PERIOD_DATE"].max()
    start, end = first + timedelta(days=3), last - timedelta(days=4)
    assert start < end
    at = app.date_input(key="roi_period").set_value((start, end)).run()
    assert not at.exception and not at.error

    got = at.session_state["roi"].set_index("CAMPAIGN_ID")
    pd.testing.assert_frame_equal(at.dataframe[1].value.set_index("CAMPAIGN_ID"), got, check_dtype=False)

    window = rows[(rows["PERIOD_DATE"] >= start) & (rows["PERIOD_DATE"] <= end)]
    want = window.groupby("CAMPAIGN_ID")[["REVENUE_USD", "SPEND_USD"]].agg(lambda s: sum(s, Decimal(0)))
    assert sorted(got.index) == sorted(want.index)
    assert len(window) < len(rows)  # the filter really narrowed the rows
    for cid, w in want.iterrows():
        rev, spend = float(w["REVENUE_USD"]), float(w["SPEND_USD"])
        assert got.loc[cid, "REVENUE_USD"] == pytest.approx(rev, abs=0.005), cid
        assert got.loc[cid, "SPEND_USD"] == pytest.approx(spend, abs=0.005), cid
        if spend > 0:
            assert got.loc[cid, "ROI"] == pytest.approx((rev - spend) / spend, abs=1e-6), cid
            assert got.loc[cid, "ROAS"] == pytest.approx(rev / spend, abs=1e-6), cid
    assert list(got["ROI"]) == sorted(got["ROI"], reverse=True)  # best first


def test_cost_against_quota_has_a_row_per_domain(app: AppTest, mesh_run) -> None:
    cost = app.session_state["cost"].set_index("DOMAIN")
    assert sorted(cost.index) == sorted(d.name for d in mesh_run.mesh.domains)
    since = mesh_facts.month_start()
    runs = _rows(mesh_run, "SELECT RUN_ID, WAREHOUSE, STARTED_AT, SECONDS FROM GOVERNANCE_DB.AUDIT.TASK_RUNS")
    runs = runs[runs["STARTED_AT"] >= since]
    for d in mesh_run.mesh.domains:
        row = cost.loc[d.name]
        mine = runs[runs["WAREHOUSE"] == d.warehouse.name]
        assert row["WAREHOUSE"] == d.warehouse.name and row["MONTHLY_QUOTA"] == d.warehouse.monthly_credit_quota
        assert row["TASK_RUNS"] == len(mine) > 0
        assert row["DAG_RUNS"] == mine["RUN_ID"].nunique()
        assert row["SECONDS"] == pytest.approx(float(mine["SECONDS"].sum()), abs=0.01)
        rate = mesh_facts.credits_per_hour(d.warehouse.size)
        assert row["BUSY_CREDITS"] == pytest.approx(float(mine["SECONDS"].sum()) / 3600 * rate, abs=1e-5)
        # Billed per DAG run: a warehouse resume costs at least 60 s.
        credits = sum(max(60.0, float(s)) for s in mine.groupby("RUN_ID")["SECONDS"].sum()) / 3600 * rate
        assert row["CREDITS_ESTIMATE"] == pytest.approx(credits, abs=1e-5)
        assert row["QUOTA_USED_PCT"] == pytest.approx(100 * credits / d.warehouse.monthly_credit_quota, abs=1e-3)
    assert len(app.get("progress")) == len(mesh_run.mesh.domains)


def test_lineage_names_every_product(app: AppTest, mesh_run) -> None:
    dot = app.session_state["lineage_dot"]
    assert dot.lstrip().startswith("digraph")
    for d in mesh_run.mesh.domains:
        for p in d.products:
            assert f"{d.database}.PRODUCTS.{p.view}" in dot
    assert app.get("graphviz_chart")


def test_fallback_lineage_is_source_raw_product_consumer() -> None:
    dot = mesh_facts.fallback_lineage_dot(mesh_facts.load_domains(ROOT / "domains"))
    for edge in (
        '"s3://mesh-marketing-landing/ad_clicks/" -> "MARKETING_DB.RAW.AD_CLICKS"',
        '"MARKETING_DB.RAW.AD_CLICKS" -> "MARKETING_DB.PRODUCTS.AD_CLICKS_V1"',
        '"MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1" -> "FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1"',
        '"FINANCE_DB.RAW.FX_RATES" -> "FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1"',
        '"MARKETING_DB.PRODUCTS.AD_CLICKS_V1" -> "consumer: FINANCE"',
    ):
        assert edge in dot


def test_credit_rates_and_unknown_sizes() -> None:
    assert mesh_facts.credits_per_hour("XSMALL") == mesh_facts.credits_per_hour("x-small") == 1
    assert mesh_facts.credits_per_hour("2XLARGE") == 32
    with pytest.raises(ValueError, match="unknown warehouse size"):
        mesh_facts.credits_per_hour("HUGE")


def test_without_a_running_local_account_the_page_says_so(page_env, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path / "no-account"))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    assert len(at.error) == 1 and "local account is not running" in at.error[0].value
    assert "mesh up" in at.error[0].value
    assert not at.header  # it stops before any section


def test_mesh_page_prints_a_headless_command_without_telemetry(capsys) -> None:
    from snowmesh.cli.main import run_app

    assert run_app(["page", "--project", str(ROOT), "--port", "8600", "--print"]) == 0
    out = capsys.readouterr().out
    assert "streamlit run" in out and str(APP) in out
    assert "--server.headless true" in out and "--browser.gatherUsageStats false" in out
    assert "--server.port 8600" in out and "--server.address 127.0.0.1" in out


def test_mesh_page_rejects_a_project_without_the_page(tmp_path: Path) -> None:
    from snowmesh.cli.main import run_app

    assert run_app(["page", "--project", str(tmp_path), "--print"]) == 2
