"""Credits per domain warehouse, per task and product, against each domain's monthly quota.

Real account: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY (what the warehouse billed,
month to date) and QUERY_ATTRIBUTION_HISTORY grouped by the JSON query tag every task sets
(snowmesh.pipeline.dag.query_tag). Both views lag by up to a few hours.

Local account: nothing is metered, so this is the ESTIMATE from GOVERNANCE_DB.AUDIT.TASK_RUNS
of ``governance.cost`` (busy credits, and credits with the 60 s minimum per DAG run), the very
code the Streamlit page runs in Snowflake.
Reads follow the warehouse: Finance's task that reads Marketing's views runs on FINANCE_WH.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from governance import cost
from governance.sql import literal
from snowmesh.manifest.model import Mesh

Query = Callable[[str], list[tuple]]
CREDITS_PER_HOUR = cost.CREDITS_PER_HOUR
MIN_BILLED_SECONDS = cost.MIN_BILLED_SECONDS
TASK_RUNS = cost.TASK_RUNS
rate = cost.credits_per_hour  # credits per hour of a standard warehouse size


@dataclass
class TaskCost:
    warehouse: str
    task: str
    product: str | None
    credits: float
    seconds: float | None = None  # local estimate only
    reads: tuple[str, ...] = ()  # other domains' products this task reads (billed here)


@dataclass
class WarehouseCost:
    domain: str
    warehouse: str
    size: str
    quota: int
    credits: float  # billed (real) / billed estimate (local)
    busy_credits: float | None = None  # local estimate only
    seconds: float | None = None

    @property
    def quota_pct(self) -> float:
        return 100.0 * self.credits / self.quota if self.quota else 0.0


@dataclass
class FinOpsReport:
    source: str  # "estimate from TASK_RUNS" | "ACCOUNT_USAGE"
    estimate: bool
    warehouses: list[WarehouseCost] = field(default_factory=list)
    tasks: list[TaskCost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _task_index(mesh: Mesh) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Task name -> (product, cross-domain inputs) from the manifests (names as in dag.py)."""
    out: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for p in mesh.products:
        reads = tuple(str(i) for i in p.inputs if not i.is_raw and i.namespace != p.domain)
        for step in ("BUILD", "VALIDATE", "PUBLISH"):
            out[f"{step}_{p.name}"] = (p.key, reads if step == "BUILD" else ())
    return out


def local_sql() -> str:
    """This month's TASK_RUNS (UTC, like STARTED_AT), summed per run and task in the warehouse."""
    return cost.task_runs_sql(cost.month_start())


def warehouses(mesh: Mesh) -> list[cost.Warehouse]:
    return [cost.Warehouse(d.name, d.warehouse.name, d.warehouse.size, d.warehouse.monthly_credit_quota)
            for d in mesh.domains]


def estimate(mesh: Mesh, rows: list[tuple]) -> FinOpsReport:
    """The local estimate (governance.cost) from TASK_RUNS rows (RUN_ID, WAREHOUSE, TASK, SECONDS[, TASK_RUNS])."""
    report = FinOpsReport(cost.LABEL, estimate=True)
    index = _task_index(mesh)
    per_wh, per_task = cost.estimate(warehouses(mesh), rows)
    for w in per_wh:
        report.warehouses.append(WarehouseCost(w.domain, w.warehouse, w.size, w.quota, w.credits,
                                               w.busy_credits, w.seconds))
    for t in per_task:
        product, reads = index.get(t.task, (None, ()))
        report.tasks.append(TaskCost(t.warehouse, t.task, product, t.credits, t.seconds, reads))
    report.notes.append(cost.NOTE)
    return report


def metering_sql(warehouses: list[str]) -> str:
    names = ", ".join(literal(w) for w in warehouses)
    return (
        "SELECT WAREHOUSE_NAME, SUM(CREDITS_USED) FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY "
        f"WHERE START_TIME >= DATE_TRUNC('month', CURRENT_DATE()) AND WAREHOUSE_NAME IN ({names}) "
        "GROUP BY 1"
    )


def attribution_sql() -> str:
    # TRY_PARSE_JSON: other tools' non-JSON tags must not fail the report.
    return (
        "SELECT WAREHOUSE_NAME, TRY_PARSE_JSON(QUERY_TAG):task::STRING, TRY_PARSE_JSON(QUERY_TAG):product::STRING, "
        "SUM(CREDITS_ATTRIBUTED_COMPUTE) FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY "
        "WHERE START_TIME >= DATE_TRUNC('month', CURRENT_DATE()) "
        f"AND TRY_PARSE_JSON(QUERY_TAG):app::STRING = {literal('snowmesh')} "
        "GROUP BY 1, 2, 3 ORDER BY 4 DESC"
    )


def from_account_usage(mesh: Mesh, query: Query) -> FinOpsReport:
    report = FinOpsReport("SNOWFLAKE.ACCOUNT_USAGE (month to date)", estimate=False)
    metered = {str(w): float(c or 0) for w, c in query(metering_sql([d.warehouse.name for d in mesh.domains]))}
    for d in mesh.domains:
        wh = d.warehouse
        report.warehouses.append(WarehouseCost(d.name, wh.name, wh.size, wh.monthly_credit_quota,
                                               metered.get(wh.name, 0.0)))
    index = _task_index(mesh)
    for wh, task, product, credits in query(attribution_sql()):
        reads = index.get(str(task), (None, ()))[1]
        report.tasks.append(TaskCost(str(wh), str(task), product, float(credits or 0), reads=reads))
    report.notes.append("QUERY_ATTRIBUTION_HISTORY excludes idle time; its sum is below the metered credits")
    return report


def finops(mesh: Mesh, query: Query, is_local: bool) -> FinOpsReport:
    if is_local:
        return estimate(mesh, query(local_sql()))
    return from_account_usage(mesh, query)


__all__ = ["CREDITS_PER_HOUR", "FinOpsReport", "TaskCost", "WarehouseCost", "attribution_sql", "estimate",
           "finops", "from_account_usage", "local_sql", "metering_sql", "rate", "warehouses"]
