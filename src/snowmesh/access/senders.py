"""Proof 7, senders: every statement a real account's deploy sends can be executed by the role that
sends it, in plan order; and who owns what it creates.

Each statement is classified by its SQL into one row of :data:`NEEDS`, the table of statement kind
-> required privilege or ownership, every row citing the Snowflake reference page it is read from.
The privileges are looked up in the grant graph (the plan's grants plus Terraform's) and in
:data:`ACCOUNT_PRIVILEGES`, the account-level privileges the graph does not hold (MANAGE GRANTS,
APPLY MASKING POLICY): Snowflake's system roles hold them by definition, the governance role by
Terraform's grant. Ownership is tracked as the plan runs: a CREATE makes its sender the owner, a
GRANT OWNERSHIP hands it on; a procedure is created by ``snow snowpark deploy`` as the deploying
role and handed to its owner by the plan.

Pure: the graph, the statements and the table in, a CheckResult out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from snowmesh.access.graph import Graph, Role
from snowmesh.access.report import CheckResult
from snowmesh.deploy.plan import GOVERNANCE_ROLE, GRANTS_ROLE, PLATFORM_ROLE, TERRAFORM_ROLE
from snowmesh.deploy.statements import Statement

DOCS = "https://docs.snowflake.com/en/sql-reference/sql/"

# Account-level privileges the grant graph does not model. MANAGE GRANTS: "by default, only the
# account administrator (ACCOUNTADMIN) and security administrator (SECURITYADMIN) have the MANAGE
# GRANTS privilege" (https://docs.snowflake.com/en/sql-reference/sql/show-resource-monitors, and
# https://docs.snowflake.com/en/user-guide/security-access-control-overview#system-defined-roles).
# APPLY MASKING POLICY / APPLY TAG / MONITOR EXECUTION: granted to the governance role by Terraform
# (modules/snowflake_governance, governance_account) for the tag-based masking policies
# (https://docs.snowflake.com/en/user-guide/tag-based-masking-policies) and the finalizer's
# TASK_HISTORY read (https://docs.snowflake.com/en/sql-reference/functions/task_history).
# The system roles' own: SYSADMIN creates warehouses and databases, USERADMIN and SECURITYADMIN
# roles, and only ACCOUNTADMIN resource monitors and integrations
# (https://docs.snowflake.com/en/user-guide/security-access-control-overview#system-defined-roles,
# https://docs.snowflake.com/en/sql-reference/sql/create-resource-monitor).
_ADMIN = frozenset({"MANAGE GRANTS", "APPLY MASKING POLICY", "APPLY TAG", "MONITOR EXECUTION", "CREATE WAREHOUSE",
                    "CREATE DATABASE", "CREATE ROLE", "CREATE INTEGRATION", "ACCOUNTADMIN"})
ACCOUNT_PRIVILEGES: dict[str, frozenset[str]] = {
    TERRAFORM_ROLE: _ADMIN,
    GRANTS_ROLE: frozenset({"MANAGE GRANTS", "CREATE ROLE"}),
    PLATFORM_ROLE: frozenset({"CREATE WAREHOUSE", "CREATE DATABASE"}),
    "USERADMIN": frozenset({"CREATE ROLE"}),
    GOVERNANCE_ROLE: frozenset({"APPLY MASKING POLICY", "APPLY TAG", "MONITOR EXECUTION"}),
}
SYSTEM_ROLES = frozenset({TERRAFORM_ROLE, GRANTS_ROLE, PLATFORM_ROLE, "USERADMIN"})

_Q = r'"([A-Z_][A-Z0-9_$]*)"'
_N3 = rf"{_Q}\.{_Q}\.{_Q}"


@dataclass(frozen=True)
class Need:
    """One row of the table: a statement form and what its sender must hold."""

    form: str  # a regex on the statement's SQL; groups 1-3 name the object (database, schema, name)
    privilege: str  # on the object's schema ("CREATE TABLE"), "OWNERSHIP" of the object, or an account privilege
    on: str  # "schema" | "object" | "account" | "parent" (OWNERSHIP of the database or schema it is in)
    #          | "managed" (MANAGE GRANTS, or OWNERSHIP of the object's managed-access schema)
    #          | "tag" (OWNERSHIP of the object and APPLY on every tag the statement sets)
    #          | "stream" (the schema privilege, and SELECT on the view the stream reads)
    doc: str  # the reference page the row is read from

    def match(self, sql: str) -> re.Match[str] | None:
        return re.match(self.form, sql)


NEEDS: tuple[Need, ...] = (
    # Terraform's statements (never sent by a real account's deploy; the local plan records them).
    Need(r'CREATE WAREHOUSE (?:IF NOT EXISTS )?"', "CREATE WAREHOUSE", "account", DOCS + "create-warehouse"),
    Need(r'CREATE RESOURCE MONITOR ', "ACCOUNTADMIN", "account", DOCS + "create-resource-monitor"),
    Need(r'ALTER WAREHOUSE "[A-Z_0-9]+" SET RESOURCE_MONITOR', "ACCOUNTADMIN", "account", DOCS + "alter-warehouse"),
    Need(r'CREATE ROLE ', "CREATE ROLE", "account", DOCS + "create-role"),
    Need(r'CREATE STORAGE INTEGRATION ', "CREATE INTEGRATION", "account", DOCS + "create-storage-integration"),
    Need(rf'CREATE DATABASE (?:IF NOT EXISTS )?{_Q}', "CREATE DATABASE", "account", DOCS + "create-database"),
    Need(rf"CREATE SCHEMA (?:IF NOT EXISTS )?{_Q}\.{_Q}", "OWNERSHIP", "parent", DOCS + "create-schema"),
    Need(rf"CREATE DATABASE ROLE (?:IF NOT EXISTS )?{_Q}\.{_Q}", "OWNERSHIP", "parent", DOCS + "create-database-role"),
    Need(rf"ALTER SCHEMA {_Q}\.{_Q} ENABLE MANAGED ACCESS", "OWNERSHIP", "object", DOCS + "alter-schema"),
    # The deploy's own.
    Need(rf"CREATE (?:TRANSIENT )?TABLE (?:IF NOT EXISTS )?{_N3}", "CREATE TABLE", "schema", DOCS + "create-table"),
    Need(rf"CREATE SECURE VIEW (?:IF NOT EXISTS )?{_N3}", "CREATE VIEW", "schema", DOCS + "create-view"),
    # A stream on a view: CREATE STREAM on the schema and SELECT on the view (create-stream, access control).
    Need(rf"CREATE STREAM (?:IF NOT EXISTS )?{_N3} ON VIEW {_N3}", "CREATE STREAM", "stream",
         DOCS + "create-stream"),
    # A domain's PUBLISH (its code, governance.publish, as its owner). OR REPLACE of an existing
    # object also takes its ownership, which the owner holds because it created it.
    Need(rf"CREATE OR REPLACE TABLE {_N3} CLONE ", "CREATE TABLE", "schema", DOCS + "create-clone"),
    Need(rf"CREATE OR REPLACE SECURE VIEW {_N3}", "CREATE VIEW", "schema", DOCS + "create-view"),
    # Setting a tag: APPLY on the tag (or the global APPLY TAG) and OWNERSHIP of the object.
    Need(rf"ALTER VIEW {_N3} MODIFY COLUMN {_Q} SET TAG ", "APPLY", "tag",
         "https://docs.snowflake.com/en/user-guide/object-tagging#label-object-tagging-privileges"),
    Need(rf"INSERT INTO {_N3} ", "OWNERSHIP", "object", DOCS + "insert"),
    Need(rf"CREATE FILE FORMAT (?:IF NOT EXISTS )?{_N3}", "CREATE FILE FORMAT", "schema", DOCS + "create-file-format"),
    Need(rf"CREATE STAGE (?:IF NOT EXISTS )?{_N3}", "CREATE STAGE", "schema", DOCS + "create-stage"),
    Need(rf"CREATE TAG (?:IF NOT EXISTS )?{_N3}", "CREATE TAG", "schema", DOCS + "create-tag"),
    Need(rf"CREATE MASKING POLICY (?:IF NOT EXISTS )?{_N3}", "CREATE MASKING POLICY", "schema",
         DOCS + "create-masking-policy"),
    Need(rf"ALTER TABLE (?:IF EXISTS )?{_N3} ADD COLUMN", "OWNERSHIP", "object", DOCS + "alter-table"),
    Need(rf"ALTER MASKING POLICY {_N3} SET BODY", "OWNERSHIP", "object", DOCS + "alter-masking-policy"),
    # Setting a policy on a tag: the global APPLY MASKING POLICY privilege (tag-based masking policies).
    Need(rf"ALTER TAG {_N3} (?:SET|UNSET) MASKING POLICY", "APPLY MASKING POLICY", "account",
         "https://docs.snowflake.com/en/user-guide/tag-based-masking-policies"),
    # In a managed-access schema only the schema owner or MANAGE GRANTS grants, revokes or hands over
    # ownership (https://docs.snowflake.com/en/user-guide/security-access-control-configure).
    Need(r"GRANT OWNERSHIP ON ", "MANAGE GRANTS", "account", DOCS + "grant-ownership"),
    Need(rf"GRANT [A-Z ,]+ ON (?:VIEW|TABLE) {_N3} TO ", "MANAGE GRANTS", "managed", DOCS + "grant-privilege"),
    Need(r"GRANT ", "MANAGE GRANTS", "account", DOCS + "grant-privilege"),
    Need(r"REVOKE ", "MANAGE GRANTS", "account", DOCS + "revoke-privilege"),
    Need(rf"DROP VIEW (?:IF EXISTS )?{_N3}", "OWNERSHIP", "object", DOCS + "drop-view"),
)

_OWNERSHIP = re.compile(rf"GRANT OWNERSHIP ON PROCEDURE {_N3}(\([^)]*\)) TO ROLE {_Q}\Z")


def need_of(sql: str) -> tuple[Need, re.Match[str]] | None:
    for n in NEEDS:
        if (m := n.match(sql)) is not None:
            return n, m
    return None


def _holds_on_schema(g: Graph, role: Role, privilege: str, db: str, schema: str) -> bool:
    # CREATE <X> on the schema, and USAGE on the database to resolve it ("a role granted any
    # privilege on a schema allows that role to resolve the schema": create-masking-policy, notes).
    return (g.find(role, privilege, "SCHEMA", (db, schema)) is not None
            and g.find(role, "USAGE", "DATABASE", (db,)) is not None)


_SCHEMA_OWNERSHIP = re.compile(rf"GRANT OWNERSHIP ON SCHEMA {_Q}\.{_Q} TO ROLE {_Q} COPY CURRENT GRANTS\Z")
_TAGS = re.compile(rf"{_N3} = '")


def schema_owners(statements: Sequence[Statement]) -> dict[tuple[str, ...], str]:
    """(database, schema) -> the role a plan statement (Terraform's included) hands the schema to."""
    return {(m.group(1), m.group(2)): m.group(3) for s in statements if (m := _SCHEMA_OWNERSHIP.match(s.sql))}


def check_senders(g: Graph, statements: Sequence[Statement], *, view_owners: dict[str, str] | None = None,
                  owned_schemas: dict[tuple[str, ...], str] | None = None) -> CheckResult:
    """7. Every statement can be sent by its sender, in order. ``statements``: what a real account's
    deploy sends (Terraform's left out), then what the publish procedures send as their owners.
    ``view_owners``: database -> the role that owns its published views; ``owned_schemas``: the
    schemas Terraform hands to a domain role (schema_owners of the whole plan)."""
    out = CheckResult("senders")
    owners: dict[tuple[str, ...], str] = dict(owned_schemas or {})
    counts: dict[str, int] = {}
    for i, s in enumerate(statements, 1):
        where = f"statement {i} ({s.sql[:80]}{'...' if len(s.sql) > 80 else ''})"
        if not s.sender:
            out.fail(f"{where} names no role to send it")
            continue
        found = need_of(s.sql)
        if found is None:
            out.fail(f"{where}: no row of the statement -> privilege table covers it (access/senders.NEEDS)")
            continue
        need, m = found
        role = Role(s.sender)
        name = tuple(x for x in m.groups() if x)[:3]
        if need.on == "account":
            ok = need.privilege in ACCOUNT_PRIVILEGES.get(s.sender, frozenset())
        elif need.on == "managed":
            ok = "MANAGE GRANTS" in ACCOUNT_PRIVILEGES.get(s.sender, frozenset()) or owners.get(name[:2]) == s.sender
        elif need.on == "tag":
            tags = _TAGS.findall(s.sql.split(" SET TAG ", 1)[1])
            ok = ((owners.get(name) or (view_owners or {}).get(name[0])) == s.sender
                  and all(g.find(role, "APPLY", "TAG", t) is not None for t in tags))
        elif need.on == "stream":
            source = tuple(x for x in m.groups() if x)[3:6]
            ok = ((owners.get(name[:2]) == s.sender or _holds_on_schema(g, role, need.privilege, name[0], name[1]))
                  and g.find(role, "SELECT", "VIEW", source) is not None)
        elif need.on == "parent":
            ok = owners.get(name[:1]) == s.sender
        elif need.on == "schema":
            # The schema's owner holds every privilege on it (Terraform's role, on the local plan).
            ok = owners.get(name[:2]) == s.sender or _holds_on_schema(g, role, need.privilege, name[0], name[1])
            # OR REPLACE drops the existing object: its ownership too (https://docs.snowflake.com/en/sql-reference/sql/create).
            ok = ok and not (s.sql.startswith("CREATE OR REPLACE ") and owners.get(name, s.sender) != s.sender)
        else:
            ok = (owners.get(name) or (view_owners or {}).get(name[0])) == s.sender
        if not ok:
            out.fail(f"{where}: {s.sender} lacks {need.privilege}"
                     + (f" on {'.'.join(name[:2])}" if need.on == "schema" else "")
                     + (f" on {'.'.join(name[:2])} or SELECT on its view" if need.on == "stream" else "")
                     + (f" of {name[0]}" if need.on == "parent" else "")
                     + (f" of {'.'.join(name)}" if need.on in ("object", "tag") else "")
                     + (f" or ownership of {'.'.join(name[:2])}" if need.on == "managed" else "") + f" ({need.doc})")
            continue
        counts[s.sender] = counts.get(s.sender, 0) + 1
        if s.sql.startswith("CREATE ") and need.on in ("schema", "parent", "stream") or s.sql.startswith("CREATE DATABASE "):
            if s.sql.startswith("CREATE OR REPLACE "):
                owners[name] = s.sender  # the replacing role owns the new object
            owners.setdefault(name, s.sender)  # IF NOT EXISTS: the first creator owns it
        if (own := _OWNERSHIP.match(s.sql)) is not None:
            owners[(own.group(1), own.group(2), own.group(3) + own.group(4))] = own.group(5)
    for role, n in sorted(counts.items()):
        out.proven.append(f"{role} can send its {n} statement(s) in plan order")
    return out


def check_runs_as(mesh, procedures, statements: Sequence[Statement], out: CheckResult) -> None:
    """Proof 3 assumes each owner's-rights build and INGEST runs as its domain's engineer; here the
    plan's GRANT OWNERSHIP must hand exactly those procedures to that role, so the assumption is
    what runs (an owner's-rights procedure runs with its owner's privileges). ``procedures``:
    access.procs.ProcedureDecl of every product; ``mesh``: the loaded mesh."""
    from snowmesh.deploy.project_file import procedure_specs
    from snowmesh.pipeline.dag import procedure_name

    owners = owners_of_procedures(statements)
    builds = {(mesh.domain(p.domain).database, procedure_name(p)): p for p in mesh.products}
    runs_as = {decl.product.key: decl.runs_as for decl in procedures}
    for spec in procedure_specs(mesh):
        if spec.execute_as_caller or not spec.domain:
            continue
        owner = owners.get(spec.overload)
        product = builds.get((spec.database, spec.name))
        expected = runs_as[product.key] if product else f"{spec.domain}_ENGINEER"
        if owner != expected:
            out.fail(f"{spec.overload} runs with its owner's rights, modelled as {expected}, but the plan hands it "
                     f"to {owner or 'no role'}")
        else:
            out.proven.append(f"{spec.overload} is owned by {owner}: its owner's rights are {spec.domain}'s")
    # A task runs as its owner, the role that created it: each graph is created as its domain's
    # engineer (deploy.tasks, USE ROLE), which Terraform grants EXECUTE TASK
    # (https://docs.snowflake.com/en/user-guide/tasks-intro#label-tasks-privileges).
    from snowmesh.deploy.tasks import deploy_steps

    for step in deploy_steps(mesh):
        expected = mesh.domain(step.domain).engineer_role
        if step.owner != expected:
            out.fail(f"task graph {step.dag.name} is created as {step.owner or 'the connection role'}, not {expected}: "
                     f"its tasks would run with that role's rights")
        else:
            out.proven.append(f"task graph {step.dag.name} is created as {expected}: its tasks run as {step.domain}")


def owners_of_procedures(statements: Sequence[Statement]) -> dict[str, str]:
    """``DB.S.P(TYPES)`` -> the role the plan hands the procedure to."""
    out = {}
    for s in statements:
        if (m := _OWNERSHIP.match(s.sql)) is not None:
            out[f"{m.group(1)}.{m.group(2)}.{m.group(3)}{m.group(4)}"] = m.group(5)
    return out


__all__ = ["ACCOUNT_PRIVILEGES", "NEEDS", "SYSTEM_ROLES", "Need", "check_runs_as", "check_senders", "need_of", "owners_of_procedures", "schema_owners"]
