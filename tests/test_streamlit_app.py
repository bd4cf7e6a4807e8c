"""The Streamlit page (streamlit/streamlit_app.py), run by Streamlit's AppTest on the test account.

The page runs against the session's scratch local account after the small end-to-end run
(the ``mesh_run`` fixture), the way `mesh page` runs it (SNOWMESH_PAGE_LOCAL=1: the local
account, not whatever Snowpark session the test process holds). Its figures are checked
against answers recomputed here in pandas from the raw rows; nothing is written.

streamlit is a pinned dependency, imported normally: a broken install fails here, it is not skipped.

Guards: the page's catalog, ROI and cost figures against pandas recomputations from the raw rows.
"""

from __future__ import annotations

import colorsys
import json
import re
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
from mesh_page import lineage_view, mesh_facts, queries, session


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


RAW_NAME = re.compile(r"^[A-Z0-9]+(_[A-Z0-9]+)+$")  # UPPER_SNAKE: a warehouse column, not a header


def test_catalog_shows_every_product_with_its_badges(app: AppTest, mesh_run) -> None:
    shown = app.table[0].value  # what the reader sees: st.table, friendly headers
    raw = app.session_state["catalog"].set_index("PRODUCT")
    assert sorted(shown["Product"]) == sorted(p.name for p in mesh_run.mesh.products)
    # The latest validation run per product, recomputed from the raw audit rows.
    audit = _rows(mesh_run, "SELECT PRODUCT, RUN_ID, VALIDATED_AT, PASSED, SEVERITY FROM GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS")
    for _, row in shown.iterrows():
        mine = audit[audit["PRODUCT"] == row["Product"]]
        latest = mine.groupby("RUN_ID")["VALIDATED_AT"].max().sort_values().index[-1]
        run = mine[mine["RUN_ID"] == latest]
        passed = not ((run["SEVERITY"] == "error") & ~run["PASSED"].astype(bool)).any()
        badge = queries.VALIDATION_BADGES["PASSED" if passed else "FAILED"]
        assert raw.loc[row["Product"], "VALIDATION"] == badge, row["Product"]
        assert row["Last validation"].startswith(badge), row["Last validation"]
        # Built minutes ago: fresh against the contract's own SLA; a contract without one says so.
        p = next(p for p in mesh_run.mesh.products if p.name == row["Product"])
        has_sla = bool(json.loads((mesh_run.mesh.root / p.contract).read_text()).get("x-sla", {}).get("max_age_hours"))
        assert row["Freshness"].startswith("🟢 fresh" if has_sla else "⚪ no SLA"), row["Freshness"]
        assert row["Rows"] == f"{int(raw.loc[row['Product'], 'ROW_COUNT']):,}"
    # The published view whole (it was cut at 1400 px), one per product, as the account names it.
    want = {p.name: f"{mesh_run.mesh.domain(p.domain).database}.PRODUCTS.{p.view}" for p in mesh_run.mesh.products}
    assert dict(zip(shown["Product"], shown["Published view"])) == want
    assert app.metric[0].value == str(len(mesh_run.mesh.products))


def test_every_header_on_the_page_is_friendly(app: AppTest) -> None:
    """No raw UPPER_SNAKE name next to friendly ones: the catalog, both grids, the chart, the date filter."""
    headers = list(app.table[0].value.columns)
    for grid in app.dataframe:
        config = json.loads(grid.proto.columns)
        headers += [config[c]["label"] for c in grid.value.columns]  # every grid column has a label
    chart = json.loads(_elements(app, "vega_lite_chart")[0].proto.spec)
    headers += [chart["encoding"]["x"]["title"], chart["encoding"]["color"]["title"]]
    headers += [t["title"] for t in chart["encoding"]["tooltip"]]
    headers += [w.label for w in app.date_input] + [w.label for w in app.selectbox]
    raw = [h for h in headers if RAW_NAME.match(h) or "_" in h]
    assert not raw, raw
    assert "Published view" in headers and "Revenue (USD)" in headers and "Credits (estimate)" in headers


