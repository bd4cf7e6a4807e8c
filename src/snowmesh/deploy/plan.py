"""The mesh as an ordered list of statements: account objects, databases, RBAC, then domain objects.

Role design (docs/security.md): per database, database roles R (read), W (write, includes R)
and C (create); functional account roles <DOMAIN>_ENGINEER (W + C) and <DOMAIN>_ANALYST (R),
both with <DOMAIN>_WH_USAGE on their own warehouse only. A consumer domain reaches a
producer through the database role <PRODUCER_DB>.CONSUMER_<CONSUMER>, which holds USAGE on
the database and PRODUCTS schema and SELECT on exactly the published views it consumes.
In GOVERNANCE_DB the one database role SOURCES_READER (SELECT on the source registry) goes to
every engineer, the role INGEST() runs as; nobody but the owner's-rights procedures writes it.

On a real account Terraform creates the account-level objects and the same grants
(tests/test_terraform.py compares them); the storage integration and the external LANDING
stage are Terraform's alone, so this plan renders them only for the local account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date

# Shared with the in-warehouse ingest: the stage, its file format, the ledger and the registry.
from governance.ingest import FILE_FORMAT, LEDGER, SOURCES_COLUMNS, SOURCES_TABLE, STAGE
from governance.ingest_sql import (
    INGEST_FORMAT,
    LEDGER_COLUMNS,
    LOCKS,
    LOCKS_COLUMNS,
    REJECTED,
    REJECTED_COLUMNS,
)
from governance.product_health import AUDIT_TABLE, REGISTRY_TABLE, registry_ddl
from governance.publish import PUBLICATIONS_COLUMNS, PUBLICATIONS_LOG, PUBLICATIONS_VIEW, consumer_role
from governance.sql import ident, split_fqn
from governance.validate import audit_ddl
from snowmesh.deploy import render as r
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.infra.tfvars import (
    GOVERNANCE_DB,
    GOVERNANCE_SCHEMAS,
    SOURCES_READER_ROLE,
    storage_integration_name,
)
from snowmesh.manifest.model import PRODUCTS, RAW, SCHEMAS, STAGING, Domain, Mesh, Product, Source

PLATFORM_ROLE = "SYSADMIN"
# Who sends what on a real account (docs/security.md, "Owners and senders"):
# - Terraform's role (terraform/variables.tf `snowflake_role`) creates every account-level object and
#   the role model's grants; the real-account deploy never sends those statements.
# - GRANTS_ROLE sends the grants the deploy itself makes (consumers' SELECT on a published view,
#   procedure USAGE and ownership): every mesh schema is managed access, where "only the schema owner
#   or a role with the MANAGE GRANTS privilege can grant privileges on objects in the schema"
#   (https://docs.snowflake.com/en/user-guide/security-access-control-configure#label-managed-access-schemas),
#   and SECURITYADMIN holds MANAGE GRANTS by default
#   (https://docs.snowflake.com/en/user-guide/security-access-control-overview#system-defined-roles).
# - GOVERNANCE_ROLE owns what lives in GOVERNANCE_DB (registries, tags, masking policies, the
#   governance procedures); Terraform grants it just those CREATE privileges.
# - a domain's <DOMAIN>_ENGINEER owns the domain's tables, file formats, procedures and tasks, so an
#   owner's-rights procedure of the domain runs with exactly the domain's rights.
TERRAFORM_ROLE = "ACCOUNTADMIN"
GRANTS_ROLE = "SECURITYADMIN"
GOVERNANCE_ROLE = "MESH_GOVERNANCE"


def integration_name(domain: Domain) -> str:
    """The domain's storage integration: one name for both layers (snowmesh.infra.tfvars)."""
    return storage_integration_name(domain)


def contract_columns(mesh: Mesh, product: Product) -> list[str]:
    """Column names of a product, in contract order: the published view's interface."""
    doc = json.loads((mesh.root / product.contract).read_text())
    return list(doc["properties"])


