"""The rendered deploy plan: real Snowflake SQL, one quoting function, what the manifests imply.

Guards: every statement fits Snowflake's grammar (tests/sql_grammar.py), consumer grants follow declarations only."""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path

import pytest
import sqlglot
from sql_grammar import check_all
from sqlglot import exp

from snowmesh.deploy import render
from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.procedure_rights import publish_sent
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.manifest import load_mesh

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "meshes"


@pytest.fixture(scope="module")
def plan(root):
    return build_plan(load_mesh(root), local=False)


def test_every_statement_fits_a_snowflake_grammar(root, plan) -> None:
    """Not only "sqlglot returns something": a statement sqlglot keeps as an opaque Command must fit
    the grammar of its Snowflake reference page (tests/sql_grammar.py), else the test fails."""
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # Command fallbacks are decided by sql_grammar
    mesh = load_mesh(root)
    local = build_plan(mesh, local=True)
    from governance.publish import publish_statements
    from snowmesh.catalog import registry_entry_of

    today = date.today()
    # What every PUBLISH sends (real account), and the local walker's variant of the same code.
    publish = [*publish_sent(mesh, today), *(Statement(Kind.VIEW, p.key, sql) for p in mesh.products
               for sql in publish_statements(registry_entry_of(mesh, p, today), local=True, today=today))]
    fitted = check_all([*plan.all, *local.all, *publish])
    # Every kind the renderer emits is covered, by a sqlglot tree or a grammar of its own.
    assert {"grant privileges", "grant role", "grant database role", "create role", "create database role",
            "create resource monitor", "alter warehouse set monitor", "alter schema managed access",
            "create masking policy", "alter masking policy body", "alter tag masking policy",
            "alter view column tag", "sqlglot:Create"} <= set(fitted), fitted
    for stmt in plan.all:
        tree = sqlglot.parse_one(stmt.sql, read="snowflake")
        if stmt.kind in (Kind.DATABASE, Kind.SCHEMA, Kind.TABLE, Kind.VIEW, Kind.WAREHOUSE):
            # Kinds sqlglot models fully must parse as real syntax trees, not an opaque Command
            # (ALTER TABLE ... ADD COLUMN IF NOT EXISTS upgrades a table an older deploy made).
            assert isinstance(tree, (exp.Create, exp.Alter)), stmt.sql
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
        # A role name inside IS_ROLE_IN_SESSION('...') is a string, spelled as stored (no quotes).
        sql = re.sub(r"IS_ROLE_IN_SESSION\('[A-Z_][A-Z0-9_]*'\)", "IS_ROLE_IN_SESSION(?)", stmt.sql)
        for name in ("MARKETING_DB", "FINANCE_DB", "MARKETING_WH", "FINANCE_ENGINEER"):
            assert not re.search(rf"(?<![\"\w]){name}(?![\"\w])", sql), stmt.sql


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
    # Finance's consumer role in Marketing's database (another producer's CONSUMER_FINANCE is its own).
    consumer_grants = [s.sql for s in plan.all if '"MARKETING_DB"."CONSUMER_FINANCE"' in s.sql and s.sql.startswith("GRANT ")]
    selects = [g for g in consumer_grants if g.startswith("GRANT SELECT")]
    assert sorted(selects) == sorted([
        'GRANT SELECT ON VIEW "MARKETING_DB"."PRODUCTS"."AD_CLICKS_V1" TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"',
        'GRANT SELECT ON VIEW "MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE_V1" TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"',
        # Its stream's source: the publication log's view triggers Finance's graph (pipeline/triggers.py).
        'GRANT SELECT ON VIEW "MARKETING_DB"."PRODUCTS"."PUBLICATIONS" TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"',
    ])
    for g in consumer_grants:
        assert '"RAW"' not in g and '"STAGING"' not in g and " TABLE" not in g, g


def test_undeclared_consumers_get_no_grant() -> None:
    """A producer product nobody declared as input, and a domain that reads nothing: no grant for
    either (fixture tests/fixtures/meshes/three_domains: SHOP.BASKETS has no consumer, STOCK reads nothing)."""
    mesh = load_mesh(FIXTURES / "three_domains")
    for p in (build_plan(mesh, local=False), build_plan(mesh, local=True)):
        selects = sorted({g.sql for g in [*p.all, *p.publish_grants] if g.sql.startswith("GRANT SELECT ON VIEW")})
        # Expected from the manifests' consumers lists, read independently of the plan.
        assert selects == [('GRANT SELECT ON VIEW "SHOP_DB"."PRODUCTS"."ORDERS_DAILY_V1" '
                            'TO DATABASE ROLE "SHOP_DB"."CONSUMER_LEDGER"'),
                           ('GRANT SELECT ON VIEW "SHOP_DB"."PRODUCTS"."PUBLICATIONS" '
                            'TO DATABASE ROLE "SHOP_DB"."CONSUMER_LEDGER"')]
        sql = "\n".join(s.sql for s in [*p.all, *p.publish_grants])
        assert "BASKETS_V1" not in sql and "LEVELS_V1" not in sql
        assert "CONSUMER_STOCK" not in sql and '"STOCK_DB"."CONSUMER_' not in sql


