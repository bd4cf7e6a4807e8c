"""``mesh run``: deploy, land, then walk every domain's task graph in dependency order."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from governance.sql import ident, literal
from snowmesh import audit, federation_export
from snowmesh.console import Reporter
from snowmesh.deploy.apply import ApplyResult
from snowmesh.deploy.plan import build_plan
from snowmesh.errors import LocalAccountError, StepFailed
from snowmesh.ingest import SourceLoad
from snowmesh.manifest.model import PRODUCTS, Mesh, Product
from snowmesh.pipeline import steps
from snowmesh.pipeline.dag import BUILD, FINALIZE, INGEST, PUBLISH, VALIDATE, mesh_dags, query_tag, walk
from snowmesh.target import Target


@dataclass
class TaskRun:
    dag: str
    task: str
    status: str
    seconds: float
    warehouse: str
    message: str = ""


@dataclass
class RunReport:
    run_id: str
    deploy: ApplyResult | None = None
    loads: list[SourceLoad] = field(default_factory=list)
    products: dict[str, steps.ProductOutcome] = field(default_factory=dict)
    tasks: list[TaskRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.status == "SUCCEEDED" for t in self.tasks) and all(
            o.published for o in self.products.values()
        )


def deploy(target: Target, mesh: Mesh, reporter: Reporter) -> ApplyResult:
    from governance.ingest import register_sources
    from snowmesh.catalog import refresh_registry
    from snowmesh.ingest import source_spec
    from snowmesh.policies import apply_governed

    plan = build_plan(mesh, local=target.is_local)
    # Tags and masking policies only where the edition supports them (said in the output).
    result = apply_governed(target, plan.statements, reporter, description="deploy")
    refresh_registry(target, mesh)  # GOVERNANCE_DB.CATALOG.DATA_PRODUCTS follows the manifests
    for d in mesh.domains:  # what a deployed INGEST() procedure loads (GOVERNANCE_DB.CATALOG.SOURCES)
        register_sources(target.session, d.name, d.database, [source_spec(s) for s in d.sources])
    return result


def walk_mesh(target: Target, mesh: Mesh, reporter: Reporter, report: RunReport) -> None:
    audit.ensure(target)
    from snowmesh.pipeline.triggers import not_triggered

    for domain, dag, specs in mesh_dags(mesh):  # producers' graphs before their consumers'
        order = walk(dag, specs)
        wh = domain.warehouse.name
        blocked: set[str] = set()  # products whose earlier step failed: later steps skip
        # As on a real account, a consumer's graph runs only after a producer publishes (its root is
        # triggered by streams on their publications); otherwise every task is SKIPPED, saying why.
        published = {k for k, o in report.products.items() if o.published}
        if (why := not_triggered(mesh, domain, published)) is not None:
            for spec in order:
                report.tasks.append(TaskRun(dag.name, spec.name, "SKIPPED", 0.0, wh, why))
                audit.record_task_run(target, report.run_id, dag.name, spec.name, "SKIPPED", audit.now(), 0.0, wh, why)
            continue
        with reporter.progress(f"{dag.name}", total=len(order)) as advance:
            for spec in order:
                started, t0 = audit.now(), time.perf_counter()
                status, message = "SUCCEEDED", ""
                # USE WAREHOUSE bills the step to its domain (a no-op on the local account); the
                # query tag attributes it to the task and product (fakesnow has no ALTER SESSION).
                target.sql(f"USE WAREHOUSE {ident(wh)}")
                if not target.is_local:
                    target.sql(f"ALTER SESSION SET QUERY_TAG = {literal(query_tag(spec))}")
                try:
                    if spec.kind == INGEST:
                        report.loads.extend(steps.run_ingest(target, mesh, spec.domain, reporter))
                    elif spec.kind == FINALIZE:
                        # RECORD_DAG_RUN's code, fed the walker's own task runs instead of TASK_HISTORY.
                        from governance.dag_run import record_dag_run

                        runs = [(t.task, t.status) for t in report.tasks if t.dag == dag.name]
                        message = record_dag_run(target.session, spec.domain, run_id=report.run_id, tasks=runs).sentence
                    else:
                        assert spec.product is not None
                        p = mesh.product(spec.product)
                        outcome = report.products.setdefault(p.key, steps.ProductOutcome(p.key))
                        if p.key in blocked:
                            status, message = "SKIPPED", "an earlier step of this product failed"
                        elif spec.kind == BUILD:
                            steps.run_build(target, mesh, p, outcome)
                            message = f"{outcome.staged_rows} rows staged"
                        elif spec.kind == VALIDATE:
                            steps.run_validate(target, mesh, p, report.run_id, outcome)
                            if not outcome.validation_passed:
                                status, message = "FAILED", "; ".join(outcome.failed_checks)[:2000]
                                blocked.add(p.key)
                        elif spec.kind == PUBLISH:
                            outcome.message = ""  # the build's message is not the publish's
                            steps.run_publish(target, mesh, p, reporter, outcome)
                            message = _publish_message(mesh, p, outcome)
                        elif spec.kind == federation_export.EXPORT:  # after a successful publish only
                            if not outcome.published:
                                status, message = "SKIPPED", "not published in this run: nothing new to export"
                            else:
                                e = federation_export.export_of(mesh, spec.name, p.key)
                                message = federation_export.run_export(target, mesh, e, reporter)
                except LocalAccountError:
                    raise  # the account is gone: no later task can run, and nothing can be audited
                except StepFailed as exc:
                    status, message = "FAILED", exc.message
                except Exception as exc:  # noqa: BLE001 - a task failure is a result of the run, audited, not a crash
                    target.fail_if_gone()  # a dead local server surfaces as any client error
                    status, message = "FAILED", f"{type(exc).__name__}: {exc}"
                    if spec.product:
                        blocked.add(spec.product)
                run = TaskRun(dag.name, spec.name, status, time.perf_counter() - t0, wh, message)
                report.tasks.append(run)
                audit.record_task_run(target, report.run_id, dag.name, spec.name, status, started, run.seconds, wh, message)
                advance(1)
    from snowmesh.catalog import refresh_health

    refresh_health(target, mesh)  # registry: last validation, freshness, rows after this run


def _publish_message(mesh: Mesh, p: Product, outcome: steps.ProductOutcome) -> str:
    """What TASK_RUNS says of a PUBLISH: the rows now serving and the view, or why nothing was."""
    if not outcome.published:
        return outcome.message or "not published"
    view = f"{mesh.domain(p.domain).database}.{PRODUCTS}.{p.view}"
    return f"{outcome.published_rows} rows published as {view}"


def run_mesh(target: Target, mesh: Mesh, reporter: Reporter) -> RunReport:
    report = RunReport(run_id=uuid.uuid4().hex[:12])
    report.deploy = deploy(target, mesh, reporter)
    walk_mesh(target, mesh, reporter, report)
    return report