@dataclass
class Plan:
    statements: list[Statement] = field(default_factory=list)
    publish_grants: list[Statement] = field(default_factory=list)

    def add(self, *stmts: Statement | list[Statement], domain: str = "", sender: str = "",
            terraform: bool = False) -> None:
        """``sender``: the role that sends these on a real account (a statement that already names one
        keeps it); ``terraform``: Terraform's there (rendered and recorded locally, never sent to a
        real account; its sender is Terraform's role)."""
        for s in stmts:
            for one in s if isinstance(s, list) else [s]:
                who = TERRAFORM_ROLE if terraform else (one.sender or sender)
                if not who:
                    raise ValueError(f"every statement of a plan names the role that sends it: {one.sql}")
                self.statements.append(replace(one, domain=domain or one.domain, sender=who, terraform=terraform))

    @property
    def all(self) -> list[Statement]:
        return [*self.statements, *self.publish_grants]

    def to_send(self, *, local: bool) -> list[Statement]:
        """What a deploy sends (or, locally, runs and records): a real account's leaves Terraform's out."""
        return [s for s in self.statements if local or not s.terraform]


def to_send(statements: list[Statement], *, local: bool) -> list[Statement]:
    """The same filter for any list of plan statements (apply uses it: one place decides)."""
    return [s for s in statements if local or not s.terraform]


def _account(plan: Plan, d: Domain) -> None:
    wh = d.warehouse
    tf = {"domain": d.name, "terraform": True}
    plan.add(r.warehouse(wh.name, wh.size, wh.auto_suspend_seconds), **tf)
    # "CREATE RESOURCE MONITOR ... can only be executed by account administrators"
    # (https://docs.snowflake.com/en/sql-reference/sql/create-resource-monitor): Terraform's.
    plan.add(r.resource_monitor(wh.monitor, wh.name, wh.monthly_credit_quota), **tf)
    for role, what in (
        (d.engineer_role, "builds and owns"),
        (d.analyst_role, "reads"),
        (d.wh_usage_role, "uses the warehouse of"),
    ):
        plan.add(r.account_role(role, f"{what} the {d.name} domain"), **tf)
    plan.add(r.grant_on(["USAGE", "OPERATE"], "WAREHOUSE", [wh.name], d.wh_usage_role), **tf)
    for role in (d.engineer_role, d.analyst_role):
        plan.add(r.grant_role(d.wh_usage_role, role), **tf)
        plan.add(r.grant_role(role, PLATFORM_ROLE), **tf)


def _databases(plan: Plan, d: Domain) -> None:
    plan.add(r.database(d.database, f"{d.name} domain, owner {d.owner}"), domain=d.name, terraform=True)
    for s in SCHEMAS:
        plan.add(r.schema(d.database, s), r.managed_access(d.database, s), domain=d.name, terraform=True)


# The product reader: what a domain's analysts read -- the published views, never RAW, STAGING or
# a table behind a view (masking is on the views' columns: a table read would bypass it).
PRODUCT_READER = "PRODUCT_READER"
VALIDATOR = "VALIDATOR"  # the governance role's read of a domain's STAGING (VALIDATE_PRODUCT)


