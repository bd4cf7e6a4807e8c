"""The rendered deploy plan: real Snowflake SQL, one quoting function, what the manifests imply."""

from __future__ import annotations

import logging
import re

import pytest
import sqlglot
from sqlglot import exp

from snowmesh.deploy import render
from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.statements import Kind
from snowmesh.manifest import load_mesh


@pytest.fixture(scope="module")
def plan(root):
    return build_plan(load_mesh(root), local=False)


def test_every_statement_parses_with_sqlglot_snowflake(plan) -> None:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # Command fallbacks are expected for GRANT etc.
    for stmt in plan.all:
        tree = sqlglot.parse_one(stmt.sql, read="snowflake")  # raises ParseError on bad SQL
        assert tree is not None, stmt.sql
        if stmt.kind in (Kind.DATABASE, Kind.SCHEMA, Kind.TABLE, Kind.VIEW, Kind.WAREHOUSE):
            # Kinds sqlglot models fully must parse as real syntax trees, not an opaque Command.
            assert isinstance(tree, exp.Create), stmt.sql
        if " ON PROCEDURE " in stmt.sql:
            # USAGE on one overload: sqlglot models it (kind PROCEDURE) and prints it back unchanged.
            assert isinstance(tree, exp.Grant) and tree.sql("snowflake") == stmt.sql, stmt.sql


def test_statements_are_idempotent_forms(plan) -> None:
    for stmt in plan.all:
        sql = stmt.sql
        assert (
            " IF NOT EXISTS " in sql
            or sql.startswith(("CREATE OR REPLACE", "GRANT ", "ALTER "))
        ), sql


def test_identifiers_are_quoted(plan) -> None:
    for stmt in plan.all:
        for name in ("MARKETING_DB", "FINANCE_DB", "MARKETING_WH", "FINANCE_ENGINEER"):
            assert not re.search(rf"(?<![\"\w]){name}(?![\"\w])", stmt.sql), stmt.sql


def test_warehouses_and_monitors_follow_the_manifests(root, plan) -> None:
    mesh = load_mesh(root)
    sql = "\n".join(s.sql for s in plan.all)
    for d in mesh.domains:
        wh = d.warehouse
        assert (f"CREATE WAREHOUSE IF NOT EXISTS \"{wh.name}\" WITH WAREHOUSE_SIZE = '{wh.size}' "
                f"AUTO_SUSPEND = {wh.auto_suspend_seconds}") in sql
        assert f"CREATE RESOURCE MONITOR IF NOT EXISTS \"{wh.monitor}\" WITH CREDIT_QUOTA = {wh.monthly_credit_quota}" in sql
        assert f'ALTER WAREHOUSE "{wh.name}" SET RESOURCE_MONITOR = "{wh.monitor}"' in sql


def test_consumers_get_select_on_published_views_only(plan) -> None:
    consumer_grants = [s.sql for s in plan.all if '"CONSUMER_FINANCE"' in s.sql and s.sql.startswith("GRANT ")]
    selects = [g for g in consumer_grants if g.startswith("GRANT SELECT")]
    assert sorted(selects) == sorted([
        'GRANT SELECT ON VIEW "MARKETING_DB"."PRODUCTS"."AD_CLICKS_V1" TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"',
        'GRANT SELECT ON VIEW "MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE_V1" TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"',
    ])
    for g in consumer_grants:
        assert '"RAW"' not in g and '"STAGING"' not in g and " TABLE" not in g, g


def test_local_plan_swaps_the_external_stage_for_an_internal_one(root) -> None:
    local = build_plan(load_mesh(root), local=True)
    stages = [s for s in local.all if s.object_name.endswith(".RAW.LANDING")]
    assert [s.locally_executable for s in stages] == [False, True, False, True]
    assert all("URL = 's3://" in s.sql for s in stages if not s.locally_executable)


def test_renderers_refuse_hostile_names() -> None:
    from governance.sql import IdentifierError

    with pytest.raises(IdentifierError):
        render.database('X"; DROP DATABASE Y; --')
    with pytest.raises(IdentifierError):
        render.grant_role("MARKETING ENGINEER", "SYSADMIN")
    with pytest.raises(ValueError):
        render.warehouse("WH", "XSMALL; DROP", 60)
    with pytest.raises(ValueError):
        render.check_type("VARCHAR); DROP TABLE X; --")
