"""`mesh audit access`: the privilege graph and its four proofs, offline (no server, no account).

The real mesh passes; deliberately broken meshes -- grants injected into the rendered plan,
fixture manifests (tests/fixtures/meshes/), an edited copy of the Terraform, hand-built graphs
and fixture SHOW GRANTS rows -- are each caught with a message that names the cause.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import pytest
import yaml

from snowmesh.access import audit_account, audit_plan
from snowmesh.access.grants import GrantSyntaxError, parse_grant, plan_graph
from snowmesh.access.graph import Graph, PrivilegeGrant, Role, RoleGrant, Securable
from snowmesh.access.procs import read_declarations
from snowmesh.access.showgrants import account_drift, grant_row, holder_row, split_name, target_query
from snowmesh.access.terraform import TerraformError, consumer_grants_graph, governance_graph
from snowmesh.access.verify import Context, check_procedures, object_inventory
from snowmesh.cli.main import run_app
from snowmesh.deploy import render as r
from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.errors import ConnectionConfigError, InputError
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
MESHES = Path(__file__).resolve().parent / "fixtures" / "meshes"


@pytest.fixture(scope="module")
def mesh():
    return load_mesh(ROOT)


@pytest.fixture(scope="module")
def plan(mesh):
    return build_plan(mesh, local=False).all


def _audit(mesh, plan, *extra: Statement, drop: Callable[[Statement], bool] = lambda s: False,
           terraform_dir: Path | None = None):
    return audit_plan(mesh, statements=[s for s in plan if not drop(s)] + list(extra), terraform_dir=terraform_dir)


def _messages(report, check: str) -> list[str]:
    return [v.message for v in report.check(check).violations]


def _paths(report, check: str) -> list[str]:
    return [v.path for v in report.check(check).violations]


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = run_app(["audit", "access", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


# --- the real mesh ---------------------------------------------------------------------


def test_real_mesh_passes_every_check(mesh):
    report = audit_plan(mesh)
    assert report.ok, [v.to_dict() for v in report.violations]
    assert [c.id for c in report.checks] == [
        "graph", "isolation", "consumer-surface", "procedures", "consumers", "procedure-usage", "governance",
        "policies", "senders", "readers", "lineage", "terraform-drift"]
    assert not any(c.skipped for c in report.checks)  # Terraform was read and compared too


def test_campaign_roi_reads_marketing_only_through_the_consumer_role(mesh):
    proven = audit_plan(mesh).check("procedures").proven
    assert ("FINANCE.CAMPAIGN_ROI reads MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1: FINANCE_ENGINEER -> "
            "MARKETING_DB.CONSUMER_FINANCE -> SELECT on MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1") in proven
    assert any(p.startswith("FINANCE.CAMPAIGN_ROI writes FINANCE_DB.STAGING.CAMPAIGN_ROI: ") for p in proven)


def test_cli_clean_mesh_exits_0_text_and_json(capsys):
    rc, out, _ = _cli(capsys, "--project", str(ROOT))
    assert rc == 0 and "clean: every check holds" in out
    rc, out, _ = _cli(capsys, "--project", str(ROOT), "--format", "json")
    doc = json.loads(out)
    assert rc == 0 and doc["ok"] and doc["violations"] == 0 and len(doc["checks"]) == 12


def test_clean_fixture_mesh_with_other_names_passes(capsys):
    rc, out, _ = _cli(capsys, "--project", str(MESHES / "base"), "--verbose")
    assert rc == 0, out
    assert "LEDGER.REVENUE reads SHOP_DB.PRODUCTS.ORDERS_DAILY_V1: LEDGER_ENGINEER -> SHOP_DB.CONSUMER_LEDGER" in out
    assert "skipped: no Terraform directory" in out


# --- the strict grant parser -----------------------------------------------------------


def test_every_rendered_access_statement_parses(plan):
    g = plan_graph(plan)
    grants = [s for s in plan if s.kind == Kind.GRANT]
    # per domain 3 account + 4 database roles (R, W, C, PRODUCT_READER), one consumer role per
    # (producer, consumer) pair, the governance database role and the governance role
    mesh = load_mesh(ROOT)
    pairs = {(p.domain, c) for p in mesh.products for c in p.consumers}
    assert len(grants) > 50 and len(g.roles) == 8 * len(mesh.domains) + len(pairs) + 2  # R W C PRODUCT_READER VALIDATOR + 3 account roles
    assert parse_grant(r.grant_on(["USAGE"], "STAGE", ["MARKETING_DB", "RAW", "LANDING"], "W",
                                  database_role_of="MARKETING_DB").sql) == [
        PrivilegeGrant("USAGE", Securable("STAGE", ("MARKETING_DB", "RAW", "LANDING")), Role("W", "MARKETING_DB"))]
    assert parse_grant(r.grant_on_all(["INSERT", "UPDATE"], "TABLES", "MARKETING_DB", "RAW", "W", future=True).sql) == [
        PrivilegeGrant("INSERT", Securable("TABLE", ("MARKETING_DB", "RAW"), "FUTURE"), Role("W", "MARKETING_DB")),
        PrivilegeGrant("UPDATE", Securable("TABLE", ("MARKETING_DB", "RAW"), "FUTURE"), Role("W", "MARKETING_DB")),
    ]
    assert parse_grant(r.grant_database_role("MARKETING_DB", "R", to_db_role="W").sql) == [
        RoleGrant(Role("R", "MARKETING_DB"), Role("W", "MARKETING_DB"))]


@pytest.mark.parametrize("sql", [
    'grant select on view "A"."PRODUCTS"."V_V1" to role "X"',  # lower case
    'GRANT SELECT ON VIEW "A"."PRODUCTS"."V_V1" TO ROLE "X"; DROP DATABASE "A"',
    'GRANT SELECT ON VIEW "A"."PRODUCTS"."V_V1" TO ROLE X',  # unquoted
    'GRANT SELECT ON VIEW "A"."PRODUCTS"."V_V1"  TO ROLE "X"',  # not the renderer's spacing
    'GRANT SELECT ON VIEW "A"."PRODUCTS"."V_V1" TO ROLE "X" WITH GRANT OPTION',
    'GRANT DROP ON VIEW "A"."PRODUCTS"."V_V1" TO ROLE "X"',  # a privilege the renderer never emits
    'GRANT SELECT ON VIEW "A"."PRODUCTS" TO ROLE "X"',  # 2-part view name
    'GRANT USAGE ON STAGE "A"."LANDING" TO DATABASE ROLE "A"."W"',  # 2-part stage name
    'GRANT USAGE ON STAGE "A"."RAW"."LANDING"  TO DATABASE ROLE "A"."W"',  # not the renderer's spacing
    'GRANT READ ON STAGE "A"."RAW"."LANDING" TO DATABASE ROLE "A"."W" WITH GRANT OPTION',
    'GRANT SELECT ON VIEW "A"."PRODUCTS"."MY VIEW" TO ROLE "X"',
    'GRANT SELECT ON VIEW "A"."PRODUCTS"."SELECT" TO ROLE "X"',  # reserved word
    'GRANT SELECT ON VIEW "A"."PRODUCTS"."V_V1\n" TO ROLE "X"',  # trailing newline
    'GRANT SELECT ON ALL TABLES IN SCHEMA "A"."RAW" TO ROLE "X"',  # ALL goes to database roles only
    'GRANT ROLE "X" TO DATABASE ROLE "A"."R"',
    'REVOKE SELECT ON VIEW "A"."PRODUCTS"."V_V1" FROM ROLE "X"',
    'GRANT OWNERSHIP ON SCHEMA "A"."RAW" TO ROLE "X"',
])
def test_parser_rejects_anything_the_renderer_does_not_emit(sql):
    with pytest.raises(GrantSyntaxError) as exc:
        parse_grant(sql)
    assert exc.value.exit_code == 2 and "cannot verify" in exc.value.message


def test_a_grant_filed_under_another_kind_is_refused(mesh, plan):
    smuggled = Statement(Kind.TABLE, "X", 'GRANT SELECT ON VIEW "A"."PRODUCTS"."V_V1" TO ROLE "X"')
    with pytest.raises(GrantSyntaxError, match="a table statement changes privileges"):
        _audit(mesh, plan, smuggled)


# --- (a) write across domains ------------------------------------------------------------


def test_finance_granted_write_on_marketing_is_caught_with_its_path(mesh, plan):
    report = _audit(mesh, plan, r.grant_database_role("MARKETING_DB", "W", to_role="FINANCE_ENGINEER"))
    assert not report.ok
    assert "FINANCE role FINANCE_ENGINEER holds INSERT on MARKETING's database" in _messages(report, "isolation")
    assert "FINANCE_ENGINEER -> MARKETING_DB.W -> INSERT on MARKETING_DB.RAW.* (all tables)" in _paths(
        report, "isolation")
    # The same grant also breaks the consumer surface (W includes R: RAW, STAGING, tables).
    assert any("reaches the RAW schema of MARKETING" in m for m in _messages(report, "consumer-surface"))


def test_future_write_through_the_consumer_role_is_caught(mesh, plan):
    leak = r.grant_on_all(["INSERT"], "TABLES", "MARKETING_DB", "RAW", "CONSUMER_FINANCE", future=True)
    report = _audit(mesh, plan, leak)
    assert "FINANCE_ENGINEER -> MARKETING_DB.CONSUMER_FINANCE -> INSERT on MARKETING_DB.RAW.* (future tables)" in (
        _paths(report, "isolation"))
    assert "FINANCE_ANALYST -> MARKETING_DB.CONSUMER_FINANCE -> INSERT on MARKETING_DB.RAW.* (future tables)" in (
        _paths(report, "isolation"))


def test_create_privilege_and_foreign_warehouse_are_caught(mesh, plan):
    report = _audit(
        mesh, plan,
        r.grant_on(["CREATE TABLE"], "SCHEMA", ["FINANCE_DB", "STAGING"], "MARKETING_ENGINEER"),
        r.grant_on(["USAGE"], "WAREHOUSE", ["MARKETING_WH"], "FINANCE_ANALYST"),
    )
    paths = _paths(report, "isolation")
    assert "MARKETING_ENGINEER -> CREATE TABLE on FINANCE_DB.STAGING" in paths
    assert "FINANCE_ANALYST -> USAGE on MARKETING_WH" in paths
    assert any("bill to MARKETING" in m for m in _messages(report, "isolation"))


# --- (b) a consumer reaching beyond published views --------------------------------------


def test_consumer_granted_the_raw_schema_is_caught(mesh, plan):
    report = _audit(
        mesh, plan,
        r.grant_on(["USAGE"], "SCHEMA", ["MARKETING_DB", "RAW"], "CONSUMER_FINANCE", database_role_of="MARKETING_DB"),
        r.grant_on_all(["SELECT"], "TABLES", "MARKETING_DB", "RAW", "CONSUMER_FINANCE", future=False),
    )
    messages = _messages(report, "consumer-surface")
    assert "FINANCE reaches the RAW schema of MARKETING: only published secure views are allowed" in messages
    assert "FINANCE_ENGINEER -> MARKETING_DB.CONSUMER_FINANCE -> USAGE on MARKETING_DB.RAW" in _paths(
        report, "consumer-surface")
    assert "FINANCE_ANALYST -> MARKETING_DB.CONSUMER_FINANCE -> SELECT on MARKETING_DB.RAW.* (all tables)" in (
        _paths(report, "consumer-surface"))


def test_consumer_granted_a_table_or_an_unpublished_view_is_caught(mesh, plan):
    report = _audit(
        mesh, plan,
        r.grant_on(["SELECT"], "TABLE", ["MARKETING_DB", "PRODUCTS", "CAMPAIGN_PERFORMANCE"], "CONSUMER_FINANCE",
                   database_role_of="MARKETING_DB"),
        r.grant_on(["SELECT"], "VIEW", ["MARKETING_DB", "PRODUCTS", "INTERNAL_V1"], "FINANCE_ANALYST"),
    )
    messages = _messages(report, "consumer-surface")
    assert "FINANCE reaches a table of MARKETING: only published secure views are allowed" in messages
    assert any("MARKETING_DB.PRODUCTS.INTERNAL_V1" in m for m in messages)


# --- (c) a product with no contract ------------------------------------------------------


def test_product_without_contract_file_is_rejected_naming_file_and_field(capsys):
    with pytest.raises(InputError) as exc:
        load_mesh(MESHES / "no_contract")
    assert exc.value.message == (
        "domains/shop/domain.yml: products[0].contract: contracts/shop/orders_daily/v1.json does not exist")
    rc, out, err = _cli(capsys, "--project", str(MESHES / "no_contract"))
    assert rc == 2 and "products[0].contract" in err and out == ""


def test_product_without_contract_field_is_rejected(tmp_path):
    project = _copy(MESHES / "base", tmp_path)
    _edit(project, "shop", "products.0.contract", None)
    with pytest.raises(InputError, match=r"domains/shop/domain.yml: products\[0\]: 'contract' is a required property"):
        load_mesh(project)


# --- (d) a procedure whose input its role cannot read ------------------------------------


def test_reading_a_product_without_being_its_consumer_is_rejected_by_the_loader():
    with pytest.raises(InputError) as exc:
        load_mesh(MESHES / "undeclared_consumer")
    assert exc.value.message.startswith(
        "domains/ledger/domain.yml: products[0].inputs[1]: LEDGER reads SHOP.ORDERS_DAILY but is not a declared consumer")


def test_handler_reading_an_ungranted_view_fails_proof_3_through_the_cli(capsys):
    rc, out, _ = _cli(capsys, "--project", str(MESHES / "undeclared_read"))
    assert rc == 1
    assert ("LEDGER.REVENUE (procedures/ledger/revenue.py) runs as LEDGER_ENGINEER and cannot read "
            "SHOP_DB.PRODUCTS.ORDERS_DAILY_V1: no USAGE on SHOP_DB, USAGE on SHOP_DB.PRODUCTS, SELECT on "
            "SHOP_DB.PRODUCTS.ORDERS_DAILY_V1") in out
    assert "which domains/ledger/domain.yml: products[0].inputs does not declare" in out


def test_missing_view_grant_fails_procedures_and_consumers(mesh, plan, tmp_path):
    def drop(s: Statement) -> bool:
        return s.sql.endswith('"AD_CLICKS_V1" TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"')

    # Without Terraform (which still grants the view), nothing else gives FINANCE the SELECT.
    report = _audit(mesh, plan, drop=drop, terraform_dir=tmp_path / "no-terraform")
    assert any(m.startswith("FINANCE.CAMPAIGN_ROI (procedures/finance/campaign_roi.py) runs as FINANCE_ENGINEER "
                            "and cannot read MARKETING_DB.PRODUCTS.AD_CLICKS_V1: no SELECT on") for m in
               _messages(report, "procedures"))
    assert ("FINANCE is a declared consumer of MARKETING.AD_CLICKS, but FINANCE_ANALYST cannot read "
            "MARKETING_DB.PRODUCTS.AD_CLICKS_V1: no SELECT on MARKETING_DB.PRODUCTS.AD_CLICKS_V1") in (
        _messages(report, "consumers"))
    # With Terraform, the account would still hold the grant: the proofs pass and the layers drift.
    report = _audit(mesh, plan, drop=drop)
    assert report.check("procedures").ok and report.check("consumers").ok
    assert _messages(report, "terraform-drift") == [
        ("GRANT SELECT on MARKETING_DB.PRODUCTS.AD_CLICKS_V1 to MARKETING_DB.CONSUMER_FINANCE: in Terraform, not "
         "declared in the rendered SQL")]


def test_hand_built_graph_without_select_fails_proof_3(mesh, plan):
    """The graph, built directly: FINANCE_ENGINEER may enter MARKETING_DB.PRODUCTS but select nothing."""
    g = plan_graph([s for s in plan if "CONSUMER_FINANCE" not in s.sql])
    consumer = Role("CONSUMER_FINANCE", "MARKETING_DB")
    g.extend([
        consumer, RoleGrant(consumer, Role("FINANCE_ENGINEER")),
        PrivilegeGrant("USAGE", Securable("DATABASE", ("MARKETING_DB",)), consumer),
        PrivilegeGrant("USAGE", Securable("SCHEMA", ("MARKETING_DB", "PRODUCTS")), consumer),
    ])
    procs = read_declarations(mesh)
    result = check_procedures(Context(mesh, g, procs, object_inventory(mesh, plan, procs)))
    failing = {v.message.split(" cannot read ")[1].split(":")[0] for v in result.violations}
    assert failing == {"MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1", "MARKETING_DB.PRODUCTS.AD_CLICKS_V1"}
    assert all("FINANCE_ENGINEER -> MARKETING_DB.CONSUMER_FINANCE -> USAGE on MARKETING_DB" in v.path
               for v in result.violations)


# --- INGEST and the governance database (proofs 3 and 6) -----------------------------------

STAGE_GRANT = 'GRANT USAGE ON STAGE "MARKETING_DB"."RAW"."LANDING" TO DATABASE ROLE "MARKETING_DB"."W"'
SOURCES_GRANT = ('GRANT SELECT ON TABLE "GOVERNANCE_DB"."CATALOG"."SOURCES" TO DATABASE ROLE '
                 '"GOVERNANCE_DB"."SOURCES_READER"')


def _grants(*sql: str) -> list[Statement]:
    return [Statement(Kind.DATABASE_ROLE if q.startswith("CREATE") else Kind.GRANT, "X", q) for q in sql]


def test_ingest_is_proven_through_the_stage_and_the_source_registry(mesh):
    proven = audit_plan(mesh).check("procedures").proven
    assert ("MARKETING INGEST LISTs and COPYs from MARKETING_DB.RAW.LANDING: MARKETING_ENGINEER -> MARKETING_DB.W -> "
            "USAGE on MARKETING_DB.RAW.LANDING") in proven
    assert ("FINANCE INGEST reads its sources from GOVERNANCE_DB.CATALOG.SOURCES: FINANCE_ENGINEER -> "
            "GOVERNANCE_DB.SOURCES_READER -> SELECT on GOVERNANCE_DB.CATALOG.SOURCES") in proven
    governance = audit_plan(mesh).check("governance").proven
    engineers = ", ".join(sorted(d.engineer_role for d in mesh.domains))
    assert f"GOVERNANCE_DB.CATALOG.SOURCES is read by {engineers}" in governance


def test_ingest_without_the_stage_grant_fails_proof_3(mesh, plan):
    report = _audit(mesh, plan, drop=lambda s: s.sql == STAGE_GRANT)
    assert _messages(report, "procedures") == [
        ("MARKETING_DB.RAW.INGEST runs as MARKETING_ENGINEER but lacks USAGE on MARKETING_DB.RAW.LANDING (INGEST would "
        "fail with insufficient privileges)")]


def test_ingest_without_the_source_registry_grant_fails_proof_3_or_drifts(mesh, plan, tmp_path):
    report = _audit(mesh, plan, drop=lambda s: s.sql == SOURCES_GRANT, terraform_dir=tmp_path / "no-terraform")
    assert len(_messages(report, "procedures")) == len(mesh.domains)  # every domain's INGEST
    assert all("lacks SELECT on GOVERNANCE_DB.CATALOG.SOURCES" in m for m in _messages(report, "procedures"))
    # Terraform still grants it: the account would hold it, so the proofs pass and the layers drift.
    report = _audit(mesh, plan, drop=lambda s: s.sql == SOURCES_GRANT)
    assert report.check("procedures").ok and report.check("governance").ok
    assert _messages(report, "terraform-drift") == [
        ("GRANT SELECT on GOVERNANCE_DB.CATALOG.SOURCES to GOVERNANCE_DB.SOURCES_READER: in Terraform, not declared "
        "in the rendered SQL")]


def test_engineer_writing_the_audit_fails_proof_6_with_its_path(mesh, plan):
    # What Terraform's AUDIT_WRITER used to hold: the audit is written by owner's-rights procedures only.
    report = _audit(mesh, plan, *_grants(
        'CREATE DATABASE ROLE IF NOT EXISTS "GOVERNANCE_DB"."AUDIT_WRITER"',
        'GRANT INSERT, SELECT ON FUTURE TABLES IN SCHEMA "GOVERNANCE_DB"."AUDIT" TO DATABASE ROLE '
        '"GOVERNANCE_DB"."AUDIT_WRITER"',
        'GRANT DATABASE ROLE "GOVERNANCE_DB"."AUDIT_WRITER" TO ROLE "MARKETING_ENGINEER"'))
    violations = [(v.message, v.path) for v in report.check("governance").violations]
    assert (("MARKETING's role MARKETING_ENGINEER holds INSERT on GOVERNANCE_DB.AUDIT.* (future tables): only the "
            "owner's-rights procedures and the deploy write the governance database"),
            "MARKETING_ENGINEER -> GOVERNANCE_DB.AUDIT_WRITER -> INSERT on GOVERNANCE_DB.AUDIT.* (future tables)"
            ) in violations
    assert any(m.startswith("MARKETING's role MARKETING_ENGINEER holds SELECT on GOVERNANCE_DB.AUDIT.* (future "
                            "tables): in GOVERNANCE_DB a domain role reads only") for m, _ in violations)
    assert any(m.startswith("database role GOVERNANCE_DB.AUDIT_WRITER: in the rendered SQL, missing from Terraform")
               for m in _messages(report, "terraform-drift"))


def test_analysts_reading_the_catalog_fail_proof_6(mesh, plan):
    # What Terraform's CATALOG_READER used to give every analyst, and the registry reader given to one.
    report = _audit(mesh, plan, *_grants(
        'CREATE DATABASE ROLE IF NOT EXISTS "GOVERNANCE_DB"."CATALOG_READER"',
        'GRANT SELECT ON FUTURE TABLES IN SCHEMA "GOVERNANCE_DB"."CATALOG" TO DATABASE ROLE '
        '"GOVERNANCE_DB"."CATALOG_READER"',
        'GRANT DATABASE ROLE "GOVERNANCE_DB"."CATALOG_READER" TO ROLE "FINANCE_ANALYST"',
        'GRANT DATABASE ROLE "GOVERNANCE_DB"."SOURCES_READER" TO ROLE "MARKETING_ANALYST"'))
    messages = _messages(report, "governance")
    assert any(m.startswith("FINANCE's role FINANCE_ANALYST holds SELECT on GOVERNANCE_DB.CATALOG.* (future tables): "
                            "in GOVERNANCE_DB a domain role reads only GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS, "
                            "GOVERNANCE_DB.CATALOG.DATA_PRODUCTS, GOVERNANCE_DB.CATALOG.SOURCES") for m in messages)
    assert ("MARKETING's role MARKETING_ANALYST holds SELECT on GOVERNANCE_DB.CATALOG.SOURCES: only the engineers, "
            "whose INGEST and PUBLISH read it, read GOVERNANCE_DB.CATALOG.SOURCES") in messages
    assert report.check("procedures").ok  # the rest of the model still holds


def test_governance_schema_without_managed_access_fails_the_graph_check(mesh, plan):
    report = _audit(mesh, plan, drop=lambda s: s.sql == 'ALTER SCHEMA "GOVERNANCE_DB"."AUDIT" ENABLE MANAGED ACCESS')
    assert _messages(report, "graph") == [
        "schema GOVERNANCE_DB.AUDIT is not managed access: object owners could grant around this graph"]


# --- (e) hostile identifiers never reach SQL or HCL --------------------------------------

CORPUS = yaml.safe_load((MESHES / "hostile" / "corpus.yml").read_text())


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "project"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", ".terraform*", "*.tfstate*"))
    return dst


def _edit(project: Path, domain: str, field: str, value: Any) -> None:
    path = project / "domains" / domain / "domain.yml"
    data = yaml.safe_load(path.read_text())
    *parents, last = [int(p) if p.isdigit() else p for p in field.split(".")]
    node = data
    for p in parents:
        node = node[p]
    if value is None:
        del node[last]
    else:
        node[last] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _field_path(field: str) -> str:
    return "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in field.split(".")).lstrip(".")


@pytest.mark.parametrize("case", [
    pytest.param(c, id=repr(c["value"]), marks=[pytest.mark.xfail(reason=c["gap"])] if "gap" in c else [])
    for c in CORPUS
])
def test_hostile_identifier_is_rejected_before_any_sql_or_hcl(case, tmp_path, capsys, monkeypatch):
    project = _copy(MESHES / "base", tmp_path)
    _edit(project, case["domain"], case["field"], case["value"])

    def never(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("rendered SQL or read HCL from a hostile manifest")

    for name in ("build_plan", "plan_graph", "consumer_grants_graph"):
        monkeypatch.setattr(f"snowmesh.access.audit.{name}", never)
    rc, out, err = _cli(capsys, "--project", str(project))
    assert rc == 2, out + err
    assert f"domains/{case['domain']}/domain.yml: {_field_path(case['field'])}" in err
    assert "Traceback" not in out + err and out == ""


def test_hostile_manifest_through_the_console_script_has_no_traceback(tmp_path):
    project = _copy(MESHES / "base", tmp_path)
    _edit(project, "shop", "database", 'SHOP_DB"; DROP DATABASE "SHOP_DB')
    proc = subprocess.run(
        [sys.executable, "-c", "from snowmesh.cli.main import entry; entry()", "audit", "access", "-p", str(project)],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "domains/shop/domain.yml: database:" in proc.stderr and "Traceback" not in proc.stderr


# --- Terraform -----------------------------------------------------------------------------


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A writable copy of the real project: manifests, contracts, handlers, Terraform."""
    for sub in ("domains", "contracts", "procedures", "terraform"):
        shutil.copytree(ROOT / sub, tmp_path / sub,
                        ignore=shutil.ignore_patterns("__pycache__", ".terraform*", "*.tfstate*"))
    return tmp_path


