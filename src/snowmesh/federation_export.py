"""The Snowflake side of the federated export: integration, stage, the EXPORT task, and its run.

For every (domain, target cloud) with a federated product:

- **Terraform** creates the storage integration ``<DOMAIN>_FEDERATION_<GCS|AZURE>_INTEGRATION``
  (allowed only on ``<bucket or container>/<domain>/``) and the external stage
  ``<DB>.PRODUCTS.FEDERATION_<GCS|AZURE>`` on it, and grants USAGE on the stage to the domain's
  engineer (terraform/federation_snowflake.tf). Both need the export bucket's or storage
  account's name, an account setting Terraform alone holds (``gcs_export_bucket``,
  ``azure_export_filesystem_id``), so -- like the LANDING stage -- the deploy plan renders them
  only for the local account, where they are recorded with stand-in locations (:data:`LOCAL_ROOTS`).
- **The task graph** gets ``EXPORT_<P>_<CLOUD>`` after ``PUBLISH_<P>``: one ``COPY INTO @stage``
  of the contract's columns from the published view (:func:`snowmesh.federation.export_copy`),
  owned and run by the domain's engineer like every task of the graph.
- **Locally** the COPY cannot reach GCS or Azure: the walker records it (ACCOUNT_OBJECTS, like
  every statement the emulator cannot run) and writes the same rows, the same columns, as one
  Parquet file to a moto S3 bucket standing in for the bucket/container, at the same key. No
  cloud is reached and nothing says one was (docs/federation.md).

Pure except :func:`run_export` (the side-effecting step the walker calls).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from snowmesh import federation as fed
from snowmesh.deploy import render as r
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.manifest.model import PRODUCTS, Domain, FederationTarget, Mesh, Product

EXPORT = "export"  # the TaskSpec kind of an EXPORT_<P>_<CLOUD> task
# Local stand-ins for the export bucket (GCS) and container (Azure): the local plan's integration and
# stage name these; the walker writes the Parquet to the moto bucket of the same name. Never a real cloud.
LOCAL_ROOTS = {
    fed.BIGQUERY: "gcs://local-federation-gcs/",
    fed.SYNAPSE: "azure://localfederation.blob.core.windows.net/local-federation-azure/",
}
LOCAL_BUCKETS = {fed.BIGQUERY: "local-federation-gcs", fed.SYNAPSE: "local-federation-azure"}
LOCAL_AZURE_TENANT = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Export:
    """One product's export to one target cloud."""

    domain: Domain
    product: Product
    target: FederationTarget

    @property
    def cloud(self) -> str:
        return fed.CLOUDS[self.target.target]

    @property
    def stage(self) -> str:
        return fed.EXPORT_STAGES[self.target.target]

    @property
    def task(self) -> str:
        return f"EXPORT_{self.product.name}_{self.cloud}"


def exports(mesh: Mesh) -> list[Export]:
    return [Export(d, p, f) for d in mesh.domains for p in d.products for f in p.federation]


def copy_sql(mesh: Mesh, e: Export) -> str:
    """The task's one statement: the contract's columns from the published view, as Parquet."""
    return fed.export_copy(e.domain, e.product, e.target, mesh.contracts[e.product.contract][1])


# --- the plan: what Terraform creates, rendered the same way for the local account -------------


def _stages(mesh: Mesh) -> dict[tuple[str, str], Domain]:
    """(domain, target) pairs with at least one export, in manifest order."""
    return {(e.domain.name, e.target.target): e.domain for e in exports(mesh)}


