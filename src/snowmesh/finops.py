"""Credits per domain warehouse, per task and product, against each domain's monthly quota.

Real account: SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY (what the warehouse billed,
month to date) and QUERY_ATTRIBUTION_HISTORY grouped by the JSON query tag every task sets
(snowmesh.pipeline.dag.query_tag). Both views lag by up to a few hours.

Local account: nothing is metered, so this is an ESTIMATE from GOVERNANCE_DB.AUDIT.TASK_RUNS:

    busy credits   = sum(SECONDS) x rate(size) / 3600              per warehouse (and per task)
    billed credits = sum over runs of max(60, busy seconds of that run) x rate / 3600
                     (a DAG run resumes its warehouse once; per-second billing, 60 s minimum)

The auto-suspend idle tail after each run is not counted, so billed is a lower bound.
Reads follow the warehouse: Finance's task that reads Marketing's views runs on FINANCE_WH.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from governance.sql import literal
from snowmesh.manifest.model import Mesh

Query = Callable[[str], list[tuple]]
CREDITS_PER_HOUR = {"XSMALL": 1, "SMALL": 2, "MEDIUM": 4, "LARGE": 8, "XLARGE": 16}
MIN_BILLED_SECONDS = 60
TASK_RUNS = '"GOVERNANCE_DB"."AUDIT"."TASK_RUNS"'


def rate(size: str) -> int:
    """Credits per hour of a standard warehouse size (X-SMALL and XSMALL both accepted)."""
    return CREDITS_PER_HOUR[size.upper().replace("-", "")]


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


def local_sql(month_to_date: bool = True) -> str:
    where = " WHERE \"STARTED_AT\" >= DATE_TRUNC('month', CURRENT_DATE())" if month_to_date else ""
    return f'SELECT "RUN_ID", "WAREHOUSE", "TASK", "SECONDS" FROM {TASK_RUNS}{where}'


def estimate(mesh: Mesh, rows: list[tuple]) -> FinOpsReport:
    """The local estimate from TASK_RUNS rows (RUN_ID, WAREHOUSE, TASK, SECONDS). Pure."""
    report = FinOpsReport("estimate from GOVERNANCE_DB.AUDIT.TASK_RUNS", estimate=True)
    index = _task_index(mesh)
    per_run: dict[tuple[str, str], float] = defaultdict(float)
    per_task: dict[tuple[str, str], float] = defaultdict(float)
    for run_id, wh, task, seconds in rows:
        per_run[(wh, run_id)] += float(seconds or 0)
        per_task[(wh, task)] += float(seconds or 0)
    for d in mesh.domains:
        wh = d.warehouse
        r = rate(wh.size)
        runs = [s for (w, _), s in per_run.items() if w == wh.name]
        busy = sum(runs)
        billed = sum(max(MIN_BILLED_SECONDS, s) for s in runs)
        report.warehouses.append(WarehouseCost(d.name, wh.name, wh.size, wh.monthly_credit_quota,
                                               billed * r / 3600, busy * r / 3600, busy))
    sizes = {d.warehouse.name: d.warehouse.size for d in mesh.domains}
    for (wh, task), seconds in sorted(per_task.items(), key=lambda kv: -kv[1]):
        product, reads = index.get(task, (None, ()))
        credits = seconds * rate(sizes[wh]) / 3600 if wh in sizes else 0.0
        report.tasks.append(TaskCost(wh, task, product, credits, seconds, reads))
    report.notes.append("estimate: seconds measured per task x credits/hour of the warehouse size; "
                        f"billed adds the {MIN_BILLED_SECONDS} s minimum per run (one resume per run)")
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
           "finops", "from_account_usage", "local_sql", "metering_sql", "rate"]
