"""Entry points: audit the rendered plan (+ Terraform), or a real account's grants.

Both build a privilege graph and run the same proofs (snowmesh.access.verify); they differ in
where the graph comes from and what it is compared with.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from snowmesh.access.grants import plan_graph
from snowmesh.access.lineage import check_lineage
from snowmesh.access.policies import check_policies
from snowmesh.access.procs import read_declarations
from snowmesh.access.readers import check_readers
from snowmesh.access.report import AuditReport, CheckResult
from snowmesh.access.senders import check_runs_as, check_senders, schema_owners
from snowmesh.access.showgrants import Query, account_drift, collect
from snowmesh.access.terraform import consumer_grants_graph, governance_graph
from snowmesh.access.verify import (
    Context,
    diff_layers,
    is_consumer_edge,
    is_governance_edge,
    object_inventory,
    prove,
)
from snowmesh.deploy.plan import build_plan, to_send
from snowmesh.deploy.procedure_rights import publish_sent, view_owner
from snowmesh.deploy.project_file import procedure_specs
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.manifest.model import Mesh


def _statements(mesh: Mesh, statements: Sequence[Statement] | None) -> list[Statement]:
    # The real-account variant: the local one only adds the integration and the stages, no grant.
    return list(build_plan(mesh, local=False).all if statements is None else statements)


def audit_plan(mesh: Mesh, *, statements: Sequence[Statement] | None = None,
               terraform_dir: Path | None = None) -> AuditReport:
    """Prove the properties on the rendered grants plus Terraform's consumer and governance grants.

    ``statements`` replaces the rendered plan (tests inject grants this way);
    ``terraform_dir`` defaults to ``<mesh root>/terraform`` and is skipped when absent.
    """
    procedures = read_declarations(mesh)
    stmts = _statements(mesh, statements)
    published = publish_sent(mesh, date.today())
    plan = plan_graph(stmts)
    tf_dir = terraform_dir or mesh.root / "terraform"
    if tf_dir.is_dir():
        tf = consumer_grants_graph(tf_dir).merged(governance_graph(tf_dir))
        graph = plan.merged(tf)  # the account holds both layers' grants
        drift = diff_layers("terraform-drift", plan, tf, lambda e: is_consumer_edge(e) or is_governance_edge(e),
                            ("the rendered SQL", "Terraform"))
    else:
        graph = plan
        drift = CheckResult("terraform-drift", skipped=f"no Terraform directory at {tf_dir}")
    ctx = Context(mesh, graph, procedures, object_inventory(mesh, stmts, procedures), procedure_specs(mesh))
    # The deploy's statements, then what each domain's PUBLISH sends as its owner (its code, rendered
    # on the registry rows): both must be executable by their senders on the grants above.
    sent = [*to_send([s for s in stmts if s.kind != Kind.INSERT and s not in published], local=False), *published]
    senders = check_senders(graph, sent, view_owners={d.database: view_owner(d) for d in mesh.domains},
                            owned_schemas=schema_owners(stmts))
    check_runs_as(mesh, procedures, stmts, senders)
    return AuditReport("plan + terraform" if tf_dir.is_dir() else "plan",
                       [*prove(ctx), check_policies(mesh), senders, check_readers(mesh, graph), check_lineage(mesh), drift])


def audit_account(mesh: Mesh, query: Query, name: str) -> AuditReport:
    """Prove the properties on what SHOW GRANTS reports, and diff it with the manifests."""
    procedures = read_declarations(mesh)
    stmts = _statements(mesh, None)
    actual = collect(mesh, query)
    ctx = Context(mesh, actual, procedures, object_inventory(mesh, stmts, procedures), procedure_specs(mesh))
    return AuditReport(f"account {name}", [*prove(ctx, declared_roles=False),
                                           account_drift(mesh, plan_graph(stmts), actual)])


__all__ = ["audit_account", "audit_plan"]
