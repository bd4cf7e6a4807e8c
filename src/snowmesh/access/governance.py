"""The ingest procedure's privileges (part of proof 3) and the governance database (proof 6).

``<DB>.RAW.INGEST()`` runs with its owner's rights, as the domain's engineer (like the builds,
``procs.ProcedureDecl.runs_as``): it LISTs and COPYs from the external stage ``RAW.LANDING``,
reads its sources from ``GOVERNANCE_DB.CATALOG.SOURCES`` and writes the domain's RAW tables.

``GOVERNANCE_DB`` holds the registries (CATALOG) and the audit trail (AUDIT). The audit is
written only by the governance role's owner's-rights procedures (VALIDATE_PRODUCT, RECORD_DAG_RUN)
and the deploy, as the role that owns them (``plan.GOVERNANCE_ROLE``, Terraform's: it holds the
CREATE privileges on both schemas) -- so no other role may write anything in the database. The
engineers, the role each domain's INGEST and PUBLISH run as, read exactly what those read: the
source registry (INGEST), the product registry and the validation audit (PUBLISH's fail-closed
check), and hold APPLY on the three column tags PUBLISH sets on its views. Analysts read nothing
there. Procedure USAGE is proof 5's.
"""

from __future__ import annotations

from governance.ingest import LEDGER, SOURCES_TABLE, STAGE
from governance.product_health import AUDIT_TABLE, REGISTRY_TABLE
from governance.publish import CLASSIFICATION_TAG, DOMAIN_TAG, UNMASK_TAG
from governance.sql import split_fqn
from snowmesh.access.graph import Reach, Role, is_write
from snowmesh.access.report import CheckResult
from snowmesh.access.verify import PLATFORM_ROLES, Context, Name, can
from snowmesh.deploy.plan import GOVERNANCE_ROLE
from snowmesh.deploy.project_file import DOMAIN_PROCEDURES
from snowmesh.infra.tfvars import GOVERNANCE_DB
from snowmesh.manifest.model import RAW, Domain

AUDIT, CATALOG = "AUDIT", "CATALOG"
SOURCES: Name = split_fqn(SOURCES_TABLE)
REGISTRY: Name = split_fqn(REGISTRY_TABLE)
AUDIT_RESULTS: Name = split_fqn(AUDIT_TABLE)
# What a domain pipeline (INGEST, PUBLISH) reads of GOVERNANCE_DB, and the tags PUBLISH sets.
PIPELINE_READS: frozenset[Name] = frozenset({SOURCES, REGISTRY, AUDIT_RESULTS})
PIPELINE_TAGS: frozenset[Name] = frozenset({CLASSIFICATION_TAG, DOMAIN_TAG, UNMASK_TAG})
INGEST = next(p for p in DOMAIN_PROCEDURES if p.name == "INGEST")


def ingest_needs(d: Domain) -> list[tuple[str, str, str, Name]]:
    """(what for, action, type, name): ``read``/``write`` as in ``verify.can``, or one privilege."""
    db = d.database
    out: list[tuple[str, str, str, Name]] = [
        ("runs on", "USAGE", "WAREHOUSE", (d.warehouse.name,)),
        ("LISTs and COPYs from", "USAGE", "STAGE", (db, RAW, STAGE)),
        ("reads its sources from", "read", "TABLE", SOURCES),
        ("records loaded files in", "write", "TABLE", (db, RAW, LEDGER)),
        ("skips loaded files listed in", "SELECT", "TABLE", (db, RAW, LEDGER)),
    ]
    for s in d.sources:
        out += [("loads", "write", "TABLE", (db, RAW, s.landing_table)),
                ("empties", "TRUNCATE", "TABLE", (db, RAW, s.landing_table)),
                ("types into", "write", "TABLE", (db, RAW, s.name)),
                ("quarantines into", "write", "TABLE", (db, RAW, s.quarantine_table))]
    return out


