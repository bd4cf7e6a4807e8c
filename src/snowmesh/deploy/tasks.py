"""Deploy the mesh's task graphs (pipeline/dag.py) to a real account with snowflake.core.

One graph per domain, in ``<DOMAIN_DB>.STAGING`` next to the build procedures it CALLs, each
replaced as a whole: ``DAGOperation(schema).deploy(dag, mode=CreateMode.or_replace)``.

:func:`deploy_steps` spells out what that deploy does, call by call and in its order
(snowflake.core 1.10), without connecting: it is what ``--dry-run`` prints. A test runs the
real DAGOperation against a recording schema and holds the two to each other.

The local account cannot run tasks (shared/EMULATION.md): there ``mesh run`` walks the same
graphs in-process, in dependency order.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from snowflake.core import CreateMode, Root
from snowflake.core.task import Cron
from snowflake.core.task.dagv1 import DAG, DAGOperation, DAGTask

from snowmesh.errors import StepFailed
from snowmesh.manifest.model import STAGING, Mesh
from snowmesh.pipeline.dag import mesh_dags

TASK_SCHEMA = STAGING
ROOT_DEFINITION = "select 'dag dummy root'"  # what dagv1 makes the graph's root task run


@dataclass(frozen=True)
class TaskLine:
    """One task as deployed: enough to review a deploy without reading snowflake.core."""

    dag: str
    name: str  # <DAG>$<TASK> for children, the DAG's name for its root
    schedule: str  # the graph's schedule: only the root carries it, every task runs on it
    warehouse: str
    after: tuple[str, ...]
    definition: str
    role: str  # root | task | finalizer


@dataclass(frozen=True)
class DagDeploy:
    domain: str
    dag: DAG
    database: str
    schema: str
    tasks: tuple[TaskLine, ...]
    calls: tuple[str, ...]  # the snowflake.core calls, in order


def schedule_text(schedule: Cron | timedelta | None) -> str:
    if isinstance(schedule, Cron):
        return f"USING CRON {schedule.expr} {schedule.timezone}"
    if isinstance(schedule, timedelta):
        return f"{int(schedule.total_seconds() // 60)} MINUTE"
    return "(none: runs only when executed)"


def _q(text: str) -> str:
    return repr(text)


def create_call(name: str, definition: str, warehouse: str | None, *, schedule: Cron | timedelta | None = None,
                predecessors: list[str] | None = None, finalize: str | None = None, mode: str | None = None) -> str:
    """``tasks.create(Task(...))`` as text: the fields that decide what and when a task runs."""
    fields = [f"name={_q(name)}", f"definition={_q(definition)}", f"warehouse={_q(warehouse or '')}"]
    if schedule is not None:
        fields.append(f"schedule={_q(schedule_text(schedule))}")
    if predecessors:
        fields.append(f"predecessors={sorted(predecessors)!r}")
    if finalize:
        fields.append(f"finalize={_q(finalize)}")
    tail = f", mode=CreateMode.{mode}" if mode else ""
    return f"tasks.create(Task({', '.join(fields)}){tail})"


def creation_order(dag: DAG) -> list[DAGTask]:
    """The order DAGOperation.deploy creates child tasks in (its Kahn sort, reversed)."""
    in_degree: defaultdict[DAGTask, int] = defaultdict(int)
    for node in dag.tasks:
        for pred in node.predecessors:
            in_degree[pred] += 1
    queue = deque(n for n in dag.tasks if in_degree[n] == 0)
    ordered: list[DAGTask] = []
    while queue:
        node = queue.popleft()
        ordered.append(node)
        for pred in node.predecessors:
            in_degree[pred] -= 1
            if in_degree[pred] == 0:
                queue.append(pred)
    return list(reversed(ordered))


def _task_lines(dag: DAG, order: list[DAGTask]) -> list[TaskLine]:
    sched = schedule_text(dag.schedule)
    lines = [TaskLine(dag.name, dag.name, sched, dag.warehouse or "", (), ROOT_DEFINITION, "root")]
    finalizer = dag.get_finalizer_task()
    for t in order:
        is_final = finalizer is not None and t.name == finalizer.name
        after = tuple(sorted(p.full_name for p in t.predecessors)) or (() if is_final else (dag.name,))
        lines.append(TaskLine(dag.name, t.full_name, sched, t.warehouse or "", after, str(t.definition),
                              "finalizer" if is_final else "task"))
    return lines


def _calls(dag: DAG, lines: list[TaskLine], database: str, schema: str) -> list[str]:
    calls = [
        f"schema = root.databases[{_q(database)}].schemas[{_q(schema)}]",
        f"DAGOperation(schema).deploy(dag={_q(dag.name)}, mode=CreateMode.or_replace):",
        f"tasks[{_q(dag.name)}].fetch()  # exists: suspend it, then suspend and drop its child tasks",
        create_call(dag.name, ROOT_DEFINITION, dag.warehouse, schedule=dag.schedule),
    ]
    for line in lines[1:]:
        final = line.role == "finalizer"
        calls.append(create_call(line.name, line.definition, line.warehouse,
                                 predecessors=None if final else list(line.after),
                                 finalize=dag.name if final else None, mode="or_replace"))
        calls.append(f"tasks[{_q(line.name)}].resume()")
    if dag.schedule is not None:
        calls.append(f"tasks[{_q(dag.name)}].resume()")
    return calls


def deploy_steps(mesh: Mesh) -> list[DagDeploy]:
    """Every graph's deploy, producers' first, as data. Pure: no connection."""
    out = []
    for domain, dag, _ in mesh_dags(mesh):
        lines = _task_lines(dag, creation_order(dag))
        out.append(DagDeploy(domain.name, dag, domain.database, TASK_SCHEMA, tuple(lines),
                             tuple(_calls(dag, lines, domain.database, TASK_SCHEMA))))
    return out


_CALL = re.compile(r'^CALL\s+("[A-Z0-9_$]+"(?:\."[A-Z0-9_$]+"){2})\((.*)\)\s*$', re.DOTALL)
_ARG = re.compile(r"'(?:[^']|'')*'|[^,\s][^,]*")


def unshipped_calls(mesh: Mesh) -> list[str]:
    """Task definitions that CALL a procedure (name and arity) snowflake.yml does not ship.

    Such a task deploys fine and fails when it runs: the deploy says so up front.
    """
    from snowmesh.deploy.project_file import procedure_specs

    shipped = {(f'"{s.database}"."{s.schema}"."{s.name}"', len(s.arguments)) for s in procedure_specs(mesh)}
    missing: dict[str, None] = {}
    for step in deploy_steps(mesh):
        for t in step.tasks:
            m = _CALL.match(t.definition)
            if not m:
                continue
            arity = len(_ARG.findall(m.group(2)))
            if (m.group(1), arity) not in shipped:
                missing[f"{m.group(1).replace(chr(34), '')}({arity} argument{'s' if arity != 1 else ''})"] = None
    return list(missing)


def root_for(connection: Any) -> Root:
    """A snowflake.core Root on the target's connector connection (or Snowpark Session)."""
    return Root(connection)


def deploy_dags(root: Any, mesh: Mesh) -> list[DagDeploy]:
    """Create or replace every graph, then resume it: it runs on its schedule from now on.

    ``root`` is a snowflake.core Root, or anything shaped like one (tests pass a recorder).
    """
    done = []
    for step in deploy_steps(mesh):
        schema = root.databases[step.database].schemas[step.schema]
        try:
            with warnings.catch_warnings():
                # dagv1 warns that drop(drop_finalizer=False) will change; deploy keeps the
                # finalizer and replaces it with CreateMode.or_replace either way.
                warnings.simplefilter("ignore", DeprecationWarning)
                DAGOperation(schema).deploy(step.dag, mode=CreateMode.or_replace)
        except Exception as exc:  # snowflake.core raises APIError subclasses; say which graph failed
            raise StepFailed(
                f"deploying task graph {step.dag.name} to {step.database}.{step.schema} failed: {exc}",
                hint="deploy the procedures first (snow snowpark deploy); the role needs CREATE TASK on the "
                "schema and EXECUTE TASK on the account",
            ) from exc
        done.append(step)
    return done