def plan_statements(mesh: Mesh, *, local: bool) -> Iterator[tuple[Statement, str]]:
    """(statement, domain), all Terraform's on a real account. Locally the integration and the
    stage are rendered with the stand-in locations and recorded; on a real account only the
    grant is rendered (the plan shows it; Terraform sends it), like the LANDING stage's."""
    for (domain, target), d in _stages(mesh).items():
        cloud, stage = fed.CLOUDS[target], fed.EXPORT_STAGES[target]
        integration = fed.export_integration(domain, target)
        if local:
            url = LOCAL_ROOTS[target] + fed.domain_prefix(domain)
            tenant = LOCAL_AZURE_TENANT if cloud == "AZURE" else ""
            yield r.cloud_storage_integration(integration, cloud, [url], azure_tenant_id=tenant), domain
            yield r.external_stage_at(d.database, PRODUCTS, stage, url, integration), domain
        # The EXPORT task's owner writes through the stage: USAGE is the one privilege an external
        # stage takes for COPY INTO <location> (https://docs.snowflake.com/en/user-guide/security-access-control-privileges#stage-privileges).
        yield r.grant_on(["USAGE"], "STAGE", [d.database, PRODUCTS, stage], d.engineer_role), domain


def add_to_plan(plan: Any, mesh: Mesh, *, local: bool) -> None:
    """The deploy plan's hook (snowmesh.deploy.plan.build_plan)."""
    for stmt, domain in plan_statements(mesh, local=local):
        plan.add(stmt, domain=domain, terraform=True)


# --- the task graph --------------------------------------------------------------------------


def add_export_tasks(mesh: Mesh, d: Domain, dag: Any, specs: dict[str, Any]) -> None:
    """EXPORT_<P>_<CLOUD> after PUBLISH_<P>, in the domain's graph (snowmesh.pipeline.dag's hook).

    One task per target cloud, so each is one COPY statement and a failing cloud does not hide
    the other's export. A publish that fails or is refused skips its exports (the walker) or
    leaves them unrun (a real graph: a task runs only after its predecessor succeeds)."""
    from snowflake.core.task.dagv1 import DAGTask

    from snowmesh.pipeline.dag import TaskSpec, query_tag

    for e in exports(mesh):
        if e.domain.name != d.name:
            continue
        spec = TaskSpec(e.task, d.name, EXPORT, e.product.key)
        specs[spec.name] = spec
        task = DAGTask(spec.name, copy_sql(mesh, e), warehouse=d.warehouse.name, dag=dag,
                       session_parameters={"QUERY_TAG": query_tag(spec)})
        dag.get_task(f"PUBLISH_{e.product.name}") >> task


def export_of(mesh: Mesh, task_name: str, product_key: str) -> Export:
    [e] = [e for e in exports(mesh) if e.product.key == product_key and e.task == task_name]
    return e


# --- the run (the walker's EXPORT step) --------------------------------------------------------


def run_export(target: Any, mesh: Mesh, e: Export, reporter: Any) -> str:
    """Run (real account) or record and emulate (local account) one export; returns the task message."""
    from snowmesh.deploy.apply import apply
    from snowmesh.errors import StepFailed

    sql = copy_sql(mesh, e)
    where = f"@{e.domain.database}.{PRODUCTS}.{e.stage}/{fed.stage_path(e.product)}{fed.EXPORT_FILE}"
    if not target.is_local:
        rows = target.sql(sql)  # rows_unloaded, input_bytes, output_bytes
        return f"{rows[0][0] if rows else 0} rows unloaded to {where}"
    stmt = Statement(Kind.STORAGE_INTEGRATION, where, sql, e.domain.name, e.domain.engineer_role)
    apply(target, [stmt], reporter, description=f"export {e.product.name} to {e.cloud} (recorded)")
    bucket, key = LOCAL_BUCKETS[e.target.target], fed.export_prefix(e.product) + fed.EXPORT_FILE
    try:
        rows = _write_parquet(target, fed.export_select(e.domain, e.product, mesh.contracts[e.product.contract][1]),
                              bucket, key)
    except StepFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed local export is the task's result, said once
        raise StepFailed(f"local export of {e.product.key} to s3://{bucket}/{key} failed: {str(exc).splitlines()[0]}") from None
    return (f"{rows} rows written to s3://{bucket}/{key} (local stand-in for {LOCAL_ROOTS[e.target.target]}); "
            f"the COPY to {where} is recorded, not run")