def _rbac(plan: Plan, d: Domain) -> None:
    """R reads everything in the database (the raw reader: engineers, through W); PRODUCT_READER
    reads the published views of PRODUCTS only (analysts). All of it is Terraform's on a real account."""
    db = d.database
    tf = {"domain": d.name, "terraform": True}
    for role in ("R", "W", "C", PRODUCT_READER):
        plan.add(r.database_role(db, role), **tf)  # VALIDATOR: below, after PRODUCTS' ownership
    plan.add(r.grant_on(["USAGE"], "DATABASE", [db], "R", database_role_of=db), **tf)
    for s in SCHEMAS:
        plan.add(r.grant_on(["USAGE"], "SCHEMA", [db, s], "R", database_role_of=db), **tf)
        for objects in ("TABLES", "VIEWS"):
            for future in (False, True):
                plan.add(r.grant_on_all(["SELECT"], objects, db, s, "R", future=future), **tf)
        for future in (False, True):
            plan.add(r.grant_on_all(["INSERT", "UPDATE", "DELETE", "TRUNCATE"], "TABLES", db, s, "W", future=future),
                     **tf)
        plan.add(
            r.grant_on(
                ["CREATE TABLE", "CREATE VIEW", "CREATE STAGE", "CREATE FILE FORMAT", "CREATE PROCEDURE",
                 "CREATE TASK", "CREATE STREAM"],
                "SCHEMA", [db, s], "C", database_role_of=db,
            ),
            **tf,
        )
    plan.add(r.grant_on(["USAGE"], "DATABASE", [db], PRODUCT_READER, database_role_of=db), **tf)
    plan.add(r.grant_on(["USAGE"], "SCHEMA", [db, PRODUCTS], PRODUCT_READER, database_role_of=db), **tf)
    for future in (False, True):
        plan.add(r.grant_on_all(["SELECT"], "VIEWS", db, PRODUCTS, PRODUCT_READER, future=future), **tf)
    plan.add(r.grant_database_role(db, "R", to_db_role="W"), **tf)
    plan.add(r.grant_database_role(db, "W", to_role=d.engineer_role), **tf)
    plan.add(r.grant_database_role(db, "C", to_role=d.engineer_role), **tf)
    plan.add(r.grant_database_role(db, PRODUCT_READER, to_role=d.analyst_role), **tf)
    # The domain owns its PRODUCTS schema: its PUBLISH (owner's rights, the engineer's) grants the
    # consumers' SELECT there, and in a managed-access schema "only the schema owner (i.e. the role
    # with the OWNERSHIP privilege on the schema) or a role with the MANAGE GRANTS privilege can grant
    # privileges on objects in the schema"
    # (https://docs.snowflake.com/en/user-guide/security-access-control-configure#label-managed-access-schemas).
    plan.add(r.schema_ownership(db, PRODUCTS, d.engineer_role), **tf)
    # The governance role's VALIDATE_PRODUCT (owner's rights: it writes the audit no domain may write)
    # reads the staged tables it validates, and nothing else of the domain: STAGING only.
    plan.add(r.database_role(db, VALIDATOR), **tf)
    plan.add(r.grant_on(["USAGE"], "DATABASE", [db], VALIDATOR, database_role_of=db), **tf)
    plan.add(r.grant_on(["USAGE"], "SCHEMA", [db, STAGING], VALIDATOR, database_role_of=db), **tf)
    for future in (False, True):
        plan.add(r.grant_on_all(["SELECT"], "TABLES", db, STAGING, VALIDATOR, future=future), **tf)
    plan.add(r.grant_database_role(db, VALIDATOR, to_role=GOVERNANCE_ROLE), **tf)


def _consumer_grants(plan: Plan, mesh: Mesh, d: Domain) -> None:
    """Consumers get SELECT on published views only, never RAW, STAGING or a table. The roles are
    Terraform's; the SELECT on each served view is sent by the domain's PUBLISH procedure
    (governance.publish.grant_statements), recorded in ``plan.publish_grants`` for the proofs."""
    db = d.database
    consumers = sorted({c for p in d.products for c in p.consumers})
    for c in consumers:
        role = consumer_role(c)
        tf = {"domain": d.name, "terraform": True}
        plan.add(r.database_role(db, role), **tf)
        plan.add(r.grant_on(["USAGE"], "DATABASE", [db], role, database_role_of=db), **tf)
        plan.add(r.grant_on(["USAGE"], "SCHEMA", [db, PRODUCTS], role, database_role_of=db), **tf)
        consumer = mesh.domain(c)
        for fr in (consumer.engineer_role, consumer.analyst_role):
            plan.add(r.grant_database_role(db, role, to_role=fr), **tf)


