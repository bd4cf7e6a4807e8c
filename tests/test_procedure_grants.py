"""USAGE grants on procedures: rendered from snowflake.yml's source, parsed, and proven.

Analysts CALL the analyst procedures of their domain (and of producers they consume, where the
procedure reads only views they may read); every analyst CALLs PRODUCT_HEALTH; nobody is granted
a pipeline procedure. Each test would fail if a grant went missing or an extra one appeared.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

from snowmesh.access import audit_plan
from snowmesh.access.grants import GrantSyntaxError, parse_grant, plan_graph
from snowmesh.access.graph import PrivilegeGrant, Role, Securable
from snowmesh.access.procs import read_declarations
from snowmesh.access.showgrants import callable_key, grant_row
from snowmesh.access.verify import Context, check_procedure_usage, object_inventory
from snowmesh.deploy import render as r
from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.procedure_rights import procedure_grants
from snowmesh.deploy.project_file import procedure_specs
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
MESHES = Path(__file__).resolve().parent / "fixtures" / "meshes"
MESH = load_mesh(ROOT)
PIPELINE = ("BUILD_", "INGEST", "VALIDATE_PRODUCT", "PUBLISH_PRODUCT", "RECORD_DAG_RUN")

ROI = 'GRANT USAGE ON PROCEDURE "FINANCE_DB"."PRODUCTS"."ROI_BY_CAMPAIGN"(VARCHAR, VARCHAR) TO ROLE "{}"'
SUMMARY = 'GRANT USAGE ON PROCEDURE "MARKETING_DB"."PRODUCTS"."CAMPAIGN_SUMMARY"(VARCHAR) TO ROLE "{}"'
HEALTH = 'GRANT USAGE ON PROCEDURE "GOVERNANCE_DB"."CATALOG"."PRODUCT_HEALTH"() TO ROLE "{}"'
# CAMPAIGN_SUMMARY reads CAMPAIGN_PERFORMANCE_V1 with the caller's rights: Marketing's analysts and
# those of every consumer the manifest declares for that product (Finance, and any domain added).
SUMMARY_CALLERS = ("MARKETING", *MESH.product("MARKETING.CAMPAIGN_PERFORMANCE").consumers)
GOV_DB = 'GRANT USAGE ON DATABASE "GOVERNANCE_DB" TO ROLE "{}"'
GOV_SCHEMA = 'GRANT USAGE ON SCHEMA "GOVERNANCE_DB"."CATALOG" TO ROLE "{}"'


@pytest.fixture(scope="module")
def plan() -> list[Statement]:
    return build_plan(MESH, local=False).all


def _audit(plan: list[Statement], *extra: Statement, drop: str = "", terraform_dir: Path | None = None):
    return audit_plan(MESH, statements=[s for s in plan if not (drop and s.sql == drop)] + list(extra),
                      terraform_dir=terraform_dir)


def _violations(report, check: str = "procedure-usage") -> list[str]:
    return [v.message for v in report.check(check).violations]


def _grant(sql: str) -> Statement:
    return Statement(Kind.GRANT, "X", sql)


# --- what is rendered -------------------------------------------------------------------


def test_exactly_the_declared_procedure_grants_are_rendered(plan) -> None:
    # Grants to account roles only: GOVERNANCE_DB.SOURCES_READER (INGEST's read of the source
    # registry, for engineers) is tests/test_plan.py's.
    # Ownership is not a grant to call (tests/test_security_model.py checks the owners), and the
    # governance role's CREATE privileges in GOVERNANCE_DB are its owner's, not a caller's.
    rendered = {s.sql for s in plan if not s.sql.startswith("GRANT OWNERSHIP") and 'TO ROLE "MESH_GOVERNANCE"' not in s.sql
                and (" ON PROCEDURE " in s.sql
                     or '"GOVERNANCE_DB"' in s.sql and s.sql.startswith("GRANT") and "SOURCES_READER" not in s.sql)}
    assert rendered == {
        ROI.format("FINANCE_ANALYST"),
        *(SUMMARY.format(f"{d}_ANALYST") for d in SUMMARY_CALLERS),  # Finance (and others) consume the view it reads
        # PRODUCT_HEALTH (and the governance database's USAGE) go to every domain's analysts
        *(g.format(d.analyst_role) for d in MESH.domains for g in (HEALTH, GOV_DB, GOV_SCHEMA)),
    }  # fmt: skip


def test_signatures_are_snowflake_ymls(plan) -> None:
    """One source: every granted overload is an entity of the generated snowflake.yml, types and all."""
    entities = yaml.safe_load((ROOT / "snowflake.yml").read_text())["entities"].values()
    shipped = {
        '"{database}"."{schema}"."{name}"'.format(**e["identifier"]) + "(" + ", ".join(a["type"] for a in e["signature"]) + ")"
        for e in entities if e["type"] == "procedure"
    }
    granted = [s.sql.split(" ON PROCEDURE ")[1].split(" TO ")[0] for s in plan if " ON PROCEDURE " in s.sql]
    assert granted and set(granted) <= shipped


def test_no_pipeline_procedure_is_granted(plan) -> None:
    pipeline = [s for s in procedure_specs(MESH) if s.name.startswith(PIPELINE)]
    per_domain = [s for s in pipeline if s.domain is not None]
    assert {s.name for s in per_domain} == {*(f"BUILD_{p.name}" for p in MESH.products), "INGEST"}
    assert len(per_domain) == len(MESH.products) + len(MESH.domains)  # a BUILD per product, an INGEST per domain
    assert all(not s.callers for s in pipeline)
    for s in plan:  # OWNERSHIP goes to each one's owner (its domain's engineer): not a grant to CALL
        assert s.sql.startswith("GRANT OWNERSHIP ON PROCEDURE ") or not any(f'"{p.name}"(' in s.sql for p in pipeline), s.sql


def test_rights_follow_snowflake_yml() -> None:
    rights = {s.name: s.execute_as_caller for s in procedure_specs(MESH) if s.callers}
    assert rights == {"ROI_BY_CAMPAIGN": True, "CAMPAIGN_SUMMARY": True, "PRODUCT_HEALTH": False}


def test_grants_come_last_and_are_recorded_not_run_locally() -> None:
    local = build_plan(MESH, local=True)
    grants = procedure_grants(MESH)
    assert local.statements[-len(grants):] == grants  # after everything: the procedures must exist first
    assert all(s.kind == Kind.GRANT and not s.locally_executable for s in grants)  # apply() records them


def test_procedure_grants_parse_with_sqlglot_and_round_trip() -> None:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    for s in procedure_grants(MESH):
        tree = sqlglot.parse_one(s.sql, read="snowflake")
        assert isinstance(tree, exp.Grant), s.sql
        assert tree.sql("snowflake") == s.sql
        if " ON PROCEDURE " in s.sql:
            assert tree.args["kind"] == "PROCEDURE"


def test_a_mesh_without_finance_and_marketing_grants_product_health_only() -> None:
    mesh = load_mesh(MESHES / "base")
    sql = [s.sql for s in procedure_grants(mesh)]
    assert [x for x in sql if " ON PROCEDURE " in x] == [
        HEALTH.format(d.analyst_role) for d in mesh.domains]


def test_renderer_needs_the_signature_exactly_for_procedures() -> None:
    with pytest.raises(ValueError, match="argument types"):
        r.grant_on(["USAGE"], "PROCEDURE", ["A", "B", "P"], "X")
    with pytest.raises(ValueError, match="argument types"):
        r.grant_on(["USAGE"], "SCHEMA", ["A", "B"], "X", arg_types=())
    with pytest.raises(ValueError, match="unsupported column type"):
        r.grant_on(["USAGE"], "PROCEDURE", ["A", "B", "P"], "X", arg_types=["VARCHAR) TO ROLE Y; --"])
    with pytest.raises(ValueError, match="DATABASE.SCHEMA.NAME"):
        r.grant_on(["USAGE"], "PROCEDURE", ["A", "P"], "X", arg_types=[])


# --- the verifier ---------------------------------------------------------------------------


def test_the_verifier_parses_them_round_trip(plan) -> None:
    assert parse_grant(ROI.format("FINANCE_ANALYST")) == [PrivilegeGrant(
        "USAGE", Securable("PROCEDURE", ("FINANCE_DB", "PRODUCTS", "ROI_BY_CAMPAIGN(VARCHAR, VARCHAR)")),
        Role("FINANCE_ANALYST"))]
    g = plan_graph(plan)
    on_procs = {(str(x.on), x.to.name) for x in g.privilege_grants if x.on.type == "PROCEDURE" and x.privilege == "USAGE"}
    # ROI, CAMPAIGN_SUMMARY per caller, PRODUCT_HEALTH per domain
    assert len(on_procs) == 1 + len(SUMMARY_CALLERS) + len(MESH.domains)
    assert "FINANCE" in SUMMARY_CALLERS
    owned = {str(x.on) for x in g.privilege_grants if x.on.type == "PROCEDURE" and x.privilege == "OWNERSHIP"}
    assert owned == {s.overload for s in procedure_specs(MESH)}  # each shipped overload has one owner


@pytest.mark.parametrize("sql", [
    'GRANT USAGE ON PROCEDURE "A"."B"."P" TO ROLE "X"',  # no signature
    'GRANT USAGE ON PROCEDURE "A"."B"."P"(VARCHAR,VARCHAR) TO ROLE "X"',  # not the renderer's spacing
    'GRANT USAGE ON PROCEDURE "A"."B"."P"(TEXT) TO ROLE "X"',  # a type the renderer never emits
    'GRANT USAGE ON PROCEDURE "A"."B"."P"(VARCHAR TO ROLE "X"',
    'GRANT USAGE ON PROCEDURE "B"."P"(VARCHAR) TO ROLE "X"',  # 2-part name
    'GRANT USAGE ON PROCEDURE A.B.P(VARCHAR) TO ROLE "X"',  # unquoted
    'GRANT USAGE ON PROCEDURE "A"."B"."P"(VARCHAR) TO ROLE "X" WITH GRANT OPTION',
    'GRANT OWNERSHIP ON PROCEDURE "A"."B"."P"() TO ROLE "X" COPY CURRENT GRANTS',  # not the renderer's form
])
def test_the_parser_refuses_other_procedure_grants(sql) -> None:
    with pytest.raises(GrantSyntaxError):
        parse_grant(sql)


def test_real_mesh_proves_who_can_call_what() -> None:
    report = audit_plan(MESH)
    assert report.ok, [v.to_dict() for v in report.violations]
    proven = report.check("procedure-usage").proven
    assert ("FINANCE_ANALYST can CALL MARKETING_DB.PRODUCTS.CAMPAIGN_SUMMARY(VARCHAR) (caller's rights): "
            "FINANCE_ANALYST -> USAGE on MARKETING_DB.PRODUCTS.CAMPAIGN_SUMMARY(VARCHAR)") in proven
    assert "MARKETING_DB.RAW.INGEST(): pipeline procedure, USAGE granted to no role" in proven
    # ROI_BY_CAMPAIGN once, CAMPAIGN_SUMMARY per caller, PRODUCT_HEALTH per domain
    assert sum(" can CALL " in p for p in proven) == 1 + len(SUMMARY_CALLERS) + len(MESH.domains)


def test_a_missing_grant_is_caught(plan) -> None:
    report = _audit(plan, drop=SUMMARY.format("FINANCE_ANALYST"))
    assert _violations(report) == [
        ("FINANCE analysts are declared callers of MARKETING_DB.PRODUCTS.CAMPAIGN_SUMMARY(VARCHAR), but "
        "FINANCE_ANALYST cannot CALL it: no USAGE on MARKETING_DB.PRODUCTS.CAMPAIGN_SUMMARY(VARCHAR)")]


def test_a_missing_governance_schema_usage_is_caught(plan) -> None:
    report = _audit(plan, drop=GOV_SCHEMA.format("MARKETING_ANALYST"))
    assert _violations(report) == [
        ("MARKETING analysts are declared callers of GOVERNANCE_DB.CATALOG.PRODUCT_HEALTH(), but MARKETING_ANALYST "
        "cannot CALL it: no USAGE on GOVERNANCE_DB.CATALOG")]


def test_a_caller_who_cannot_read_the_input_view_is_caught(plan) -> None:
    select = ('GRANT SELECT ON VIEW "MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE_V1" '
              'TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"')
    report = _audit(plan, drop=select, terraform_dir=ROOT / "no-terraform")  # Terraform grants it too
    assert ("FINANCE analysts are declared callers of MARKETING_DB.PRODUCTS.CAMPAIGN_SUMMARY(VARCHAR), but "
            "FINANCE_ANALYST cannot CALL it: no SELECT on MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1"
            ) in _violations(report)


def test_a_pipeline_procedure_granted_to_an_analyst_is_caught(plan) -> None:
    extra = _grant(r.grant_on(["USAGE"], "PROCEDURE", ["MARKETING_DB", "STAGING", "BUILD_AD_CLICKS"],
                              "MARKETING_ANALYST", arg_types=[]).sql)
    report = _audit(plan, extra)
    assert [(v.message, v.path) for v in report.check("procedure-usage").violations] == [(
        ("MARKETING's role MARKETING_ANALYST can CALL the pipeline procedure MARKETING_DB.STAGING.BUILD_AD_CLICKS(): "
        "only its task graph runs it"),
        "MARKETING_ANALYST -> USAGE on MARKETING_DB.STAGING.BUILD_AD_CLICKS()")]


def test_a_pipeline_procedure_reached_through_a_database_role_is_caught(plan) -> None:
    extra = _grant(r.grant_on(["USAGE"], "PROCEDURE", ["FINANCE_DB", "RAW", "INGEST"], "R",
                              database_role_of="FINANCE_DB", arg_types=[]).sql)
    paths = [v.path for v in _audit(plan, extra).check("procedure-usage").violations]
    # Analysts hold the product reader, not R (defect 5): the grant reaches engineers only.
    assert not [p for p in paths if p.startswith("FINANCE_ANALYST")]
    assert "FINANCE_ENGINEER -> FINANCE_DB.W -> FINANCE_DB.R -> USAGE on FINANCE_DB.RAW.INGEST()" in paths
    assert "FINANCE_DB.R -> USAGE on FINANCE_DB.RAW.INGEST()" in paths


def test_an_undeclared_caller_is_caught_by_both_proofs(plan) -> None:
    report = _audit(plan, _grant(ROI.format("MARKETING_ANALYST")))
    assert _violations(report) == [
        ("MARKETING's role MARKETING_ANALYST can CALL FINANCE_DB.PRODUCTS.ROI_BY_CAMPAIGN(VARCHAR, VARCHAR), but only "
        "FINANCE_ANALYST may")]
    assert any("MARKETING reaches FINANCE_DB.PRODUCTS.ROI_BY_CAMPAIGN(VARCHAR, VARCHAR) of FINANCE" in m
               for m in _violations(report, "consumer-surface"))


def test_a_grant_on_an_overload_that_is_not_shipped_is_caught(plan) -> None:
    extra = _grant(r.grant_on(["USAGE"], "PROCEDURE", ["FINANCE_DB", "PRODUCTS", "ROI_BY_CAMPAIGN"],
                              "FINANCE_ANALYST", arg_types=["VARCHAR"]).sql)
    assert _violations(_audit(plan, extra)) == [
        ("FINANCE_ANALYST holds USAGE on FINANCE_DB.PRODUCTS.ROI_BY_CAMPAIGN(VARCHAR), a procedure snowflake.yml "
        "does not ship")]


def _context(plan, **changes):
    procs = read_declarations(MESH)
    specs = [dataclasses.replace(s, **changes.get(s.name, {})) for s in procedure_specs(MESH)]
    return Context(MESH, plan_graph(plan), procs, object_inventory(MESH, plan, procs), specs)


def test_a_future_grant_on_procedures_is_caught(plan) -> None:
    """USAGE on future procedures to R (what Terraform's domain module once granted) covers the pipeline's."""
    ctx = _context(plan)
    ctx.graph.add(PrivilegeGrant("USAGE", Securable("PROCEDURE", ("MARKETING_DB", "RAW"), "FUTURE"),
                                 Role("R", "MARKETING_DB"), "terraform"))
    messages = [v.message for v in check_procedure_usage(ctx).violations]
    assert ("MARKETING's role MARKETING_ENGINEER can CALL the pipeline procedure MARKETING_DB.RAW.INGEST(): only its "
            "task graph runs it") in messages


def test_owners_rights_on_a_procedure_that_reads_views_is_caught(plan) -> None:
    ctx = _context(plan, ROI_BY_CAMPAIGN={"execute_as_caller": False})
    assert [v.message for v in check_procedure_usage(ctx).violations] == [
        ("FINANCE_DB.PRODUCTS.ROI_BY_CAMPAIGN(VARCHAR, VARCHAR) runs with the owner's rights but reads "
        "FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1: its callers would read through the owner's grants")]


# --- a real account's SHOW GRANTS ----------------------------------------------------------


@pytest.mark.parametrize("name", [
    'FINANCE_DB.PRODUCTS."ROI_BY_CAMPAIGN(START_DATE VARCHAR, END_DATE VARCHAR):TABLE (CAMPAIGN_ID VARCHAR, ROI NUMBER(18,6))"',
    'FINANCE_DB.PRODUCTS."ROI_BY_CAMPAIGN(VARCHAR(16777216), VARCHAR):TABLE ()"',
    "FINANCE_DB.PRODUCTS.ROI_BY_CAMPAIGN(VARCHAR, VARCHAR)",
])
def test_show_grants_procedure_rows_match_the_rendered_grant(name) -> None:
    row = {"privilege": "USAGE", "granted_on": "PROCEDURE", "name": name, "granted_to": "ROLE",
           "grantee_name": "FINANCE_ANALYST"}
    rendered = parse_grant(ROI.format("FINANCE_ANALYST"))[0]
    assert grant_row(row) == dataclasses.replace(rendered, source="account")  # so account drift compares them
    assert callable_key("P(X NUMBER(12, 2)):VARCHAR") == "P(NUMBER(12,2))"