def _tfvars(project: Path, change: Callable[[dict], None]) -> None:
    path = project / "terraform" / "domains.auto.tfvars.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def test_terraform_consumer_grants_are_read_from_the_hcl():
    g = consumer_grants_graph(ROOT / "terraform")
    consumer = Role("CONSUMER_FINANCE", "MARKETING_DB")
    # One consumer role per (producer, consumer) pair the manifests declare, whatever the domains.
    mesh = load_mesh(ROOT)
    assert g.roles == {Role(f"CONSUMER_{c}", d.database) for d in mesh.domains for p in d.products for c in p.consumers}
    assert consumer in g.roles
    assert {x.key for x in g.role_grants if x.role == consumer} == {
        (consumer, Role("FINANCE_ENGINEER")), (consumer, Role("FINANCE_ANALYST"))}
    assert {str(x) for x in g.privilege_grants if x.to == consumer} == {
        "USAGE on MARKETING_DB to MARKETING_DB.CONSUMER_FINANCE",
        "USAGE on MARKETING_DB.PRODUCTS to MARKETING_DB.CONSUMER_FINANCE",
        "SELECT on MARKETING_DB.PRODUCTS.AD_CLICKS_V1 to MARKETING_DB.CONSUMER_FINANCE",
        "SELECT on MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1 to MARKETING_DB.CONSUMER_FINANCE",
        "SELECT on MARKETING_DB.PRODUCTS.PUBLICATIONS to MARKETING_DB.CONSUMER_FINANCE",  # its stream's source
    }
    assert {x.source for x in g.privilege_grants} == {"terraform"}


