"""The one credit ESTIMATE from task-run seconds: ``mesh finops`` on the local account and the page.

Streamlit in Snowflake cannot import the client package (``snowmesh``), but it ships
``governance/`` (snowflake.yml's streamlit entity), so the estimate lives here and both import it.
Stdlib only: it also travels in the procedures zip.

From ``GOVERNANCE_DB.AUDIT.TASK_RUNS`` (what the task graphs ran, and for how long):

    rate           = credits per hour of the warehouse size (XSMALL 1, SMALL 2, MEDIUM 4, ...)
    busy credits   = sum(SECONDS) x rate / 3600                      per warehouse, and per task
    credits        = sum over DAG runs of max(60, busy seconds of the run) x rate / 3600
                     (a run resumes its warehouse once; per-second billing, 60 s minimum)

``credits`` is what is compared with the monthly quota. It is a lower bound of the bill: no
auto-suspend tail, no cloud services, no queries outside the task graphs. On a real account
SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY is the billed figure (snowmesh.finops).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from governance.sql import literal

# Standard warehouse credits per hour by size (Snowflake's published table).
CREDITS_PER_HOUR = {
    "XSMALL": 1, "SMALL": 2, "MEDIUM": 4, "LARGE": 8, "XLARGE": 16, "XXLARGE": 32,
    "XXXLARGE": 64, "X4LARGE": 128, "X5LARGE": 256, "X6LARGE": 512,
}  # fmt: skip
_SIZE_ALIASES = {"2XLARGE": "XXLARGE", "3XLARGE": "XXXLARGE", "4XLARGE": "X4LARGE", "5XLARGE": "X5LARGE",
                 "6XLARGE": "X6LARGE"}
MIN_BILLED_SECONDS = 60
TASK_RUNS = '"GOVERNANCE_DB"."AUDIT"."TASK_RUNS"'
LABEL = "estimate from GOVERNANCE_DB.AUDIT.TASK_RUNS"


def credits_per_hour(size: str) -> float:
    """Credits per hour of a standard warehouse size (``X-SMALL``, ``XSMALL``, ``2XLARGE`` ... accepted)."""
    key = size.upper().replace("-", "").replace("_", "")
    key = _SIZE_ALIASES.get(key, key)
    if key not in CREDITS_PER_HOUR:
        raise ValueError(f"unknown warehouse size {size!r}")
    return float(CREDITS_PER_HOUR[key])


def month_start(now: datetime | None = None) -> datetime:
    """The first instant of ``now``'s month, UTC and naive like TASK_RUNS.STARTED_AT (audit.now())."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def task_runs_sql(since: datetime) -> str:
    """(RUN_ID, WAREHOUSE, TASK, SECONDS, TASK_RUNS) since ``since``, summed in the warehouse per run and
    task: the estimate needs each run's seconds (the 60 s minimum), nothing finer."""
    return (
        'SELECT "RUN_ID", "WAREHOUSE", "TASK", SUM("SECONDS") AS "SECONDS", COUNT(*) AS "TASK_RUNS" '
        f"FROM {TASK_RUNS} WHERE \"STARTED_AT\" >= CAST({literal(f'{since:%Y-%m-%d %H:%M:%S}')} AS TIMESTAMP_NTZ) "
        'GROUP BY "RUN_ID", "WAREHOUSE", "TASK"'
    )


@dataclass(frozen=True)
class Warehouse:
    domain: str
    name: str
    size: str
    quota: float  # the manifest's monthly_credit_quota (the resource monitor's)


@dataclass(frozen=True)
class WarehouseEstimate:
    domain: str
    warehouse: str
    size: str
    quota: float
    task_runs: int
    dag_runs: int
    seconds: float
    busy_credits: float
    credits: float  # with the 60 s minimum per run: what the quota is compared with

    @property
    def quota_pct(self) -> float | None:
        return 100.0 * self.credits / self.quota if self.quota else None


@dataclass(frozen=True)
class TaskEstimate:
    warehouse: str
    task: str
    task_runs: int
    seconds: float
    credits: float  # busy credits of this task's runs


def estimate(warehouses: Sequence[Warehouse], rows: Iterable[Sequence]) -> tuple[list[WarehouseEstimate],
                                                                                  list[TaskEstimate]]:
    """The estimate from TASK_RUNS rows ``(RUN_ID, WAREHOUSE, TASK, SECONDS[, TASK_RUNS])``: raw rows
    (one per task run) or :func:`task_runs_sql`'s sums give the same answer. Pure.

    Returns one estimate per given warehouse (in order), and one per (warehouse, task), most
    seconds first; tasks on a warehouse no manifest declares are costed at 0 credits.
    """
    per_run: dict[tuple[str, str], float] = defaultdict(float)
    per_task: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        run_id, wh, task, seconds = (str(row[0]), str(row[1]), str(row[2]), float(row[3] or 0))
        count = int(row[4]) if len(row) > 4 else 1
        per_run[(wh, run_id)] += seconds
        per_task[(wh, task)][0] += seconds
        per_task[(wh, task)][1] += count
    out = []
    for w in warehouses:
        rate = credits_per_hour(w.size)
        runs = [s for (name, _), s in per_run.items() if name == w.name]
        busy = sum(runs)
        out.append(WarehouseEstimate(
            w.domain, w.name, w.size, w.quota,
            task_runs=int(sum(c for (name, _), (_, c) in per_task.items() if name == w.name)),
            dag_runs=len(runs), seconds=busy, busy_credits=busy * rate / 3600,
            credits=sum(max(MIN_BILLED_SECONDS, s) for s in runs) * rate / 3600,
        ))  # fmt: skip
    sizes = {w.name: w.size for w in warehouses}
    tasks = [
        TaskEstimate(wh, task, int(count), seconds,
                     seconds * credits_per_hour(sizes[wh]) / 3600 if wh in sizes else 0.0)
        for (wh, task), (seconds, count) in sorted(per_task.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    return out, tasks


NOTE = (f"estimate: seconds measured per task x credits/hour of the warehouse size; credits add the "
        f"{MIN_BILLED_SECONDS} s minimum per DAG run (one resume per run); no auto-suspend tail, cloud services "
        "or queries outside the task graphs")

__all__ = ["CREDITS_PER_HOUR", "LABEL", "MIN_BILLED_SECONDS", "NOTE", "TASK_RUNS", "TaskEstimate", "Warehouse",
           "WarehouseEstimate", "credits_per_hour", "estimate", "month_start", "task_runs_sql"]