def _write_parquet(target: Any, select: str, bucket: str, key: str) -> int:
    """The export's rows as one Parquet file (streamed in Arrow batches) put at ``s3://bucket/key``."""
    import pyarrow.parquet as pq

    s3 = target.s3
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - absent on a fresh local account
        s3.create_bucket(Bucket=bucket)
    fd, tmp = tempfile.mkstemp(suffix=".parquet")
    os.close(fd)
    rows = 0
    try:
        writer = None
        with target.conn.cursor() as cur:
            cur.execute(select)
            for batch in cur.fetch_arrow_batches():
                writer = writer or pq.ParquetWriter(tmp, batch.schema)
                writer.write_table(batch)
                rows += batch.num_rows
            if writer is None:  # no rows: the columns still, as text (the cursor's description)
                import pyarrow as pa

                writer = pq.ParquetWriter(tmp, pa.schema([(c.name, pa.string()) for c in cur.description]))
        writer.close()
        s3.upload_file(tmp, bucket, key)  # one object: a re-export replaces it (OVERWRITE, SINGLE)
    finally:
        os.unlink(tmp)
    return rows


# --- the gate ------------------------------------------------------------------------------------


def export_problems(mesh: Mesh) -> list[str]:
    """Every federated product has its stage (rendered), an EXPORT task after its PUBLISH, and a COPY
    that selects exactly the contract's columns, in order, from the published view. Pure."""
    from snowmesh.pipeline.dag import mesh_dags

    problems: list[str] = []
    stages = {s.object_name for s, _ in plan_statements(mesh, local=True) if s.sql.startswith("CREATE STAGE")}
    graphs = {d.name: dag for d, dag, _ in mesh_dags(mesh)}
    for e in exports(mesh):
        where = f"{e.product.key}: export to {e.cloud}"
        if f"{e.domain.database}.{PRODUCTS}.{e.stage}" not in stages:
            problems.append(f"{where} has no stage {e.domain.database}.{PRODUCTS}.{e.stage}")
        dag = graphs[e.domain.name]
        task = next((t for t in dag.tasks if t.name == e.task), None)
        if task is None or f"PUBLISH_{e.product.name}" not in {p.name for p in task.predecessors}:
            problems.append(f"{where}: no task {e.task} after PUBLISH_{e.product.name} in {dag.name}")
            continue
        problems += _copy_problems(where, str(task.definition), e, mesh)
    return problems


def _copy_problems(where: str, sql: str, e: Export, mesh: Mesh) -> list[str]:
    tree = sqlglot.parse_one(sql, read="snowflake")
    select = tree.find(exp.Select) if isinstance(tree, exp.Copy) else None
    if select is None:
        return [f"{where}: the task's statement is not a COPY INTO <location> FROM (SELECT ...)"]
    got = [c.alias_or_name for c in select.selects]
    columns = mesh.contracts[e.product.contract][1].columns
    want = [c.name for c in columns]
    # A protected column must leave as NULL (federation.withheld): a copy is outside the masking.
    leaks = [c.name for c, sel in zip(columns, select.selects)
             if fed.withheld(c) and not (isinstance(sel, exp.Alias) and isinstance(sel.this, exp.Cast)
                                         and isinstance(sel.this.this, exp.Null))]
    if leaks:
        return [f"{where} exports the protected column(s) {', '.join(leaks)} in clear: withhold them (NULL)"]
    source = select.find(exp.Table)
    view = f'"{e.domain.database}"."{PRODUCTS}"."{e.product.view}"'
    if got != want or source is None or source.sql("snowflake") != view:
        found = source.sql("snowflake") if source else None
        return [f"{where} selects {got} from {found}, but the contract has {want} in {view}"]
    return []
