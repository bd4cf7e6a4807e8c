"""The security model that runs on Snowflake (issue 12): who owns what, who sends what, masking that masks.

One test (or more) per defect 1-8 and 13 of the issue. Each failed on the code before the fix;
the ones still open are ``xfail(strict=True)`` with the reason, so they flip to a failure (XPASS)
the day the defect is fixed and the mark must go. No account is reachable: the real-account
paths run against a stand-in that answers like Snowflake (CURRENT_AVAILABLE_ROLES, CURRENT_ROLE)
and records what was sent, and the privilege rules are the verifier's, each citing its page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from snowmesh.access import audit_plan
from snowmesh.access.grants import plan_graph
from snowmesh.access.graph import Role
from snowmesh.access.senders import NEEDS, check_senders
from snowmesh.console import SilentReporter
from snowmesh.deploy import apply as apply_mod
from snowmesh.deploy import render as r
from snowmesh.deploy.plan import (
    GOVERNANCE_CREATES,
    GOVERNANCE_ROLE,
    GRANTS_ROLE,
    PRODUCT_READER,
    TERRAFORM_ROLE,
    build_plan,
    to_send,
)
from snowmesh.deploy.procedure_rights import procedure_owners, view_owner
from snowmesh.deploy.project_file import procedure_specs
from snowmesh.deploy.statements import Kind
from snowmesh.errors import StepFailed
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
MESH = load_mesh(ROOT)
ACCOUNT_LEVEL = {Kind.WAREHOUSE, Kind.RESOURCE_MONITOR, Kind.ACCOUNT_ROLE, Kind.STORAGE_INTEGRATION, Kind.DATABASE,
                 Kind.SCHEMA, Kind.DATABASE_ROLE, Kind.ACCESS_CONTROL}


@pytest.fixture(scope="module")
def plan():
    return build_plan(MESH, local=False)


class RealAccount:
    """A real account's connection as the deploy sees it: it answers CURRENT_AVAILABLE_ROLES() and
    CURRENT_ROLE() like Snowflake (a JSON list; the session's role), follows USE ROLE, refuses a USE
    ROLE the user lacks, and records every statement with the role it ran as."""

    is_local = False
    name = "prod"

    def __init__(self, roles: set[str], current: str = "SYSADMIN") -> None:
        self.roles, self.current = roles, current
        self.ran: list[tuple[str, str]] = []  # (role, sql)

    def sql(self, text: str, params: Any = None) -> list[tuple]:
        self.ran.append((self.current, text))
        if text == "SELECT CURRENT_AVAILABLE_ROLES()":
            return [(json.dumps(sorted(self.roles)),)]
        if text == "SELECT CURRENT_ROLE()":
            return [(self.current,)]
        if m := re.fullmatch(r'USE ROLE "([A-Z_]+)"', text):
            assert m.group(1) in self.roles, f"Snowflake refuses USE ROLE {m.group(1)}: not granted to the user"
            self.current = m.group(1)
        return []

    def changes(self) -> list[tuple[str, str]]:
        return [(role, s) for role, s in self.ran if not s.startswith(("SELECT ", "USE ROLE "))]


@pytest.fixture()
def no_audit(monkeypatch):
    monkeypatch.setattr(apply_mod.audit, "record_deploy", lambda *a, **k: "")


# --- defect 1: the deploy needed ACCOUNTADMIN -----------------------------------------------


def test_1_real_account_deploy_sends_no_account_level_statement(plan) -> None:
    """Roles, warehouses, monitors, integrations, databases, schemas and the role model's grants are
    Terraform's: rendered (and recorded locally), never sent to a real account."""
    sent = plan.to_send(local=False)
    assert sent and not [s.sql for s in sent if s.kind in ACCOUNT_LEVEL]
    assert not [s.sql for s in sent if s.sql.startswith(("CREATE RESOURCE MONITOR", "CREATE ROLE", "GRANT ROLE",
                                                         "CREATE WAREHOUSE", "ALTER WAREHOUSE"))]
    # ... and none is sent as ACCOUNTADMIN or the connection's SYSADMIN: each names its own sender.
    assert {s.sender for s in sent} == {GOVERNANCE_ROLE, GRANTS_ROLE, *(d.engineer_role for d in MESH.domains)}
    local = build_plan(MESH, local=True)
    assert {s.kind for s in local.to_send(local=True)} >= ACCOUNT_LEVEL  # the local plan keeps recording them
    assert all(s.sender for s in [*local.all, *plan.all]), "every statement names the role that sends it"
    assert all(s.sender == TERRAFORM_ROLE for s in plan.all if s.terraform)


def test_1_the_deploy_switches_role_per_statement(plan, no_audit) -> None:
    senders = {s.sender for s in plan.to_send(local=False)}
    account = RealAccount(senders | {"SYSADMIN"})
    result = apply_mod.apply(account, plan.statements, SilentReporter())
    changes = account.changes()
    expected = [(s.sender, s.sql) for s in plan.statements if not s.terraform]
    assert changes == expected  # every statement, in plan order, as its own sender
    assert result.executed == len(expected) and result.terraforms == len(plan.statements) - len(expected)
    assert account.ran[0][1] == "SELECT CURRENT_AVAILABLE_ROLES()"  # checked before the first change
    assert account.current == "SYSADMIN"  # back to the connection's role afterwards
    switches = [s for _, s in account.ran if s.startswith("USE ROLE ")]
    assert len(switches) < len(expected) / 2  # one USE ROLE per change of sender, not per statement


def test_1_a_missing_role_stops_the_deploy_before_any_change(plan, no_audit) -> None:
    account = RealAccount({"SYSADMIN", GRANTS_ROLE, *(d.engineer_role for d in MESH.domains)})  # no governance role
    with pytest.raises(StepFailed) as exc:
        apply_mod.apply(account, plan.statements, SilentReporter())
    assert exc.value.exit_code == 1
    assert f"cannot use role {GOVERNANCE_ROLE}" in exc.value.message and "nothing was sent" in exc.value.message
    assert "\n" not in exc.value.message
    assert account.changes() == [] and not [s for _, s in account.ran if s.startswith("USE ROLE")]


def test_1_dry_run_prints_the_sender_of_every_statement(capsys) -> None:
    from snowmesh.cli.main import run_app

    assert run_app(["deploy", "--dry-run", "--project", str(ROOT)]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x and not x.startswith("--")]
    plan = build_plan(MESH, local=True)
    shown = [x for x in lines if "  -- as " in x]
    assert len(shown) == len(plan.statements)
    for stmt, line in zip(plan.statements, shown, strict=True):
        assert line.startswith(stmt.sql + ";") and f"  -- as {stmt.sender}" in line


# --- defect 2: GOVERNANCE_DB was writable by no shipping role --------------------------------


def test_2_the_governance_role_can_create_what_is_sent_in_governance_db(plan) -> None:
    sent = [s for s in plan.to_send(local=False) if '"GOVERNANCE_DB"' in s.sql.split(" TO ")[0]]
    creates = [s for s in sent if s.sql.startswith(("CREATE TABLE", "CREATE TAG", "CREATE MASKING POLICY"))]
    assert creates and {s.sender for s in creates} == {GOVERNANCE_ROLE}
    g = plan_graph(plan.all)
    for schema in ("CATALOG", "AUDIT"):
        for priv in ("USAGE", *GOVERNANCE_CREATES):
            assert g.find(Role(GOVERNANCE_ROLE), priv, "SCHEMA", ("GOVERNANCE_DB", schema)), (priv, schema)


def test_2_terraform_grants_the_governance_role_what_the_plan_does() -> None:
    from snowmesh.access.terraform import governance_graph

    tf = governance_graph(ROOT / "terraform")
    role = Role(GOVERNANCE_ROLE)
    held = {(g.privilege, str(g.on)) for g in tf.privilege_grants if g.to == role}
    for schema in ("CATALOG", "AUDIT"):
        for priv in ("USAGE", *GOVERNANCE_CREATES, "CREATE STREAMLIT"):  # the page: Terraform's alone
            assert (priv, f"GOVERNANCE_DB.{schema}") in held
    assert {("APPLY MASKING POLICY", "ACCOUNT"), ("MONITOR EXECUTION", "ACCOUNT")} <= held
    assert role in tf.roles


def test_2_and_1_proof_7_every_statement_can_be_sent_by_its_sender(plan) -> None:
    report = audit_plan(MESH)
    senders = report.check("senders")
    assert senders.ok, [v.to_dict() for v in senders.violations]
    sending = {p.split(" can send")[0] for p in senders.proven if " can send " in p}
    assert sending == {s.sender for s in plan.to_send(local=False)}
    assert all(n.doc.startswith("https://docs.snowflake.com/") for n in NEEDS)  # each row cites its page


def test_1_proof_7_fails_for_the_old_deploy_that_sent_everything_as_the_connection(plan) -> None:
    """Before the fix every statement went out as the connection's role (SYSADMIN), after Terraform had
    created the databases and schemas as ACCOUNTADMIN: proof 7 names what SYSADMIN cannot send."""
    from dataclasses import replace

    terraform = [s for s in plan.all if s.terraform]  # sent first, by Terraform's role: it owns GOVERNANCE_DB
    old = [*terraform, *(replace(s, sender="SYSADMIN", terraform=False) for s in plan.all)]
    before = plan_graph([s for s in plan.all if GOVERNANCE_ROLE not in s.sql])  # no governance role then
    result = check_senders(before, old)
    assert not result.ok
    messages = [v.message for v in result.violations]
    assert any("CREATE RESOURCE MONITOR" in m and "SYSADMIN lacks ACCOUNTADMIN" in m for m in messages)
    assert any('CREATE TABLE IF NOT EXISTS "GOVERNANCE_DB"' in m and "SYSADMIN lacks CREATE TABLE" in m
               for m in messages)


# --- defect 3: procedures ran with platform-wide rights --------------------------------------


def test_3_every_procedure_is_handed_to_its_domain_or_the_governance_role(plan) -> None:
    owners = {s.object_name: s.sql.rsplit(" TO ROLE ", 1)[1].strip('"') for s in procedure_owners(MESH)}
    for spec in procedure_specs(MESH):
        want = f"{spec.domain}_ENGINEER" if spec.domain else GOVERNANCE_ROLE
        assert owners[spec.overload] == want, spec.overload
    sql = [s.sql for s in plan.statements]
    first_usage = next(i for i, q in enumerate(sql) if q.startswith("GRANT USAGE ON PROCEDURE"))
    assert max(i for i, q in enumerate(sql) if q.startswith("GRANT OWNERSHIP ON PROCEDURE")) < first_usage


def test_3_proof_7_ties_owners_rights_to_the_owner_the_plan_hands_over(plan) -> None:
    """Proof 3 models BUILD_* and INGEST as running as the domain's engineer; proof 7 checks that the
    plan really hands them to that role -- a build left with the deploying role is caught."""
    report = audit_plan(MESH).check("senders")
    assert "FINANCE_DB.STAGING.BUILD_CAMPAIGN_ROI() is owned by FINANCE_ENGINEER: its owner's rights are FINANCE's" \
        in report.proven
    moved = [s for s in plan.all if not (s.sql.startswith("GRANT OWNERSHIP") and "BUILD_CAMPAIGN_ROI" in s.sql)]
    moved.append(r.grant_on(["OWNERSHIP"], "PROCEDURE", ["FINANCE_DB", "STAGING", "BUILD_CAMPAIGN_ROI"], "SYSADMIN",
                            arg_types=[]))
    violations = [v.message for v in audit_plan(MESH, statements=moved).check("senders").violations]
    assert ("FINANCE_DB.STAGING.BUILD_CAMPAIGN_ROI() runs with its owner's rights, modelled as FINANCE_ENGINEER, "
            "but the plan hands it to SYSADMIN") in violations


def test_3_domain_tables_and_formats_are_the_domains_own(plan) -> None:
    for d in MESH.domains:
        own = [s for s in plan.to_send(local=False) if s.sql.startswith("CREATE")
               and s.object_name.startswith(f"{d.database}.")]
        assert own and {s.sender for s in own} == {d.engineer_role}


def test_3_publish_runs_as_the_domain_that_owns_the_product() -> None:
    """Each domain's PUBLISH lives in its own database and is handed to its engineer: its owner's rights
    are the domain's. VALIDATE_PRODUCT stays the governance role's: it writes the audit, which no
    domain may write (docs/security.md), and reads the staged tables through each domain's VALIDATOR
    database role (STAGING only), held by the governance role."""
    publish = [s for s in procedure_specs(MESH) if s.name == "PUBLISH"]
    assert {(s.domain, s.database) for s in publish} == {(d.name, d.database) for d in MESH.domains}
    owners = {s.sql.split(" TO ROLE ")[0]: s.sql.split(" TO ROLE ")[1] for s in procedure_owners(MESH)
              if '"PUBLISH"(VARCHAR)' in s.sql}
    assert sorted(owners.values()) == sorted(f'"{d.engineer_role}"' for d in MESH.domains)
    assert not [s for s in procedure_specs(MESH) if s.name == "PUBLISH_PRODUCT"]
    g = plan_graph(build_plan(MESH, local=False).all)
    for d in MESH.domains:
        for p in d.products:
            staged = (d.database, "STAGING", p.name)
            assert g.find(Role(GOVERNANCE_ROLE), "SELECT", "TABLE", staged) is not None, staged
        assert g.find(Role(GOVERNANCE_ROLE), "SELECT", "TABLE", (d.database, "RAW", d.sources[0].name)) is None


def test_3_proof_7_catches_a_publish_whose_owner_does_not_own_products() -> None:
    """PUBLISH grants the consumers' SELECT in a managed-access schema: only its owner's owning the
    schema makes that legal. Without the ownership transfer, proof 7 names the statement."""
    plan = build_plan(MESH, local=False)
    kept = [s for s in plan.all if not s.sql.startswith("GRANT OWNERSHIP ON SCHEMA ")]
    report = audit_plan(MESH, statements=kept)
    messages = [v.message for v in report.check("senders").violations]
    assert messages and all("lacks MANAGE GRANTS or ownership of" in m and "PRODUCTS" in m for m in messages)
    assert audit_plan(MESH).check("senders").ok


# --- defects 4-8: masking -------------------------------------------------------------------


def test_4_the_scheduled_publish_sets_the_tags_the_view_lost() -> None:
    """CREATE OR REPLACE VIEW drops column tags; PUBLISH_PRODUCT's own statements set them again.
    The rest of defect 4 (older versions, consumer grants) is tests/test_publish_path.py's strict xfail."""
    from governance.publish import RegistryEntry, publish_statements

    p = MESH.product("MARKETING.CAMPAIGN_PERFORMANCE")
    entry = RegistryEntry(p.domain, p.name, "1.0.0", f"MARKETING_DB.PRODUCTS.{p.view}",
                          (MESH.root / p.contract).read_text())
    sent = publish_statements(entry)
    view = next(i for i, q in enumerate(sent) if q.startswith("CREATE OR REPLACE SECURE VIEW"))
    tagged = [q for q in sent[view + 1:] if " SET TAG " in q]
    assert len(tagged) == 3 and all("CLASSIFICATION" in q for q in tagged)


def test_5_analysts_hold_the_product_reader_not_r(plan) -> None:
    g = plan_graph(plan.all)
    for d in MESH.domains:
        held = set(g.inherited(Role(d.analyst_role)))
        assert Role(PRODUCT_READER, d.database) in held and Role("R", d.database) not in held
        assert Role("R", d.database) in set(g.inherited(Role(d.engineer_role)))  # the raw reader


def test_5_proof_8_catches_an_analyst_reaching_a_table() -> None:
    extra = r.grant_database_role("MARKETING_DB", "R", to_role="MARKETING_ANALYST")
    plan = build_plan(MESH, local=False)
    report = audit_plan(MESH, statements=[*plan.all, extra])
    violations = report.check("readers").violations
    assert violations and all("MARKETING's analysts reach" in v.message for v in violations)
    assert any(v.path.startswith("MARKETING_ANALYST -> MARKETING_DB.R -> SELECT on MARKETING_DB.RAW.*")
               for v in violations)
    assert audit_plan(MESH).check("readers").ok


def test_6_a_consumer_pipeline_reads_what_the_producer_allows() -> None:
    """Finance's BUILD_CAMPAIGN_ROI runs with its owner's rights (FINANCE_ENGINEER), so the policy sees
    that role: it reads Marketing's SPEND_USD in clear only because Marketing's contract allows
    FINANCE (tag unmask-for:FINANCE -> UNMASK_FOR = ',FINANCE,' on the view column -> one WHEN)."""
    from snowmesh import policies
    from snowmesh.deploy.procedure_rights import publish_statements

    body = next(s.sql for s in policies.account_statements(MESH) if s.sql.startswith("CREATE MASKING POLICY"))
    assert ("WHEN CONTAINS(COALESCE(SYSTEM$GET_TAG_ON_CURRENT_COLUMN('GOVERNANCE_DB.CATALOG.UNMASK_FOR'), ''), "
            "',FINANCE,') AND IS_ROLE_IN_SESSION('FINANCE_ENGINEER') THEN VAL") in body
    assert "UNMASK_FOR'), ''), ',FINANCE,') AND IS_ROLE_IN_SESSION('FINANCE_ANALYST')" not in body  # pipelines only
    perf = MESH.product("MARKETING.CAMPAIGN_PERFORMANCE")
    tags = [s.sql for s in publish_statements(MESH, perf) if '"SPEND_USD"' in s.sql and " SET TAG " in s.sql]
    assert tags and all('"GOVERNANCE_DB"."CATALOG"."UNMASK_FOR" = \',FINANCE,\'' in t for t in tags)
    others = [s.sql for s in publish_statements(MESH, perf) if '"CPC_USD"' in s.sql and " SET TAG " in s.sql]
    assert others and not any("UNMASK_FOR" in t for t in others)  # not allowed: stays masked for Finance
    report = audit_plan(MESH).check("lineage")
    assert report.ok and any("CAMPAIGN_ROI.ROI (confidential) <- MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1.SPEND_USD"
                             in p for p in report.proven)


def _mesh_copy(tmp_path: Path) -> Path:
    import shutil

    for sub in ("domains", "contracts", "procedures"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    return tmp_path


def test_6_without_the_allow_list_the_consumer_build_is_caught(tmp_path) -> None:
    from snowmesh.access.lineage import check_lineage

    root = _mesh_copy(tmp_path)
    path = root / "contracts" / "marketing" / "campaign_performance" / "v1.json"
    path.write_text(path.read_text().replace(', "x-tags": ["unmask-for:FINANCE"]', ""))
    messages = [v.message for v in check_lineage(load_mesh(root)).violations]
    assert len(messages) == 3 and all("does not allow FINANCE's pipeline to read it in clear" in m for m in messages)


def test_6_a_derived_column_cannot_launder_its_input(tmp_path) -> None:
    from snowmesh.access.lineage import check_lineage

    root = _mesh_copy(tmp_path)
    path = root / "contracts" / "finance" / "campaign_roi" / "v1.json"
    doc = json.loads(path.read_text())
    doc["properties"]["ROI"]["x-classification"] = "internal"
    path.write_text(json.dumps(doc, indent=2))
    messages = [v.message for v in check_lineage(load_mesh(root)).violations]
    assert messages == [
        ("FINANCE.CAMPAIGN_ROI.ROI is derived from MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1.SPEND_USD "
         "(confidential) but contracts/finance/campaign_roi/v1.json classifies it internal: a consumer would read "
         "it unmasked (launders the input)")]
    handler = root / "procedures" / "finance" / "campaign_roi.py"
    src = handler.read_text()
    handler.write_text(src[:src.index("LINEAGE = {")] + src[src.index("}\n", src.index("LINEAGE = {")) + 2:])
    messages = [v.message for v in check_lineage(load_mesh(root)).violations]
    assert any("reads MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1, whose SPEND_USD, CLICK_COST_USD, CPC_USD are "
               "protected, but procedures/finance/campaign_roi.py declares no LINEAGE" in m for m in messages)
    # An explicit empty LINEAGE is a declaration: no output column derives from a protected input.
    handler.write_text(handler.read_text() + "\nLINEAGE: dict = {}\n")
    assert not [m for m in (v.message for v in check_lineage(load_mesh(root)).violations) if "declares no LINEAGE" in m]


def test_7_analyst_procedures_return_what_their_callers_may_see() -> None:
    """ROI_BY_CAMPAIGN and CAMPAIGN_SUMMARY run with caller's rights, so the policy sees the caller:
    the owning domain's analysts get clear values, a consumer's analysts the masked ones."""
    from snowmesh import policies

    body = next(s.sql for s in policies.account_statements(MESH) if s.sql.startswith("CREATE MASKING POLICY"))
    for d in MESH.domains:
        own = (f"SYSTEM$GET_TAG_ON_CURRENT_COLUMN('GOVERNANCE_DB.CATALOG.DATA_DOMAIN') = '{d.name}' "
               f"AND IS_ROLE_IN_SESSION('{d.analyst_role}') THEN VAL")
        assert own in body  # clear for its own analysts, on its own columns only
    for spec in procedure_specs(MESH):
        if spec.callers and spec.execute_as_caller:
            owner = MESH.domain(spec.domain)
            assert owner.name in spec.callers  # the owning domain's analysts may call it, and see clear values
            for view in spec.inputs:  # every view it reads is the owner's, or one a caller consumes (masked)
                producer = next(d for d in MESH.domains if view.startswith(f"{d.database}."))
                assert producer is owner or set(spec.callers) - {owner.name} <= {
                    c for p in producer.products for c in p.consumers}


def test_8_masking_bodies_name_roles_as_stored(plan) -> None:
    from snowmesh import policies

    bodies = [s.sql.split(" -> ", 1)[1] for s in policies.account_statements(MESH) if " -> " in s.sql]
    assert bodies
    for body in bodies:
        names = re.findall(r"IS_ROLE_IN_SESSION\('([^']*)'\)", body)
        assert names and all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", n) for n in names), body  # no embedded quotes
        assert {n for n in names} >= {d.engineer_role for d in MESH.domains}


# --- defect 13: RECORD_DAG_RUN recorded an unseen run as SUCCEEDED ----------------------------


class _History:
    """A Session inside a task whose owner cannot see the graph's history: TASK_HISTORY returns no row."""

    def __init__(self) -> None:
        self.inserted: list[str] = []

    def sql(self, text: str):
        outer = self

        class _Rows:
            def collect(self):
                if "SYSTEM$TASK_RUNTIME_INFO" in text:
                    return [("group-1", "root-uuid", "MARKETING_DB.STAGING.MARKETING_PIPELINE$MARKETING_FINALIZE")]
                if text.startswith("INSERT"):
                    outer.inserted.append(text)
                return []

        return _Rows()


def test_13_record_dag_run_fails_loudly_when_it_sees_no_task_history() -> None:
    from governance.dag_run import record_dag_run

    session = _History()
    with pytest.raises(RuntimeError, match="no task history"):
        record_dag_run(session, "MARKETING")
    assert len(session.inserted) == 1 and "'UNKNOWN'" in session.inserted[0]  # the run is recorded, not SUCCEEDED
    assert "'SUCCEEDED'" not in session.inserted[0]


# --- the views' owner and the retirement path ---------------------------------------------------


def test_retiring_a_view_is_sent_by_its_owner() -> None:
    for d in MESH.domains:
        assert view_owner(d) == d.engineer_role  # the domain's PUBLISH creates its views
    plan = build_plan(MESH, local=False)
    sent = to_send(plan.statements, local=False)
    assert all(s.sender == GRANTS_ROLE for s in sent if s.kind in (Kind.GRANT, Kind.REVOKE))
    # The consumers' SELECT is PUBLISH's, sent as its owner, the producing domain's engineer.
    assert plan.publish_grants and all(g.sender == MESH.domain(g.domain).engineer_role for g in plan.publish_grants)


# --- defects 9, 11, 12, 14: packaging, Terraform login, the app README, Lake Formation ------------


def test_9_procedures_build_without_the_client_dependencies_and_owners_may_use_pypi() -> None:
    from snowmesh.access.terraform import governance_graph

    checks = (ROOT / ".ci" / "snow-checks").read_text()
    assert '"$SNOW" snowpark build --skip-dependencies' in checks  # pyproject.toml's fakesnow, moto ... stay out
    pypi = Role("PYPI_REPOSITORY_USER", "SNOWFLAKE")
    holders = {x.to for x in governance_graph(ROOT / "terraform").role_grants if x.role == pypi}
    owners = {Role(o) for o in (GOVERNANCE_ROLE, *(f"{s.domain}_ENGINEER" for s in procedure_specs(MESH) if s.domain))}
    callers = {Role(MESH.domain(c).analyst_role) for s in procedure_specs(MESH) if s.execute_as_caller for c in s.callers}
    assert owners | callers <= holders


def test_11_terraform_reads_the_key_from_snowflake_private_key() -> None:
    for path in (ROOT / "terraform" / "providers.tf", ROOT / "docs" / "terraform.md"):
        text = path.read_text()
        assert "SNOWFLAKE_PRIVATE_KEY" in text
        assert "SNOWFLAKE_PRIVATE_KEY_PATH`" not in text and "SNOWFLAKE_PRIVATE_KEY_PATH environment" not in text


def test_12_the_app_readme_copies_the_eight_registry_columns_by_name() -> None:
    from governance.product_health import REGISTRY_COLUMNS

    readme = (ROOT / "app" / "README.md").read_text()
    insert = readme[readme.index("INSERT INTO SNOWMESH_GOVERNANCE.CATALOG.DATA_PRODUCTS"):].split(";")[0]
    assert "SELECT *" not in insert
    cols = ", ".join(f'"{c}"' for c, _ in REGISTRY_COLUMNS)
    assert insert.count(cols) == 2  # the target list and the select list


def test_14_lake_formation_permissions_come_with_the_data_lake_settings() -> None:
    from snowmesh.access.hcl import load_module

    root = load_module(ROOT / "terraform")
    assert root.resources[("aws_lakeformation_data_lake_settings", "this")]["admins"] == "${var.lake_formation_admin_arns}"
    main = (ROOT / "terraform" / "main.tf").read_text()
    landing = main[main.index('module "aws_domain_landing"'):].split("\n}\n")[0]
    assert "depends_on = [aws_lakeformation_data_lake_settings.this]" in landing


def test_tasks_run_as_their_domain_and_proof_7_catches_a_graph_created_as_the_connection(monkeypatch) -> None:
    """A task runs with its owner's rights, the role that created it: every graph is created as its
    domain's engineer (USE ROLE before it); a graph created as the connection's role fails proof 7."""
    from dataclasses import replace as dc_replace

    from snowmesh.deploy import tasks

    steps = tasks.deploy_steps(MESH)
    assert {(s.domain, s.owner) for s in steps} == {(d.name, d.engineer_role) for d in MESH.domains}
    assert audit_plan(MESH).check("senders").ok
    monkeypatch.setattr(tasks, "deploy_steps", lambda mesh: [dc_replace(s, owner="") for s in steps])
    messages = [v.message for v in audit_plan(MESH).check("senders").violations]
    assert sorted(m.split(" is created as ")[0] for m in messages) == sorted(f"task graph {s.dag.name}" for s in steps)
    monkeypatch.undo()
    from test_task_deploy import FakeAccount

    switched: list[str] = []
    tasks.deploy_dags(FakeAccount(), MESH, use_role=switched.append)
    assert switched == [s.owner for s in steps]  # one USE ROLE per graph, before its tasks