def test_local_plan_swaps_the_external_stage_for_an_internal_one(root, plan) -> None:
    local = build_plan(load_mesh(root), local=True)
    stages = [s for s in local.all if s.object_name.endswith(".RAW.LANDING") and s.kind != Kind.GRANT]
    # Per domain: the external stage (recorded) and the internal one (executed).
    assert [s.locally_executable for s in stages] == [False, True] * len(load_mesh(root).domains)
    assert all("URL = 's3://" in s.sql for s in stages if not s.locally_executable)
    # A real account's external stage and integration are Terraform's (docs/terraform.md).
    assert not [s for s in plan.all if s.sql.startswith(("CREATE STAGE", "CREATE STORAGE INTEGRATION"))]


def test_write_role_may_use_the_landing_stage(root, plan) -> None:
    """INGEST (owner's rights, the engineer's: W) LISTs and COPYs from RAW.LANDING: USAGE to W, nobody else."""
    mesh = load_mesh(root)
    for p in (plan, build_plan(mesh, local=True)):  # locally the same grant, recorded
        stage = [s for s in p.all if s.kind == Kind.GRANT and " ON STAGE " in s.sql and '"LANDING"' in s.sql]
        assert [s.sql for s in stage] == [
            f'GRANT USAGE ON STAGE "{d.database}"."RAW"."LANDING" TO DATABASE ROLE "{d.database}"."W"'
            for d in mesh.domains]
        assert all(not s.locally_executable for s in stage)
        # After the stage exists (locally: the internal one).
        for d, g in zip(mesh.domains, stage, strict=True):
            creates = [i for i, s in enumerate(p.all) if s.sql.startswith(f'CREATE STAGE IF NOT EXISTS "{d.database}"."RAW"."LANDING"')]
            assert all(i < p.all.index(g) for i in creates)


def test_governance_grants_only_what_the_pipelines_read_to_engineers(root, plan) -> None:
    """GOVERNANCE_DB: one database role, held by every engineer (the role INGEST and PUBLISH run as):
    it reads the source registry (INGEST), the product registry and the audit (PUBLISH's fail-closed
    check) and applies the three column tags (PUBLISH); no write privilege anywhere, no analyst."""
    mesh = load_mesh(root)
    gov = [s.sql for s in plan.all if '"GOVERNANCE_DB"' in s.sql and "SOURCES_READER" in s.sql]
    reader = 'DATABASE ROLE "GOVERNANCE_DB"."SOURCES_READER"'
    assert sorted(gov) == sorted([
        f'CREATE {reader.replace("DATABASE ROLE", "DATABASE ROLE IF NOT EXISTS")}',
        f'GRANT USAGE ON DATABASE "GOVERNANCE_DB" TO {reader}',
        *(f'GRANT USAGE ON SCHEMA "GOVERNANCE_DB"."{s}" TO {reader}' for s in ("CATALOG", "AUDIT")),
        *(f'GRANT SELECT ON TABLE "GOVERNANCE_DB".{t} TO {reader}'
          for t in ('"CATALOG"."SOURCES"', '"CATALOG"."DATA_PRODUCTS"', '"AUDIT"."VALIDATION_RESULTS"')),
        *(f'GRANT APPLY ON TAG "GOVERNANCE_DB"."CATALOG"."{t}" TO {reader}'
          for t in ("CLASSIFICATION", "DATA_DOMAIN", "UNMASK_FOR")),
        *(f'GRANT {reader} TO ROLE "{d.engineer_role}"' for d in mesh.domains),
    ])
    sql = [s.sql for s in plan.all]
    for grant in (q for q in gov if q.startswith(("GRANT SELECT ON TABLE", "GRANT APPLY ON TAG"))):
        name = grant.split(" ON ", 1)[1].split(" ", 2)[1]
        made = next(i for i, q in enumerate(sql) if q.startswith("CREATE ") and name in q.split(" (")[0])
        assert made < sql.index(grant)  # a grant on an object needs the object
    # The governance role owns GOVERNANCE_DB's objects and creates them (docs/security.md, "Owners and senders").
    grants = [q for q in sql if q.startswith("GRANT ") and '"GOVERNANCE_DB"' in q and 'TO ROLE "MESH_GOVERNANCE"' not in q]
    assert not [q for q in grants if re.match(r"GRANT (INSERT|UPDATE|DELETE|TRUNCATE|CREATE)", q)]
    assert not [q for q in grants if "_ANALYST" in q and " ON PROCEDURE " not in q and " ON SCHEMA " not in q
                and " ON DATABASE " not in q]


class _Session:
    """A Snowpark Session stand-in that records the SQL a shared in-warehouse function runs."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def sql(self, text: str) -> _Session:
        self.statements.append(text)
        return self

    def collect(self) -> list:
        return []


def test_the_source_registry_is_the_table_ingest_fills(plan) -> None:
    """The plan's CREATE TABLE and register_sources' are one table: IF NOT EXISTS keeps the grant on it."""
    from governance.ingest import register_sources

    session = _Session()
    register_sources(session, "MARKETING", "MARKETING_DB", [])
    created = next(q for q in session.statements if q.startswith("CREATE TABLE"))
    rendered = next(s.sql for s in plan.all if s.object_name == "GOVERNANCE_DB.CATALOG.SOURCES" and s.kind == Kind.TABLE)
    assert rendered.split(" COMMENT = ")[0] == created
    assert not [q for q in session.statements if "REPLACE" in q or q.startswith("DROP")]


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
