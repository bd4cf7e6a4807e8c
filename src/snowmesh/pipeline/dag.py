"""The mesh's task graphs, defined once from the manifests with snowflake.core's dagv1.

One DAG per domain, because every task of a Snowflake task graph must live in one
database/schema and have one owner -- the domain's. Each runs on its domain's cron and
warehouse:

    <DOMAIN>_INGEST -> BUILD_<P> -> VALIDATE_<P> -> PUBLISH_<P>   (per product)
                                       ... -> <DOMAIN>_FINALIZE (finalizer: audit record)

A domain that reads another domain's products runs after they publish: on a real account its
root is a triggered task on streams of its producers' publications (snowmesh.pipeline.triggers),
locally the walker runs the producers' graphs first and a consumer's only if one of them
published. A domain that reads no other domain runs on its cron.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from snowflake.core.task import Cron
from snowflake.core.task.dagv1 import DAG, DAGTask

from governance.sql import literal
from snowmesh.manifest.model import Domain, Mesh, Product

INGEST, BUILD, VALIDATE, PUBLISH, FINALIZE = "ingest", "build", "validate", "publish", "finalize"


@dataclass(frozen=True)
class TaskSpec:
    name: str
    domain: str
    kind: str
    product: str | None = None  # DOMAIN.PRODUCT

    @property
    def label(self) -> str:
        return f"{self.domain}.{self.name}"


def query_tag(spec: TaskSpec) -> str:
    """Per task and product, so QUERY_ATTRIBUTION_HISTORY can split each warehouse's credits."""
    return json.dumps({"app": "snowmesh", "domain": spec.domain, "task": spec.name, "product": spec.product},
                      sort_keys=True)


def procedure_name(p: Product) -> str:
    return f"BUILD_{p.name}"


def _definition(d: Domain, spec: TaskSpec) -> str:
    """The SQL each task runs on a real account (procedures deployed from snowflake.yml)."""
    if spec.kind == INGEST:
        return f'CALL "{d.database}"."RAW"."INGEST"()'
    if spec.kind == BUILD:
        assert spec.product
        return f'CALL "{d.database}"."STAGING"."BUILD_{spec.product.split(".")[1]}"()'
    if spec.kind == VALIDATE:
        return f'CALL "GOVERNANCE_DB"."CATALOG"."VALIDATE_PRODUCT"({literal(spec.product)})'
    if spec.kind == PUBLISH:
        return f'CALL "{d.database}"."PRODUCTS"."PUBLISH"({literal(spec.product)})'
    return f'CALL "GOVERNANCE_DB"."AUDIT"."RECORD_DAG_RUN"({literal(d.name)})'


def domain_dag(d: Domain, *, triggered: bool = False) -> tuple[DAG, dict[str, TaskSpec]]:
    """``triggered``: the domain reads another domain's products, so its root runs when they publish
    (snowmesh.pipeline.triggers), not on its cron."""
    specs: dict[str, TaskSpec] = {}
    with DAG(
        f"{d.name}_PIPELINE",
        schedule=None if triggered else Cron(d.cron, d.timezone),
        warehouse=d.warehouse.name,
        comment=f"snowmesh pipeline of the {d.name} domain",
        allow_overlapping_execution=False,
        suspend_task_after_num_failures=3,
    ) as dag:

        def task(spec: TaskSpec, *, finalizer: bool = False) -> DAGTask:
            specs[spec.name] = spec
            return DAGTask(
                spec.name, _definition(d, spec), warehouse=d.warehouse.name, is_finalizer=finalizer or None,
                session_parameters={"QUERY_TAG": query_tag(spec)},
            )

        ingest = task(TaskSpec(f"{d.name}_INGEST", d.name, INGEST))
        for p in d.products:
            build = task(TaskSpec(f"BUILD_{p.name}", d.name, BUILD, p.key))
            validate = task(TaskSpec(f"VALIDATE_{p.name}", d.name, VALIDATE, p.key))
            publish = task(TaskSpec(f"PUBLISH_{p.name}", d.name, PUBLISH, p.key))
            ingest >> build >> validate >> publish
        # In-domain product dependencies: build after the upstream product's publish.
        for p in d.products:
            for up in p.inputs:
                if not up.is_raw and up.namespace == d.name:
                    dag.get_task(f"PUBLISH_{up.name}") >> dag.get_task(f"BUILD_{p.name}")
        task(TaskSpec(f"{d.name}_FINALIZE", d.name, FINALIZE), finalizer=True)
    return dag, specs


def mesh_dags(mesh: Mesh) -> list[tuple[Domain, DAG, dict[str, TaskSpec]]]:
    """Every domain's DAG, producers before consumers (a topological sort of the domains'
    product reads and consumer declarations, Mesh.domains_in_order)."""
    from snowmesh.federation_export import add_export_tasks  # EXPORT_<P>_<CLOUD> after PUBLISH_<P>
    from snowmesh.pipeline.triggers import producers

    out = [(d, *domain_dag(d, triggered=bool(producers(mesh, d)))) for d in mesh.domains_in_order()]
    for d, dag, specs in out:
        add_export_tasks(mesh, d, dag, specs)
    return out


def walk(dag: DAG, specs: dict[str, TaskSpec]) -> list[TaskSpec]:
    """Tasks of one DAG in dependency order (Kahn), the finalizer last."""
    tasks = [t for t in dag.tasks if specs[t.name].kind != FINALIZE]
    done: list[str] = []
    pending = {t.name: {p.name for p in t.predecessors} for t in tasks}
    while pending:
        ready = sorted(n for n, preds in pending.items() if preds <= set(done))
        if not ready:
            raise RuntimeError(f"cycle in DAG {dag.name}: {sorted(pending)}")
        for n in ready:
            done.append(n)
            del pending[n]
    finalizers = [t.name for t in dag.tasks if specs[t.name].kind == FINALIZE]
    return [specs[n] for n in done + finalizers]