def test_terraform_missing_a_view_is_drift(project, capsys):
    _tfvars(project, lambda d: d["consumer_grants"]["MARKETING_DB.CONSUMER_FINANCE"].update(
        views=["CAMPAIGN_PERFORMANCE_V1", "PUBLICATIONS"]))
    report = audit_plan(load_mesh(project))
    assert _messages(report, "terraform-drift") == [
        ("GRANT SELECT on MARKETING_DB.PRODUCTS.AD_CLICKS_V1 to MARKETING_DB.CONSUMER_FINANCE: in the rendered SQL, "
         "missing from Terraform")]
    assert _cli(capsys, "--project", str(project))[0] == 1


def test_terraform_granting_an_undeclared_consumer_is_drift_and_breaks_proof_4(project):
    _tfvars(project, lambda d: d["consumer_grants"].update({"FINANCE_DB.CONSUMER_MARKETING": {
        "consumer": "MARKETING", "database_role": "CONSUMER_MARKETING", "producer": "FINANCE",
        "producer_database": "FINANCE_DB", "schema": "PRODUCTS", "views": ["CAMPAIGN_ROI_V1"]}}))
    report = audit_plan(load_mesh(project))
    drift = _messages(report, "terraform-drift")
    assert "database role FINANCE_DB.CONSUMER_MARKETING: in Terraform, not declared in the rendered SQL" in drift
    assert ("MARKETING's role MARKETING_ENGINEER can read FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1, but is not a declared "
            "consumer of FINANCE.CAMPAIGN_ROI") in _messages(report, "consumers")
    assert ("MARKETING_ENGINEER -> FINANCE_DB.CONSUMER_MARKETING -> SELECT on FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1 "
            "[terraform]") in _paths(report, "consumers")