def test_catalog_table_folds_columns_and_names_new_ones_friendly() -> None:
    """A registry row as the reader sees it: status only when it says more than active, the time
    with its badge, counts grouped, lists as text, an unknown column named in words."""
    from mesh_page.presentation import catalog_table

    row = {"DOMAIN": "ALPHA", "PRODUCT": "ORDERS", "VERSION": "2.0.0", "STATUS": "deprecated",
           "VALIDATION": "✅ passed", "LAST_VALIDATED_AT": "2026-12-01 13:44:10", "FRESHNESS": "🟢 fresh (1.5 h of 26 h)",
           "PUBLISHED": True, "FRESH": True, "LAST_VALIDATION": "PASSED", "FRESHNESS_HOURS": 1.5, "SLA_HOURS": 26.0,
           "ROW_COUNT": 1234567, "OWNER": "a@example.com", "CONSUMERS": "BETA,GAMMA", "VIEW_NAME": "ALPHA_DB.PRODUCTS.ORDERS_V2",
           "HEALTH_AT": "2026-12-01 13:40:00", "SERVED_VERSIONS": '["ORDERS_V1"]', "NEW_REGISTRY_COLUMN": None}  # fmt: skip
    active = {**row, "PRODUCT": "CLICKS", "STATUS": "active", "SERVED_VERSIONS": "[]", "CONSUMERS": None}
    shown = catalog_table(pd.DataFrame([row, active]))
    assert list(shown.columns) == ["Domain", "Product", "Version", "Last validation", "Freshness", "Rows", "Owner",
                                   "Consumers", "Published view", "Older versions served", "New registry column"]
    first, second = shown.to_dict("records")
    assert (first["Version"], second["Version"]) == ("2.0.0 · deprecated", "2.0.0")
    # Non-breaking: a narrow cell wraps after the badge, never inside the time or the figures.
    assert first["Last validation"] == "✅ passed · 2026\u201112\u201101\u00a013:44"
    assert first["Freshness"] == "🟢 fresh (1.5\u00a0h\u00a0of\u00a026\u00a0h)"
    assert (first["Rows"], first["Consumers"], second["Consumers"]) == ("1,234,567", "BETA, GAMMA", "—")
    assert (first["Older versions served"], second["Older versions served"]) == ("ORDERS_V1", "—")
    assert first["Published view"] == "ALPHA_DB.PRODUCTS.ORDERS_V2" and first["New registry column"] == "—"


def test_grid_formats_fall_back_to_printf_on_an_older_streamlit(monkeypatch) -> None:
    import streamlit as st
    from mesh_page.presentation import column_config

    formats = {"ROI": ("percent", "%.4f"), "SPEND_USD": "%.2f"}
    now = column_config(["ROI", "SPEND_USD", "CHANNEL"], formats)
    assert now["ROI"]["type_config"]["format"] == "percent" and now["CHANNEL"] == "Channel"
    monkeypatch.setattr(st, "__version__", "1.35.0")  # printf formats only (docs.streamlit.io/1.35.0)
    old = column_config(["ROI", "SPEND_USD"], formats)
    assert old["ROI"]["type_config"]["format"] == "%.4f" and old["ROI"]["label"] == "ROI"
    assert old["SPEND_USD"]["label"] == "Spend (USD)" and old["SPEND_USD"]["type_config"]["format"] == "%.2f"


def _elements(app: AppTest, kind: str) -> list:
    """Elements AppTest has no accessor for (charts), by their proto type."""
    return [e for e in app.main if getattr(e, "type", None) == kind]