def source_tables(d: Domain, s: Source) -> list[Statement]:
    db = d.database
    landing = [r.column_def(c, typed=False) for c in s.columns]
    landing += ['"_FILE" VARCHAR', '"_LINE" NUMBER', '"_BATCH_ID" VARCHAR']
    typed = [r.column_def(c) for c in s.columns]
    typed += ['"_FILE" VARCHAR NOT NULL', '"_LINE" NUMBER NOT NULL', '"_LOADED_AT" TIMESTAMP_NTZ NOT NULL']
    quarantine = [
        '"_FILE" VARCHAR NOT NULL', '"_LINE" NUMBER NOT NULL', '"REASON" VARCHAR NOT NULL',
        '"RECORD" VARCHAR', '"_QUARANTINED_AT" TIMESTAMP_NTZ NOT NULL',
    ]  # fmt: skip
    return [
        r.table(db, RAW, s.landing_table, landing, transient=True, comment=f"COPY target for {s.name}: text only"),
        r.table(db, RAW, s.name, typed, comment=f"Typed rows of {s.name}"),
        r.table(db, RAW, s.quarantine_table, quarantine, comment=f"Rows of {s.name} that failed parsing or typing"),
    ]


def _objects(plan: Plan, d: Domain, *, local: bool) -> None:
    db = d.database
    own = {"domain": d.name, "sender": d.engineer_role}  # the domain's objects are its engineer's
    plan.add(r.file_format_csv(db, RAW, FILE_FORMAT), **own)
    if local:
        # No Terraform here: the external stage is rendered and recorded (it needs the integration
        # and IAM). COPY from s3:// cannot run offline, so files land in an internal stage of the
        # same name. On a real account Terraform creates the external stage (docs/terraform.md).
        ext = r.external_stage(db, RAW, STAGE, d.bucket, integration_name(d), FILE_FORMAT)
        plan.add(ext, domain=d.name, terraform=True)
        plan.add(r.internal_stage(db, RAW, STAGE), **own)
    # INGEST (owner's rights, the engineer's: W) reads the stage with LIST and COPY INTO. Terraform
    # grants it on a real account; locally the grant is recorded like every grant.
    plan.add(r.grant_on(["USAGE"], "STAGE", [db, RAW, STAGE], "W", database_role_of=db), domain=d.name,
             terraform=True)
    plan.add(r.table(db, RAW, LEDGER, list(LEDGER_COLUMNS),
                     comment="One row per file ever loaded: makes ingest idempotent"),
             # A ledger created before FILE_MD5 existed gains it (its rows match by name).
             r.add_column(db, RAW, LEDGER, '"FILE_MD5" VARCHAR'),
             r.table(db, RAW, REJECTED, list(REJECTED_COLUMNS),
                     comment="Files ingest could not read (not gzip, empty, wrong header): never retried"),
             r.table(db, RAW, LOCKS, list(LOCKS_COLUMNS),
                     comment="One row per source, taken by the ingest promotion: two loaders never record a file twice"),
             r.file_format_csv(db, RAW, INGEST_FORMAT, keep_header=True), **own)
    for s in d.sources:
        plan.add(source_tables(d, s), **own)
    # The publication log PUBLISH appends to, and the view consumers' streams read (docs/security.md,
    # "Who triggers a consumer"). IF NOT EXISTS, never OR REPLACE: re-creating either would drop its
    # change history and make every consumer's stream stale
    # (https://docs.snowflake.com/en/user-guide/streams-intro#stream-staleness).
    log = [f"{ident(c)} {t}" for c, t in PUBLICATIONS_COLUMNS]
    plan.add(r.table(db, PRODUCTS, PUBLICATIONS_LOG, log, change_tracking=True,
                     comment="One row per publish of a product of this domain (PUBLISH appends)"),
             r.publications_view(db, PRODUCTS, PUBLICATIONS_VIEW, [c for c, _ in PUBLICATIONS_COLUMNS],
                                 [db, PRODUCTS, PUBLICATIONS_LOG]), **own)


