"""Procedures on the account: who owns each, who may CALL it, and what a domain's PUBLISH sends.

Ownership and USAGE are rendered from the list that renders snowflake.yml (project_file.
procedure_specs), so names, signatures, rights and callers cannot drift from what ships. A domain's
procedures are its engineer's, so owner's rights are exactly the domain's. What PUBLISH sends is the
procedure's own code (governance.publish.publish_statements) on the registry row snowmesh.catalog
writes from the manifests, sent as PUBLISH's owner: never deployed, it is what the proofs check as
that procedure's work (access.senders), and its consumers' grants are ``Plan.publish_grants``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from snowmesh.deploy import render as r
from snowmesh.deploy.plan import GOVERNANCE_ROLE, GRANTS_ROLE
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.infra.tfvars import GOVERNANCE_DB
from snowmesh.manifest.model import Domain, Mesh, Product

# --- ownership and USAGE ---------------------------------------------------------------------

def procedure_grants(mesh: Mesh) -> list[Statement]:
    """USAGE on the procedures analysts CALL, to the <DOMAIN>_ANALYST role of each allowed caller.

    Names, signatures and callers come from snowflake.yml's source (project_file.procedure_specs),
    so a grant names exactly the overload that is shipped. Pipeline procedures (builds, ingest,
    validate, publish, the DAG-run record) get no grant: the task graph runs them as the tasks'
    owner. A governance procedure also needs USAGE on GOVERNANCE_DB and its schema, which no
    analyst otherwise holds; those grant no access to the tables inside.
    """
    from snowmesh.deploy.project_file import procedure_specs  # project_file imports this module

    out: list[Statement] = []
    governance: list[Statement] = []
    for spec in procedure_specs(mesh):
        for caller in spec.callers:
            role = mesh.domain(caller).analyst_role
            if spec.database == GOVERNANCE_DB:
                for g in (r.grant_on(["USAGE"], "DATABASE", [GOVERNANCE_DB], role),
                          r.grant_on(["USAGE"], "SCHEMA", [GOVERNANCE_DB, spec.schema], role)):
                    if g not in governance:
                        governance.append(g)
            g = r.grant_on(["USAGE"], "PROCEDURE", [spec.database, spec.schema, spec.name], role,
                           arg_types=spec.arg_types)
            out.append(replace(g, domain=spec.domain or "", sender=GRANTS_ROLE))
    governance = [replace(g, sender=GRANTS_ROLE) for g in governance]
    return [*governance, *out]


def procedure_owner(spec) -> str:  # spec: project_file.ProcedureSpec (lazy import, no cycle)
    """A domain's procedures are its engineer's (owner's rights = the domain's rights); the
    governance procedures are the governance role's."""
    from snowmesh.deploy.project_file import ProcedureSpec

    assert isinstance(spec, ProcedureSpec)
    return f"{spec.domain}_ENGINEER" if spec.domain else GOVERNANCE_ROLE


def procedure_owners(mesh: Mesh) -> list[Statement]:
    """GRANT OWNERSHIP of every shipped procedure to its owner. `snow snowpark deploy` creates the
    procedures as the connection's role and cannot pick an owner per entity; ownership is then
    transferred here, before the USAGE grants (a transfer with outbound grants would need
    COPY CURRENT GRANTS). In a managed-access schema a transfer is the schema owner's or MANAGE
    GRANTS' (https://docs.snowflake.com/en/sql-reference/sql/grant-ownership)."""
    from snowmesh.deploy.project_file import procedure_specs

    out = []
    for spec in procedure_specs(mesh):
        g = r.grant_on(["OWNERSHIP"], "PROCEDURE", [spec.database, spec.schema, spec.name], procedure_owner(spec),
                       arg_types=spec.arg_types)
        out.append(replace(g, domain=spec.domain or "", sender=GRANTS_ROLE))
    return out


# --- what PUBLISH sends, as its owner ------------------------------------------------------------

def publish_statements(mesh: Mesh, p: Product, *, local: bool = False, today: date | None = None) -> list[Statement]:
    """What ``p``'s PUBLISH sends (its own code, governance.publish.publish_statements, on the registry
    row snowmesh.catalog writes), as the procedure's owner: the domain's engineer. ``local``: the
    walker's variant of the same code. Never deployed: the proofs check it as what PUBLISH does."""
    from governance.publish import publish_statements as procedure_statements
    from snowmesh.catalog import registry_entry_of

    today = today or date.today()
    d = mesh.domain(p.domain)
    out = []
    for sql in procedure_statements(registry_entry_of(mesh, p, today), local=local, today=today,
                                    run_id="<validation run>"):
        kind, name = publish_kind(sql)
        out.append(Statement(kind, name, sql, d.name, sender=d.engineer_role))
    return out


def publish_sent(mesh: Mesh, today: date) -> list[Statement]:
    """Every product's :func:`publish_statements` (real account)."""
    return [s for p in mesh.products for s in publish_statements(mesh, p, today=today)]


def publish_kind(sql: str) -> tuple[Kind, str]:
    """(statement kind, object name) of one statement governance.publish renders."""
    words = sql.split(" ")
    if sql in ("BEGIN", "COMMIT") or sql.startswith("DROP TABLE IF EXISTS "):  # the local promote
        return Kind.TABLE, words[-1].replace('"', "") if sql.startswith("DROP") else sql
    if sql.startswith("GRANT "):
        return Kind.GRANT, sql.split(" ON VIEW ", 1)[1].split(" ", 1)[0].replace('"', "")
    if sql.startswith("ALTER VIEW "):
        return Kind.TAG, words[2].replace('"', "")
    if sql.startswith("INSERT INTO "):
        return Kind.INSERT, words[2].replace('"', "")
    if sql.startswith("CREATE OR REPLACE SECURE VIEW "):
        return Kind.VIEW, words[5].replace('"', "")
    # The promote: CREATE OR REPLACE TABLE <name> CLONE ... (locally CREATE TABLE <name> CLONE ...).
    return Kind.TABLE, (words[4] if sql.startswith("CREATE OR REPLACE") else words[2]).replace('"', "")


def publish_grants(mesh: Mesh, today: date) -> list[Statement]:
    """The consumers' SELECT grants of every product's PUBLISH: the managed-access PRODUCTS schema's
    owner, the domain's engineer, sends them."""
    return [s for s in publish_sent(mesh, today) if s.kind == Kind.GRANT]


def view_owner(d: Domain) -> str:
    """Who owns a published view and the table behind it: the role the domain's PUBLISH runs as,
    its owner, the domain's engineer (procedure_owner)."""
    return d.engineer_role


__all__ = [
    "procedure_grants",
    "procedure_owner",
    "procedure_owners",
    "publish_grants",
    "publish_kind",
    "publish_sent",
    "publish_statements",
    "view_owner",
]