@pytest.mark.parametrize(("view", "why"), [
    ('AD_CLICKS_V1"; DROP TABLE X; --', "is not an object name"),
    ("ad_clicks_v1", "is not a plain Snowflake identifier"),
    ("AD CLICKS_V1", "is not a plain Snowflake identifier"),
])
def test_hostile_name_in_tfvars_is_refused(project, capsys, view, why):
    _tfvars(project, lambda d: d["consumer_grants"]["MARKETING_DB.CONSUMER_FINANCE"].update(views=[view]))
    with pytest.raises(TerraformError, match=f"select_view: cannot evaluate: .*{why}"):
        consumer_grants_graph(project / "terraform")
    rc, _, err = _cli(capsys, "--project", str(project))
    assert rc == 2 and "Traceback" not in err


def test_terraform_governance_grants_are_read_from_the_hcl(mesh):
    g = governance_graph(ROOT / "terraform")
    names = [d.name for d in mesh.domains]
    reader = Role("SOURCES_READER", "GOVERNANCE_DB")
    governance = Role("MESH_GOVERNANCE")  # the owner role: tests/test_security_model.py checks its grants
    pypi = Role("PYPI_REPOSITORY_USER", "SNOWFLAKE")
    assert g.roles == {reader, governance}
    assert {x.key for x in g.role_grants if x.role == reader} == {(reader, Role(f"{d}_ENGINEER")) for d in names}
    assert {x.to for x in g.role_grants if x.role == pypi} == {
        governance, *(Role(f"{d}_{k}") for d in names for k in ("ENGINEER", "ANALYST"))}
    assert {str(x) for x in g.privilege_grants if x.to != governance} == {
        "USAGE on GOVERNANCE_DB to GOVERNANCE_DB.SOURCES_READER",
        *(f"USAGE on GOVERNANCE_DB.{s} to GOVERNANCE_DB.SOURCES_READER" for s in ("CATALOG", "AUDIT")),
        *(f"SELECT on GOVERNANCE_DB.{t} to GOVERNANCE_DB.SOURCES_READER"
          for t in ("CATALOG.SOURCES", "CATALOG.DATA_PRODUCTS", "AUDIT.VALIDATION_RESULTS")),
        *(f"APPLY on GOVERNANCE_DB.CATALOG.{t} to GOVERNANCE_DB.SOURCES_READER"
          for t in ("CLASSIFICATION", "DATA_DOMAIN", "UNMASK_FOR")),
    }


