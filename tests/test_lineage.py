"""mesh lineage and mesh impact: the graph equals what the manifests imply; column impact is real lineage.

Guards: the product graph and column-level impact (downstream products, columns, roles)."""

from __future__ import annotations

import re

import pytest
import sqlglot

from snowmesh.errors import InputError
from snowmesh.impact import access_history_sql, analyse, derived_columns
from snowmesh.lineage import build_lineage
from snowmesh.manifest import load_mesh


@pytest.fixture(scope="module")
def mesh(root):
    return load_mesh(root)


def expected_edges(mesh) -> set[tuple[str, str]]:
    """Independently from the manifests: source -> raw, raw/upstream view -> product view."""
    edges = set()
    for d in mesh.domains:
        for s in d.sources:
            edges.add((f"s3://{d.bucket}/{s.prefix}/", f"{d.database}.RAW.{s.name}"))
        for p in d.products:
            view = f"{d.database}.PRODUCTS.{p.view}"
            for i in p.inputs:
                if i.is_raw:
                    edges.add((f"{d.database}.RAW.{i.name}", view))
                else:
                    up = mesh.domain(i.namespace)
                    edges.add((f"{up.database}.PRODUCTS.{up.product(i.name).view}", view))
    return edges


def test_edges_equal_the_manifests(mesh) -> None:
    g = build_lineage(mesh)
    assert g.edge_set() == expected_edges(mesh)
    assert not g.warnings  # handler INPUTS agree with the manifests
    assert ("MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1", "FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1") in g.edge_set()
    assert "FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1" in g.downstream("s3://mesh-marketing-landing/ad_spend/")


def test_mermaid_is_well_formed(mesh) -> None:
    g = build_lineage(mesh)
    lines = g.to_mermaid().splitlines()
    assert lines[0] == "flowchart LR"
    declared = {}
    for line in lines[1:]:
        m = re.fullmatch(r"    (\w+)(\[/\"|\[\(\"|\(\[\")([^\"]+)(\"/\]|\"\)\]|\"\]\))", line)
        if m:
            declared[m.group(1)] = m.group(3)
    assert set(declared.values()) == set(g.nodes)
    arrows = [re.fullmatch(r"  (\w+) --> (\w+)", line) for line in lines if "-->" in line]
    assert all(arrows)
    assert {(declared[a.group(1)], declared[a.group(2)]) for a in arrows} == expected_edges(mesh)
    assert sum(line.strip().startswith("subgraph") for line in lines) == sum(line.strip() == "end" for line in lines)


def test_dot_is_well_formed(mesh) -> None:
    g = build_lineage(mesh)
    dot = g.to_dot()
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    labels = dict(re.findall(r"^\s+(\w+) \[label=\"([^\"]+)\", shape=\w+, fillcolor=\d\];$", dot, re.MULTILINE))
    assert set(labels.values()) == set(g.nodes)
    edges = re.findall(r"^  (\w+) -> (\w+);$", dot, re.MULTILINE)
    assert {(labels[a], labels[b]) for a, b in edges} == expected_edges(mesh)


@pytest.mark.parametrize("which", ["repo", "four_domains"])
def test_dot_gives_each_domain_one_colour_in_manifest_order(mesh, root, which) -> None:
    g = build_lineage(mesh if which == "repo" else load_mesh(root / "tests" / "fixtures" / "meshes" / which))
    colour_of: dict[str, str] = {}
    for cluster in re.findall(r"subgraph cluster_\d+ \{(.*?)\n  \}", g.to_dot(), re.DOTALL):
        domain, frame = re.search(r'label="([^"]+)"; colorscheme=dark28; color=(\d);', cluster).groups()
        fills = set(re.findall(r"fillcolor=(\d)\]", cluster))
        assert fills == {frame}, f"{domain}: nodes filled {fills}, frame {frame}"
        colour_of[domain] = frame
    order = list(dict.fromkeys(n.domain for n in g.nodes.values()))
    assert len(order) >= 2
    assert list(colour_of) == order and [colour_of[d] for d in order] == [str(i % 8 + 1) for i in range(len(order))]


def test_derived_columns_follows_values_not_filters() -> None:
    schema = {"DB": {"PRODUCTS": {"V": {"A": "INT", "B": "INT", "K": "INT"}}}}
    sql = 'SELECT "A" + 1 AS "X", "B" AS "Y" FROM (SELECT * FROM DB.PRODUCTS.V) WHERE "K" > 0'
    assert derived_columns(sql, schema, ("DB", "PRODUCTS", "V"), {"A"}) == {"X": ["A"]}
    assert derived_columns(sql, schema, ("DB", "PRODUCTS", "V"), {"K"}) == {}