def _hue_family(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, _lightness, sat = colorsys.rgb_to_hls(r, g, b)
    if sat < 0.15:
        return "grey"
    deg = h * 360
    bounds = ((15, "red"), (45, "orange"), (70, "yellow"), (170, "green"), (200, "teal"), (260, "blue"), (345, "purple"))
    return next((name for top, name in bounds if deg < top), "red")


def test_roi_chart_gives_each_channel_its_own_hue(app: AppTest, mesh_run) -> None:
    chart = json.loads(_elements(app, "vega_lite_chart")[0].proto.spec)
    scale = chart["encoding"]["color"]["scale"]
    channels = sorted(_rows(mesh_run, f"SELECT DISTINCT CHANNEL FROM {queries.ROI_VIEW}")["CHANNEL"])
    assert scale["domain"] == channels
    families = [_hue_family(c) for c in scale["range"]]
    assert len(set(families)) == len(families) == len(channels), dict(zip(channels, families))
    # Streamlit's default categorical colours put two blues and two reds side by side: the check can fail.
    assert len({_hue_family(c) for c in ("#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d")}) < 5


def test_roi_for_a_date_range_is_the_pandas_aggregation_of_the_product(app: AppTest, mesh_run) -> None:
    rows = _rows(mesh_run, "SELECT CAMPAIGN_ID, PERIOD_DATE, REVENUE_USD, SPEND_USD FROM FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1")
    first, last = rows["PERIOD_DATE"].min(), rows["PERIOD_DATE"].max()
    start, end = first + timedelta(days=3), last - timedelta(days=4)
    assert start < end
    at = app.date_input(key="roi_period").set_value((start, end)).run()
    assert not at.exception and not at.error

    got = at.session_state["roi"].set_index("CAMPAIGN_ID")
    pd.testing.assert_frame_equal(at.dataframe[0].value.set_index("CAMPAIGN_ID"), got, check_dtype=False)

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
    # A channel keeps its colour whatever the period: the colour order is every channel of the product.
    channels = sorted(_rows(mesh_run, f"SELECT DISTINCT CHANNEL FROM {queries.ROI_VIEW}")["CHANNEL"])
    assert list(at.session_state["roi_palette"]) == channels


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


TOOLTIP = re.compile(r'tooltip="([^" ]+) \(')
CLUSTER = re.compile(r'subgraph cluster_\d+ \{\n\s+label=<<B>([^<]+)</B>[^\n]*?; color="(#[0-9a-f]{6})"')


def _dot_nodes(dot: str) -> set[str]:
    return set(TOOLTIP.findall(dot))


def test_lineage_names_every_product_in_its_domains_colour(app: AppTest, mesh_run) -> None:
    from snowmesh.lineage import build_lineage

    dot = app.session_state["lineage_dot"]
    assert dot.lstrip().startswith("digraph")
    assert _dot_nodes(dot) == set(build_lineage(mesh_run.mesh).nodes)  # every node, by its full name
    for d in mesh_run.mesh.domains:
        # Short labels: a node's own name over what it is; the database and bucket once, on the cluster.
        cluster_label = re.search(rf"label=<<B>{d.name}</B>[^\n]*", dot).group(0)
        assert d.database in cluster_label and (not d.sources or f"s3://{d.bucket}/" in cluster_label), cluster_label
        for p in d.products:
            assert f"<B>{p.view}</B>" in dot
    assert dot.count(">published view</FONT>") == len(mesh_run.mesh.products)
    assert not app.info or all("steps deep" not in i.value for i in app.info)  # the fixture mesh reads whole
    clusters = dict(CLUSTER.findall(dot))
    assert sorted(clusters) == sorted(d.name for d in mesh_run.mesh.domains)
    assert len(set(clusters.values())) == len(clusters)  # one colour per domain
    for block in dot.split("subgraph ")[1:]:
        name, colour = CLUSTER.search("subgraph " + block).groups()
        node_colours = set(re.findall(r'\[label=.*? color="(#[0-9a-f]{6})"', block))
        assert node_colours == {colour}, name  # every node drawn in its domain's colour
    assert _elements(app, "graphviz_chart")


def test_domain_colours_follow_the_domain_list_not_the_names() -> None:
    g = lineage_view.PageGraph()
    for domain in ("ALPHA", "BETA"):
        g.add(lineage_view.PageNode(f"{domain}_DB.RAW.T", lineage_view.RAW_TABLE, domain))
    first, swapped = lineage_view.to_dot(g, ["ALPHA", "BETA"]), lineage_view.to_dot(g, ["BETA", "ALPHA"])
    assert dict(CLUSTER.findall(first))["ALPHA"] == dict(CLUSTER.findall(swapped))["BETA"]


def test_ranks_is_the_longest_path() -> None:
    g = lineage_view.PageGraph()
    for name in "abcde":
        g.add(lineage_view.PageNode(name, lineage_view.PRODUCT, "ALPHA"))
    for s, d in (("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")):
        g.link(s, d)
    assert lineage_view.ranks(g) == 4  # a -> b -> c -> d; e stands alone
    g.link("d", "a")  # a cycle (never built) still ends
    assert lineage_view.ranks(g) >= 4


def test_lineage_focus_shows_one_domain_and_its_neighbours(app: AppTest, mesh_run) -> None:
    from snowmesh.lineage import build_lineage

    lineage = build_lineage(mesh_run.mesh)
    try:
        for d in mesh_run.mesh.domains:
            at = app.selectbox(key="lineage_focus").select(d.name).run()
            assert not at.exception
            mine = {i for i, n in lineage.nodes.items() if n.domain == d.name}
            near = {e.src for e in lineage.edges if e.dst in mine} | {e.dst for e in lineage.edges if e.src in mine}
            assert _dot_nodes(at.session_state["lineage_dot"]) == mine | near, d.name
    finally:
        app.selectbox(key="lineage_focus").select("the whole mesh").run()


def test_fallback_lineage_is_the_packages_graph(mesh_run) -> None:
    """In Snowflake the page draws from the manifests alone: the same nodes and edges as snowmesh.lineage."""
    from snowmesh.lineage import build_lineage

    manifests = [d.manifest for d in mesh_facts.load_domains(ROOT / "domains")]
    fallback, package = lineage_view.from_manifests(manifests), lineage_view.from_lineage(build_lineage(mesh_run.mesh))
    assert set(fallback.nodes.values()) == set(package.nodes.values())
    assert set(fallback.edges) == set(package.edges)
    for d in mesh_run.mesh.domains:
        for src in d.sources:
            assert (f"s3://{d.bucket}/{src.prefix}/", f"{d.database}.RAW.{src.name}") in fallback.edges


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