def test_terraform_granting_the_audit_is_drift_and_breaks_proof_6(project):
    path = project / "terraform" / "modules" / "snowflake_governance" / "main.tf"
    path.write_text(path.read_text() + """
resource "snowflake_grant_privileges_to_database_role" "audit_insert" {
  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  privileges         = ["INSERT"]
  on_schema_object {
    future {
      object_type_plural = "TABLES"
      in_schema          = snowflake_schema.this["AUDIT"].fully_qualified_name
    }
  }
}
""")
    report = audit_plan(load_mesh(project))
    assert _messages(report, "terraform-drift") == [
        ("GRANT INSERT on GOVERNANCE_DB.AUDIT.* (future tables) to GOVERNANCE_DB.SOURCES_READER: in Terraform, not "
        "declared in the rendered SQL")]
    assert ("FINANCE_ENGINEER -> GOVERNANCE_DB.SOURCES_READER -> INSERT on GOVERNANCE_DB.AUDIT.* (future tables) "
            "[terraform]") in _paths(report, "governance")


def test_unsupported_terraform_expression_is_refused(project):
    path = project / "terraform" / "modules" / "snowflake_consumer_grants" / "main.tf"
    path.write_text(path.read_text().replace('privileges         = ["SELECT"]',
                                             'privileges         = [for p in ["SELECT"] : upper(p)]'))
    with pytest.raises(TerraformError, match="snowflake_grant_privileges_to_database_role.select_view: cannot evaluate"):
        consumer_grants_graph(project / "terraform")