def _governance(plan: Plan, mesh: Mesh) -> None:
    plan.add(r.database(GOVERNANCE_DB, "Mesh-wide catalog and audit trail"), terraform=True)
    for s in GOVERNANCE_SCHEMAS:
        plan.add(r.schema(GOVERNANCE_DB, s), r.managed_access(GOVERNANCE_DB, s), terraform=True)
    # The governance role (Terraform's) and what it may create in GOVERNANCE_DB: the registries, the
    # audit tables, tags, masking policies, the code stage, the governance procedures, the page.
    _governance_role(plan)
    # The source registry INGEST() reads. Created here so its grant names an existing table;
    # governance.ingest.register_sources fills it (CREATE TABLE IF NOT EXISTS: the grant survives).
    db, schema, table = split_fqn(SOURCES_TABLE)
    plan.add(r.table(db, schema, table, [f"{ident(c)} {t}" for c, t in SOURCES_COLUMNS],
                     comment="One row per manifest source: what INGEST() loads"), sender=GOVERNANCE_ROLE)
    # Read access for the role INGEST runs as (each domain's engineer). The audit gets no grant:
    # only owner's-rights procedures write it (docs/security.md).
    role = SOURCES_READER_ROLE
    plan.add(r.database_role(db, role),
             r.grant_on(["USAGE"], "DATABASE", [db], role, database_role_of=db),
             r.grant_on(["USAGE"], "SCHEMA", [db, schema], role, database_role_of=db), terraform=True)
    # Terraform's too once the table exists (source_registry_exists); the deploy grants it right
    # after creating the table, so a first deploy does not wait for the second apply.
    plan.add(r.grant_on(["SELECT"], "TABLE", [db, schema, table], role, database_role_of=db), sender=GRANTS_ROLE)
    for d in mesh.domains:
        plan.add(r.grant_database_role(db, role, to_role=d.engineer_role), domain=d.name, terraform=True)
    # The same role is what every domain's PUBLISH reads (the product registry, the validation audit)
    # and the tags it sets on its views. Those objects are the deploy's, so it grants them itself after
    # creating them (Terraform cannot name them before they exist). Setting a tag takes APPLY on the tag
    # and ownership of the object (https://docs.snowflake.com/en/user-guide/object-tagging#label-object-tagging-privileges).
    plan.add(r.grant_on(["USAGE"], "SCHEMA", [db, split_fqn(AUDIT_TABLE)[1]], role, database_role_of=db),
             terraform=True)
    plan.add(Statement(Kind.TABLE, REGISTRY_TABLE, registry_ddl()), Statement(Kind.TABLE, AUDIT_TABLE, audit_ddl()),
             sender=GOVERNANCE_ROLE)
    for name in (REGISTRY_TABLE, AUDIT_TABLE):
        plan.add(r.grant_on(["SELECT"], "TABLE", split_fqn(name), role, database_role_of=db), sender=GRANTS_ROLE)


def _tag_grants(plan: Plan) -> None:
    """APPLY on each column tag to the pipelines' reader (after policies.account_statements creates them)."""
    from snowmesh.policies import CLASSIFICATION_TAG, DOMAIN_TAG, UNMASK_TAG

    for tag in (CLASSIFICATION_TAG, DOMAIN_TAG, UNMASK_TAG):
        plan.add(r.grant_on(["APPLY"], "TAG", tag, SOURCES_READER_ROLE, database_role_of=GOVERNANCE_DB),
                 sender=GRANTS_ROLE)


