"""RECORD_DAG_RUN(domain): the task graph's finalizer appends one summary row to the audit.

``CALL GOVERNANCE_DB.AUDIT.RECORD_DAG_RUN('MARKETING')`` is the <DOMAIN>_FINALIZE task: it runs
after every other task of the graph run, whether they succeeded or not. On Snowflake it reads
this graph run's tasks from INFORMATION_SCHEMA.TASK_HISTORY (root task and graph run from
SYSTEM$TASK_RUNTIME_INFO); the local walker passes the TaskRuns it has just audited instead.
Either way :func:`record_dag_run` appends the same row to GOVERNANCE_DB.AUDIT.DAG_RUNS (append
only: nothing there is updated).

When the history cannot be read (not in a task, no privilege) it records STATUS = 'UNKNOWN' with
the reason. When it reads no row at all it also records UNKNOWN and then fails loudly: TASK_HISTORY
"returns results only for ... the task owner (or a role with MONITOR / OPERATE on the task, or
MONITOR EXECUTION)" (https://docs.snowflake.com/en/sql-reference/functions/task_history), so an
empty history means the procedure's owner cannot see this graph's tasks -- never that they all
succeeded (the governance role holds MONITOR EXECUTION, granted by Terraform, for this read).

Handler for snowflake.yml: ``governance.dag_run.record`` -- signature (DOMAIN VARCHAR), returns
VARCHAR. Stdlib + Snowpark only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from governance.sql import check_ident, fqn, literal, split_fqn

DAG_RUNS_TABLE = "GOVERNANCE_DB.AUDIT.DAG_RUNS"
DAG_RUNS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("RUN_ID", "VARCHAR NOT NULL"),
    ("DOMAIN", "VARCHAR NOT NULL"),
    ("DAG", "VARCHAR NOT NULL"),
    ("STATUS", "VARCHAR NOT NULL"),  # SUCCEEDED | FAILED | UNKNOWN
    ("TASKS", "NUMBER NOT NULL"),
    ("SUCCEEDED", "NUMBER NOT NULL"),
    ("FAILED", "NUMBER NOT NULL"),
    ("SKIPPED", "NUMBER NOT NULL"),
    ("FAILED_TASKS", "VARCHAR"),
    ("MESSAGE", "VARCHAR"),
    ("RECORDED_AT", "TIMESTAMP_NTZ NOT NULL"),
)
_FAILED_STATES = frozenset({"FAILED", "FAILED_AND_AUTO_SUSPENDED", "CANCELLED"})


@dataclass(frozen=True)
class DagRunSummary:
    run_id: str
    domain: str
    dag: str
    status: str
    tasks: int
    succeeded: int
    failed: int
    skipped: int
    failed_tasks: tuple[str, ...]
    message: str = ""

    @property
    def sentence(self) -> str:
        if self.status == "UNKNOWN":
            return f"{self.dag}: task history unavailable ({self.message})"
        if self.failed_tasks:
            return f"{self.dag}: {len(self.failed_tasks)} task(s) did not succeed: {', '.join(self.failed_tasks)}"
        return f"{self.dag}: all {self.tasks} task(s) succeeded"


def dag_name(domain: str) -> str:
    return f"{check_ident(domain)}_PIPELINE"  # = snowmesh.pipeline.dag.domain_dag's name


def summarize(run_id: str, domain: str, tasks: Sequence[tuple[str, str]], message: str = "") -> DagRunSummary:
    """``tasks``: (task name, state) of every task of the run but the finalizer."""
    ok = sum(1 for _, s in tasks if s == "SUCCEEDED")
    skipped = sum(1 for _, s in tasks if s == "SKIPPED")
    failed = tuple(n for n, s in tasks if s != "SUCCEEDED")  # skipped too: the product did not publish
    status = "SUCCEEDED" if not failed else "FAILED"
    return DagRunSummary(run_id, domain, dag_name(domain), status, len(tasks), ok,
                         sum(1 for _, s in tasks if s in _FAILED_STATES), skipped, failed, message)


def task_graph_history(session: Any) -> tuple[str, list[tuple[str, str]]]:
    """(graph run id, [(task, state)]) of the current graph run, on Snowflake, from inside a task."""
    info = session.sql(
        "SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_GRAPH_RUN_GROUP_ID'), "
        "SYSTEM$TASK_RUNTIME_INFO('CURRENT_ROOT_TASK_UUID'), SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_NAME')"
    ).collect()[0]
    group, root, me = (str(v) if v is not None else "" for v in info)
    if not group or not root:
        raise RuntimeError("not running inside a task graph")
    # Latest attempt per task of this graph run; the finalizer itself is still EXECUTING.
    rows = session.sql(
        'SELECT "NAME", "STATE" FROM TABLE(INFORMATION_SCHEMA.TASK_HISTORY('
        f"ROOT_TASK_ID => {literal(root)}, RESULT_LIMIT => 10000)) "
        f'WHERE "GRAPH_RUN_GROUP_ID" = {literal(group)} AND "NAME" <> {literal(me.split(".")[-1])} '
        'QUALIFY ROW_NUMBER() OVER (PARTITION BY "NAME" ORDER BY "ATTEMPT_NUMBER" DESC) = 1'
    ).collect()
    return group, [(str(n), str(s)) for n, s in rows]


def append_summary(session: Any, summary: DagRunSummary, table: str = DAG_RUNS_TABLE) -> None:
    db, schema, name = split_fqn(table)
    cols = ", ".join(f"{fqn(c)} {t}" for c, t in DAG_RUNS_COLUMNS)
    session.sql(f"CREATE SCHEMA IF NOT EXISTS {fqn(db, schema)}").collect()
    session.sql(f"CREATE TABLE IF NOT EXISTS {fqn(db, schema, name)} ({cols})").collect()
    values = [
        literal(summary.run_id), literal(summary.domain), literal(summary.dag), literal(summary.status),
        str(summary.tasks), str(summary.succeeded), str(summary.failed), str(summary.skipped),
        literal(",".join(summary.failed_tasks)), literal(summary.message[:2000]), "SYSDATE()",
    ]
    session.sql(
        f"INSERT INTO {fqn(db, schema, name)} ({', '.join(fqn(c) for c, _ in DAG_RUNS_COLUMNS)}) "
        f"VALUES ({', '.join(values)})"
    ).collect()


def record_dag_run(session: Any, domain: str, *, run_id: str | None = None,
                   tasks: Sequence[tuple[str, str]] | None = None) -> DagRunSummary:
    """Append this graph run's summary. ``tasks`` given (the local walker): use them as they are."""
    if tasks is None:
        try:
            run_id, tasks = task_graph_history(session)
        except Exception as exc:  # noqa: BLE001 - record what we can rather than fail the finalizer
            summary = DagRunSummary(run_id or uuid.uuid4().hex, check_ident(domain), dag_name(domain), "UNKNOWN",
                                    0, 0, 0, 0, (), f"{type(exc).__name__}: {exc}".splitlines()[0])
            append_summary(session, summary)
            return summary
        if not tasks:  # the owner sees none of this graph's tasks: an unseen run is not a success
            why = ("no task history visible for this graph run: the procedure's owner needs MONITOR EXECUTION "
                   "(or OWNERSHIP/MONITOR on the tasks) to read TASK_HISTORY")
            append_summary(session, DagRunSummary(run_id or uuid.uuid4().hex, check_ident(domain), dag_name(domain),
                                                  "UNKNOWN", 0, 0, 0, 0, (), why))
            raise RuntimeError(f"{dag_name(domain)}: {why}")
    summary = summarize(run_id or uuid.uuid4().hex, domain, tasks)
    append_summary(session, summary)
    return summary


def record(session: Any, domain: str) -> str:
    """Stored-procedure handler of RECORD_DAG_RUN(DOMAIN)."""
    return record_dag_run(session, domain).sentence