# --- a real account: SHOW GRANTS rows ------------------------------------------------------


def _row(privilege: str, on: str, name: str, to: str, grantee: str) -> dict[str, Any]:
    return {"created_on": "2026-01-01 00:00:00", "privilege": privilege, "granted_on": on, "name": name,
            "granted_to": to, "grantee_name": grantee, "grant_option": "false", "granted_by": "SYSADMIN"}


def test_show_grants_rows_become_edges():
    consumer = Role("CONSUMER_FINANCE", "MARKETING_DB")
    assert grant_row(_row("SELECT", "VIEW", "MARKETING_DB.PRODUCTS.AD_CLICKS_V1", "DATABASE_ROLE",
                          "MARKETING_DB.CONSUMER_FINANCE")) == PrivilegeGrant(
        "SELECT", Securable("VIEW", ("MARKETING_DB", "PRODUCTS", "AD_CLICKS_V1")), consumer, "account")
    # A database role named relative to the database being shown.
    assert grant_row(_row("USAGE", "DATABASE", "MARKETING_DB", "DATABASE_ROLE", "CONSUMER_FINANCE"),
                     context_db="MARKETING_DB").to == consumer
    assert grant_row(_row("USAGE", "DATABASE_ROLE", "MARKETING_DB.CONSUMER_FINANCE", "ROLE", "FINANCE_ENGINEER")) == (
        RoleGrant(consumer, Role("FINANCE_ENGINEER"), "account"))
    assert grant_row(_row("USAGE", "ROLE", "FINANCE_ENGINEER", "ROLE", "SYSADMIN")).key == (
        Role("FINANCE_ENGINEER"), Role("SYSADMIN"))
    assert grant_row(_row("USAGE", "ROLE", "FINANCE_ENGINEER", "USER", "ALICE")) is None
    future = {"created_on": "x", "privilege": "INSERT", "grant_on": "TABLE", "name": "MARKETING_DB.RAW.<TABLE>",
              "grant_to": "DATABASE_ROLE", "grantee_name": "MARKETING_DB.W", "grant_option": "false"}
    assert grant_row(future).on == Securable("TABLE", ("MARKETING_DB", "RAW"), "FUTURE")
    held = {"created_on": "x", "role": "MARKETING_DB.CONSUMER_FINANCE", "granted_to": "ROLE",
            "grantee_name": "FINANCE_ANALYST", "granted_by": "SYSADMIN"}
    assert holder_row(held, consumer) == RoleGrant(consumer, Role("FINANCE_ANALYST"), "account")
    assert split_name('DB.S."odd ""name"""') == ("DB", "S", 'odd "name"')
    assert split_name("DB.S.P(ARG VARCHAR):VARCHAR") == ("DB", "S", "P(ARG VARCHAR):VARCHAR")