def check_ingest(ctx: Context, out: CheckResult) -> None:
    """Each domain's INGEST, as its engineer, holds everything its SQL takes (added to proof 3)."""
    for d in ctx.mesh.domains:
        role = Role(d.engineer_role)
        label = f"{d.database}.{INGEST.schema}.{INGEST.name} runs as {role}"
        missing: list[str] = []
        held: dict[str, Reach] = {}
        for what, action, type_, name in ingest_needs(d):
            fq = ".".join(name)
            if action in ("read", "write"):
                reaches, lacks = can(ctx.graph, role, action, type_, name)
                missing += lacks
                if not lacks:
                    held[f"{what} {fq}"] = reaches[-1]
            elif (reach := ctx.graph.find(role, action, type_, name)) is None:
                missing.append(f"{action} on {fq}")
            else:
                held[f"{what} {fq}"] = reach
        if missing:
            out.fail(f"{label} but lacks {', '.join(dict.fromkeys(missing))} (INGEST would fail with insufficient "
                     "privileges)")
            continue
        stage = f"{d.database}.{RAW}.{STAGE}"
        for key in (f"LISTs and COPYs from {stage}", f"reads its sources from {'.'.join(SOURCES)}"):
            out.proven.append(f"{d.name} INGEST {key}: {held[key].render()}")
        out.proven.append(f"{d.name} INGEST writes its {len(d.sources) * 3 + 1} RAW tables")


def _allowed(ctx: Context, role: Role, reach: Reach) -> str:
    """'' when ``role`` may hold this privilege in GOVERNANCE_DB, else why not."""
    g, on = reach.grant, reach.grant.on
    if is_write(g.privilege):
        return "only the owner's-rights procedures and the deploy write the governance database"
    engineers = {Role(d.engineer_role) for d in ctx.mesh.domains}
    if g.privilege == "USAGE" and on.type == "DATABASE" and on.name == (GOVERNANCE_DB,):
        return ""
    if g.privilege == "USAGE" and on.type == "SCHEMA" and on.name in ((GOVERNANCE_DB, CATALOG), (GOVERNANCE_DB, AUDIT)):
        return "" if on.name[1] == CATALOG or role in engineers else "only the engineers, whose PUBLISH reads it, read the audit"
    if g.privilege == "SELECT" and on.type == "TABLE" and not on.scope and on.name in PIPELINE_READS:
        if role in engineers:
            return ""
        return f"only the engineers, whose INGEST and PUBLISH read it, read {'.'.join(on.name)}"
    if g.privilege == "APPLY" and on.type == "TAG" and on.name in PIPELINE_TAGS and role in engineers:
        return ""
    return (f"in {GOVERNANCE_DB} a domain role reads only {', '.join(sorted('.'.join(n) for n in PIPELINE_READS))} "
            "and applies only the column tags")


def check_governance(ctx: Context) -> CheckResult:
    """6. No role but the platform's writes GOVERNANCE_DB or reaches its audit; in the catalog
    only the source registry is readable, and only by the engineers.

    Every account role is walked with everything it inherits, so a database role is judged
    through whoever holds it (one no account role holds grants nothing).
    """
    out = CheckResult("governance")
    # The governance role owns the database's objects by design (and is held by no domain role:
    # proof 1 would show a domain role reaching its writes through it).
    roles = [r for r in ctx.account_roles() if r not in PLATFORM_ROLES and r != Role(GOVERNANCE_ROLE)]
    readers: set[Role] = set()
    for role in roles:
        for r in ctx.graph.reach(role):
            on = r.grant.on
            if on.database != GOVERNANCE_DB or (on.type == "PROCEDURE" and not on.scope):
                continue  # USAGE on a procedure: proof 5
            why = _allowed(ctx, role, r)
            if why:
                who = ctx.domain_of(role)
                label = f"{who.name}'s role {role}" if who else f"role {role}"
                out.fail(f"{label} holds {r.grant.privilege} on {on}: {why}", r.render())
            elif on.name == SOURCES:
                readers.add(role)
    if out.ok:
        platform = " and ".join(sorted(str(p) for p in (*PLATFORM_ROLES, Role(GOVERNANCE_ROLE))))
        out.proven.append(f"no role but {platform} writes {GOVERNANCE_DB} or reaches {GOVERNANCE_DB}.{AUDIT}")
        out.proven.append(f"{'.'.join(SOURCES)} is read by {', '.join(sorted(str(r) for r in readers)) or 'no role'}")
    return out


__all__ = ["check_governance", "check_ingest", "ingest_needs"]