# What GOVERNANCE_ROLE may create, per GOVERNANCE_DB schema (Terraform grants the same:
# modules/snowflake_governance, tests/test_security_model.py compares them).
# CREATE STREAMLIT (the catalog page) is granted by Terraform only: it is outside the grant grammar
# tests/sql_grammar.py holds the plan to, and no plan statement needs it.
GOVERNANCE_CREATES = ("CREATE TABLE", "CREATE TAG", "CREATE MASKING POLICY", "CREATE STAGE", "CREATE PROCEDURE")


def _governance_role(plan: Plan) -> None:
    role = GOVERNANCE_ROLE
    tf = {"terraform": True}
    plan.add(r.account_role(role, "owns GOVERNANCE_DB's registries, audit, tags, policies and procedures"), **tf)
    plan.add(r.grant_on(["USAGE"], "DATABASE", [GOVERNANCE_DB], role), **tf)
    for s in GOVERNANCE_SCHEMAS:
        plan.add(r.grant_on(["USAGE", *GOVERNANCE_CREATES], "SCHEMA", [GOVERNANCE_DB, s], role), **tf)
    plan.add(r.grant_role(role, PLATFORM_ROLE), **tf)


def build_plan(mesh: Mesh, *, local: bool, role_arn: str = "arn:aws:iam::000000000000:role/snowflake-landing",
               today: date | None = None) -> Plan:
    """``today`` decides which old product versions are still served (injectable for tests).

    ``local``: the local account's variant, which adds the storage integration (with ``role_arn``)
    and the external stage (both recorded) and an internal LANDING stage; a real account's plan
    leaves those to Terraform.
    """
    from snowmesh import policies, versions
    from snowmesh.deploy.procedure_rights import procedure_grants, procedure_owners, publish_grants
    from snowmesh.pipeline import triggers

    today = today or date.today()
    retiring = versions.check_retirements(mesh, today)  # fails before anything is rendered or run
    plan = Plan()
    for d in mesh.domains:
        _account(plan, d)
        if local:  # a real account's integration is Terraform's: it needs the IAM role it creates
            plan.add(r.storage_integration(integration_name(d), role_arn, [d.bucket]), domain=d.name,
                     terraform=True)
    _governance(plan, mesh)
    # Tags + masking policies live in GOVERNANCE_DB.CATALOG, owned by the governance role.
    plan.add(policies.account_statements(mesh), sender=GOVERNANCE_ROLE)
    _tag_grants(plan)
    for d in mesh.domains:
        _databases(plan, d)
        _rbac(plan, d)
    for d in mesh.domains:
        _consumer_grants(plan, mesh, d)
        _objects(plan, d, local=local)
    # The federated exports' integrations, stages and stage grants (Terraform's; snowmesh.federation_export).
    from snowmesh import federation_export

    federation_export.add_to_plan(plan, mesh, local=local)
    for d in mesh.domains:  # what lets a consumer run after its producers publish
        plan.add(triggers.plan_statements(mesh, d))
    plan.publish_grants = publish_grants(mesh, today)
    for v in retiring:
        plan.add(_retire(mesh, v), domain=v.product.domain, sender=GRANTS_ROLE)
    # Last: on a real account the procedures must exist first (`snow snowpark deploy`); ownership moves
    # to each procedure's owner before anyone is granted USAGE on it.
    plan.add(procedure_owners(mesh))
    plan.add(procedure_grants(mesh))
    return plan


def _retire(mesh: Mesh, v) -> list[Statement]:  # v: versions.Version (lazy import, no cycle)
    """Revoke consumers' SELECT on an expired version, then drop its view."""
    d = mesh.domain(v.product.domain)
    view = [d.database, PRODUCTS, v.view]
    out = [replace(r.revoke_on(["SELECT"], "VIEW", view, [d.database, consumer_role(c)]), sender=GRANTS_ROLE)
           for c in v.product.consumers]
    from snowmesh.deploy.procedure_rights import view_owner

    return [*out, replace(r.drop_view(*view), sender=view_owner(d))]


__all__ = ["GOVERNANCE_DB", "STAGING", "Plan", "build_plan", "to_send"]