class FakeAccount:
    """Answers the SHOW commands `collect` sends, from a graph, in Snowflake's row shapes."""

    def __init__(self, mesh, graph: Graph, objects: dict[tuple[str, ...], str]) -> None:
        self.mesh, self.g, self.objects, self.sent = mesh, graph, objects, []

    def _grants_to(self, role: Role, future: bool) -> list[dict[str, Any]]:
        to, grantee = ("DATABASE_ROLE", str(role)) if role.is_database_role else ("ROLE", role.name)
        rows = []
        for g in sorted(self.g.privilege_grants):
            if g.to != role or (g.on.scope == "FUTURE") != future:
                continue
            if future:
                rows.append({"privilege": g.privilege, "grant_on": g.on.type, "name": ".".join(g.on.name)
                             + f".<{g.on.type}>", "grant_to": to, "grantee_name": grantee, "grant_option": "false"})
            elif g.on.scope == "ALL":  # ALL expands to one row per existing object
                rows += [_row(g.privilege, t, ".".join(n), to, grantee) for n, t in sorted(self.objects.items())
                         if t == g.on.type and n[:2] == g.on.name]
            else:
                rows.append(_row(g.privilege, g.on.type, ".".join(g.on.name), to, grantee))
        if not future:
            for rg in sorted(self.g.role_grants):
                if rg.to == role:
                    kind = "DATABASE_ROLE" if rg.role.is_database_role else "ROLE"
                    rows.append(_row("USAGE", kind, str(rg.role), to, grantee))
        return rows

    def _role(self, text: str) -> Role:
        parts = text.replace('"', "").split(".")
        return Role(parts[1], parts[0]) if len(parts) == 2 else Role(parts[0])

    def __call__(self, sql: str) -> list[dict[str, Any]]:
        self.sent.append(sql)
        words = sql.split(" ")
        if sql == "SHOW ROLES":
            return [{"name": x.name} for x in self.g.roles | self.g.referenced_roles if not x.is_database_role]
        if sql.startswith("SHOW DATABASE ROLES IN DATABASE"):
            db = words[-1].strip('"')
            return [{"name": x.name} for x in self.g.roles if x.database == db]
        if sql.startswith("SHOW SCHEMAS IN DATABASE"):
            db = words[-1].strip('"')
            schemas = ("CATALOG", "AUDIT") if db == "GOVERNANCE_DB" else ("RAW", "STAGING", "PRODUCTS")
            return [{"name": s, "options": "MANAGED ACCESS" if (db, s) in self.g.managed_schemas else ""}
                    for s in schemas]
        if sql.startswith("SHOW GRANTS ON"):
            return []  # every grantee of the fixture is reached from the declared roles already
        if sql.startswith(("SHOW GRANTS TO", "SHOW FUTURE GRANTS TO")):
            return self._grants_to(self._role(words[-1]), future="FUTURE" in sql)
        if sql.startswith("SHOW GRANTS OF"):
            role = self._role(words[-1])
            return [{"role": str(role), "granted_to": "ROLE", "grantee_name": rg.to.name} for rg in self.g.role_grants
                    if rg.role == role and not rg.to.is_database_role]
        raise AssertionError(f"unexpected query {sql}")


@pytest.fixture()
def account(mesh, plan):
    procs = read_declarations(mesh)
    return FakeAccount(mesh, plan_graph(plan), object_inventory(mesh, plan, procs))


def test_account_matching_the_manifests_is_clean(mesh, plan, account):
    report = audit_account(mesh, account, "fixture")
    assert report.ok, [v.to_dict() for v in report.violations]
    expected = plan_graph(plan)
    comparable = [g for g in expected.privilege_grants if g.on.scope != "ALL"]  # ALL shows up per object
    assert report.check("account-drift").proven == [f"{len(comparable) + len(expected.role_grants)} grants agree"]
    assert 'SHOW FUTURE GRANTS TO DATABASE ROLE "MARKETING_DB"."W"' in account.sent