def test_spend_usd_reaches_roi_and_roas_not_orders(mesh_run) -> None:
    result = analyse(mesh_run.mesh, "MARKETING.CAMPAIGN_PERFORMANCE", "spend_usd", mesh_run.target.session)
    assert result.analysed
    [roi] = result.affected
    assert roi.product == "FINANCE.CAMPAIGN_ROI"
    assert set(roi.columns) == {"SPEND_USD", "ROI", "ROAS"}
    assert "ORDERS" not in roi.columns
    roles = [r for r, _ in result.roles]
    assert roles[:3] == ["MARKETING_DB.CONSUMER_FINANCE", "FINANCE_ENGINEER", "FINANCE_ANALYST"]
    # and the same three for every other consumer the manifest declares, in its order
    consumers = mesh_run.mesh.product("MARKETING.CAMPAIGN_PERFORMANCE").consumers
    assert roles == [r for c in consumers for r in (f"MARKETING_DB.CONSUMER_{c}", f"{c}_ENGINEER", f"{c}_ANALYST")]


def test_ctr_affects_no_downstream_column(mesh_run) -> None:
    result = analyse(mesh_run.mesh, "MARKETING.CAMPAIGN_PERFORMANCE", "CTR", mesh_run.target.session)
    assert result.affected == []
    assert any("none of its columns derives from CTR" in n for n in result.notes)
    # Consumers can still SELECT the column from the view itself.
    assert "FINANCE_ANALYST" in [r for r, _ in result.roles]


def test_offline_says_every_column_may_be_affected(mesh) -> None:
    result = analyse(mesh, "MARKETING.CAMPAIGN_PERFORMANCE", "CTR", None)
    assert not result.analysed
    # Every product reading it, as the manifests declare, may be affected in every column.
    readers = sorted(p.key for p in mesh.products if any(str(i) == "MARKETING.CAMPAIGN_PERFORMANCE" for i in p.inputs))
    assert sorted(a.product for a in result.affected) == readers and "FINANCE.CAMPAIGN_ROI" in readers
    assert [a.columns for a in result.affected] == [None] * len(readers)
    assert any("may derive from CTR" in n for n in result.notes)


def test_product_level_impact_and_bad_input(mesh) -> None:
    result = analyse(mesh, "AD_CLICKS", None, None)
    assert [a.product for a in result.affected] == ["FINANCE.CAMPAIGN_ROI"]
    assert analyse(mesh, "FINANCE.CAMPAIGN_ROI", None, None).affected == []
    with pytest.raises(InputError):
        analyse(mesh, "MARKETING.NOPE", None, None)
    with pytest.raises(InputError):
        analyse(mesh, "MARKETING.CAMPAIGN_PERFORMANCE", "NOPE", None)


def test_access_history_query_parses_and_quotes() -> None:
    sql = access_history_sql(("MARKETING_DB", "PRODUCTS", "CAMPAIGN_PERFORMANCE_V1"), "SPEND_USD", 30)
    tree = sqlglot.parse_one(sql, dialect="snowflake")
    assert "'MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1'" in sql and "'SPEND_USD'" in sql
    assert "DIRECT_OBJECTS_ACCESSED" in sql and "BASE_OBJECTS_ACCESSED" in sql
    assert tree.find(sqlglot.exp.Select) is not None


def test_local_account_says_access_history_does_not_exist(mesh_run) -> None:
    from snowmesh.impact import enrich_with_access_history

    result = analyse(mesh_run.mesh, "MARKETING.AD_CLICKS", None, None)
    enrich_with_access_history(result, mesh_run.mesh, mesh_run.target.sql, True, 30)
    assert "does not exist on the local account" in result.access_history


def test_standard_edition_is_reported_plainly(mesh) -> None:
    from snowmesh.impact import enrich_with_access_history

    def query(sql: str) -> list[tuple]:
        raise RuntimeError("SQL compilation error: Object 'SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY' "
                           "does not exist or not authorized.")

    result = analyse(mesh, "MARKETING.AD_CLICKS", None, None)
    enrich_with_access_history(result, mesh, query, False, 30)
    assert result.access_history.startswith("ACCESS_HISTORY is unavailable (Standard Edition")