def test_account_drift_reports_missing_and_undeclared_grants(mesh, plan, account):
    consumer = Role("CONSUMER_FINANCE", "MARKETING_DB")
    view = Securable("VIEW", ("MARKETING_DB", "PRODUCTS", "AD_CLICKS_V1"))
    account.g.privilege_grants.discard(PrivilegeGrant("SELECT", view, consumer))
    adhoc = Role("ADHOC_ANALYST")
    account.g.extend([adhoc, RoleGrant(Role("R", "MARKETING_DB"), adhoc)])
    report = audit_account(mesh, account, "fixture")
    drift = _messages(report, "account-drift")
    assert ("GRANT SELECT on MARKETING_DB.PRODUCTS.AD_CLICKS_V1 to MARKETING_DB.CONSUMER_FINANCE: declared, missing "
            "from the account") in drift
    assert "GRANT MARKETING_DB.R to ADHOC_ANALYST: on the account, declared by no manifest" in drift
    assert any(v.path == "ADHOC_ANALYST -> MARKETING_DB.R -> SELECT on MARKETING_DB.PRODUCTS.AD_CLICKS_V1"
               for v in report.check("consumers").violations)
    assert any("role ADHOC_ANALYST belongs to no domain but reaches MARKETING_DB" in m
               for m in _messages(report, "consumers"))


def test_account_with_a_leftover_audit_writer_drifts_and_fails_proof_6(mesh, account):
    # An old apply's GOVERNANCE_DB.AUDIT_WRITER, still held by an engineer on the account.
    writer = Role("AUDIT_WRITER", "GOVERNANCE_DB")
    account.g.extend([writer, RoleGrant(writer, Role("FINANCE_ENGINEER")),
                      PrivilegeGrant("INSERT", Securable("TABLE", ("GOVERNANCE_DB", "AUDIT"), "FUTURE"), writer)])
    report = audit_account(mesh, account, "fixture")
    drift = _messages(report, "account-drift")
    assert "database role GOVERNANCE_DB.AUDIT_WRITER: on the account, declared by no manifest" in drift
    assert "GRANT GOVERNANCE_DB.AUDIT_WRITER to FINANCE_ENGINEER: on the account, declared by no manifest" in drift
    assert _paths(report, "governance") == [
        "FINANCE_ENGINEER -> GOVERNANCE_DB.AUDIT_WRITER -> INSERT on GOVERNANCE_DB.AUDIT.* (future tables)"]
    assert 'SHOW DATABASE ROLES IN DATABASE "GOVERNANCE_DB"' in account.sent


def test_account_drift_covers_all_grants_by_their_objects(mesh, plan):
    expected = plan_graph(plan)
    actual = Graph(set(expected.roles), set(expected.role_grants),
                   {g for g in expected.privilege_grants if g.on.scope != "ALL"})
    actual.add(PrivilegeGrant("SELECT", Securable("TABLE", ("MARKETING_DB", "RAW", "AD_CLICKS")),
                              Role("R", "MARKETING_DB"), "account"))  # covered by ALL TABLES IN RAW
    actual.add(PrivilegeGrant("OWNERSHIP", Securable("TABLE", ("FINANCE_DB", "STAGING", "CAMPAIGN_ROI")),
                              Role("FINANCE_ENGINEER"), "account"))  # built by its own procedure
    actual.add(PrivilegeGrant("OWNERSHIP", Securable("TABLE", ("MARKETING_DB", "STAGING", "AD_CLICKS")),
                              Role("FINANCE_ENGINEER"), "account"))  # not its own database
    assert _messages_of(account_drift(mesh, expected, actual)) == [
        "GRANT OWNERSHIP on MARKETING_DB.STAGING.AD_CLICKS to FINANCE_ENGINEER: on the account, declared by no manifest"]


def _messages_of(result) -> list[str]:
    return [v.message for v in result.violations]


class _Cursor:
    """A connector cursor that answers one SHOW GRANTS row, or fails like a role without privileges."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.description = [(c,) for c in ("created_on", "privilege", "granted_on", "name", "granted_to",
                                           "grantee_name", "grant_option", "granted_by")]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str) -> None:
        if self.fail:
            import snowflake.connector

            raise snowflake.connector.errors.ProgrammingError(msg="Insufficient privileges to operate on role")

    def fetchall(self) -> list[tuple]:
        return [("t", "USAGE", "DATABASE", "MARKETING_DB", "ROLE", "FINANCE_ENGINEER", "false", "SYSADMIN")]


def test_target_query_returns_rows_by_column_and_maps_errors():
    class Target:
        def __init__(self, fail: bool) -> None:
            self.conn = type("Conn", (), {"cursor": lambda _self: _Cursor(fail)})()

    rows = target_query(Target(False))('SHOW GRANTS TO ROLE "FINANCE_ENGINEER"')
    assert rows[0]["grantee_name"] == "FINANCE_ENGINEER" and rows[0]["granted_on"] == "DATABASE"
    with pytest.raises(ConnectionConfigError, match="Insufficient privileges"):
        target_query(Target(True))("SHOW ROLES")


def test_cli_connection_path_uses_the_account(mesh, account, monkeypatch, capsys):
    from contextlib import contextmanager

    import snowmesh.target
    from snowmesh.access import showgrants

    @contextmanager
    def fake_target(root: Path, connection: str | None):
        assert connection == "prod"
        yield object()

    monkeypatch.setattr(snowmesh.target, "open_target", fake_target)
    monkeypatch.setattr(showgrants, "target_query", lambda _target: account)
    rc, out, _ = _cli(capsys, "--project", str(ROOT), "--connection", "prod", "--format", "json")
    doc = json.loads(out)
    assert rc == 0 and doc["source"] == "account prod" and doc["checks"][-1]["id"] == "account-drift"
