"""Deploy the mesh's task graphs (pipeline/dag.py) to a real account with snowflake.core: compare, then apply.

One graph per domain, in ``<DOMAIN_DB>.STAGING`` next to the build procedures it CALLs. The
desired tasks are exactly the ``Task`` objects snowflake.core's dagv1 makes of the graph (what
``DAGOperation.deploy`` would create). The deploy reads the schema's tasks of that graph
(``TaskCollection.iter`` + ``TaskResource.fetch``), compares the fields the graph sets, and
touches only what differs:

* missing task -> ``tasks.create(task)`` (then ``resume()``, the root last);
* a task whose owned fields differ -> ``tasks[name].create_or_alter(task)`` (CREATE OR ALTER TASK:
  the task keeps its identity and history), suspended around it when it was started;
* a task of the graph that the manifests no longer have -> suspended and dropped;
* a task that is suspended but should run -> ``resume()``.

Snowflake refuses changes to a task of a started graph, so when anything changes the root task
is suspended first and resumed last. Nothing differs -> no call but the reads: running the deploy
twice changes nothing the second time.

:func:`plan_dag` is pure (existing tasks in, operations out): ``--dry-run`` prints its
operations; without a connection it plans against an empty schema (the first deploy).

The local account cannot run tasks (shared/EMULATION.md): there ``mesh run`` walks the same
graphs in-process, in dependency order.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from snowflake.core import Root
from snowflake.core.task import Cron, Task
from snowflake.core.task.dagv1 import DAG, DAGTask

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
    owner: str = ""  # the role that creates and owns the graph's tasks: the domain's engineer
    condition: str | None = None  # a triggered root's WHEN (snowmesh.pipeline.triggers); None: its cron
    root_definition: str = ROOT_DEFINITION


def schedule_text(schedule: Cron | timedelta | None) -> str:
    if isinstance(schedule, Cron):
        return f"USING CRON {schedule.expr} {schedule.timezone}"
    if isinstance(schedule, timedelta):
        return f"{int(schedule.total_seconds() // 60)} MINUTE"
    return "(none: runs only when executed)"


def _q(text: str) -> str:
    return repr(text)


# What the deploy owns of a task: every field dagv1 sets from the graph. A field the graph leaves
# unset (None) is not compared; the account's value stands.
OWNED_FIELDS = (
    "definition", "warehouse", "schedule", "comment", "config", "session_parameters", "condition",
    "allow_overlapping_execution", "suspend_task_after_num_failures", "user_task_timeout_ms",
    "task_auto_retry_attempts", "error_integration", "user_task_managed_initial_warehouse_size",
    "target_completion_interval", "serverless_task_min_statement_size", "serverless_task_max_statement_size",
)  # fmt: skip
GRAPH_FIELDS = ("predecessors", "finalize")  # always compared: they place the task in its graph
STARTED = "started"


def task_text(task: Task) -> str:
    """``Task(...)`` as text: every field the deploy sends, for review and for the recorder tests."""
    fields = [f"name={_q(task.name)}"]
    for f in (*OWNED_FIELDS, *GRAPH_FIELDS):
        v = getattr(task, f)
        if v is None:
            continue
        if f == "schedule":
            v = schedule_text(v)
        elif f == "predecessors":
            v = sorted(v)
        fields.append(f"{f}={v!r}")
    return f"Task({', '.join(fields)})"


@dataclass(frozen=True)
class TaskOp:
    """One snowflake.core call that changes the account."""

    verb: str  # suspend | create | alter | resume | drop
    name: str
    task: Task | None = None  # create / alter: the task as it should be
    fields: tuple[str, ...] = ()  # alter: the owned fields that differ

    @property
    def call(self) -> str:
        if self.verb == "create":
            assert self.task is not None
            return f"tasks.create({task_text(self.task)})"
        if self.verb == "alter":
            assert self.task is not None
            return f"tasks[{_q(self.name)}].create_or_alter({task_text(self.task)})  # differs: {', '.join(self.fields)}"
        return f"tasks[{_q(self.name)}].{self.verb}()"


@dataclass(frozen=True)
class DagChanges:
    """A graph's deploy, compared with what the schema holds."""

    step: DagDeploy
    ops: tuple[TaskOp, ...]
    unchanged: tuple[str, ...]  # tasks already as the graph wants them (fields and state)
    existing: int  # tasks of this graph found in the schema

    def names(self, verb: str) -> list[str]:
        return [o.name for o in self.ops if o.verb == verb]

    @property
    def summary(self) -> str:
        counts = [f"{len(self.names(v))} {w}" for v, w in
                  (("create", "created"), ("alter", "altered"), ("drop", "dropped")) if self.names(v)]
        counts.append(f"{len(self.unchanged)} unchanged")
        return ", ".join(counts)


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


def _task_lines(dag: DAG, order: list[DAGTask], condition: str | None = None,
                root_definition: str = ROOT_DEFINITION) -> list[TaskLine]:
    sched = f"WHEN {condition}" if condition else schedule_text(dag.schedule)
    lines = [TaskLine(dag.name, dag.name, sched, dag.warehouse or "", (), root_definition, "root")]
    finalizer = dag.get_finalizer_task()
    for t in order:
        is_final = finalizer is not None and t.name == finalizer.name
        after = tuple(sorted(p.full_name for p in t.predecessors)) or (() if is_final else (dag.name,))
        lines.append(TaskLine(dag.name, t.full_name, sched, t.warehouse or "", after, str(t.definition),
                              "finalizer" if is_final else "task"))
    return lines


def deploy_steps(mesh: Mesh) -> list[DagDeploy]:
    """Every graph's tasks, producers' first, as data. Pure: no connection."""
    from snowmesh.pipeline import triggers

    out = []
    for domain, dag, _ in mesh_dags(mesh):
        when = triggers.condition(mesh, domain)
        body = triggers.root_definition(mesh, domain) if when else ROOT_DEFINITION
        lines = _task_lines(dag, creation_order(dag), when, body)
        out.append(DagDeploy(domain.name, dag, domain.database, TASK_SCHEMA, tuple(lines), domain.engineer_role,
                             when, body))
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


# --- compare -------------------------------------------------------------------------------


def desired_tasks(dag: DAG, condition: str | None = None, root_definition: str = ROOT_DEFINITION) -> list[Task]:
    """The tasks ``DAGOperation.deploy`` would create, in its order: the root, then every child after
    its predecessors. dagv1's own conversion (1.10), so the comparison sees exactly what it sends;
    a triggered root (``condition``) has no schedule, that WHEN, and a body that consumes its streams."""
    root = dag._to_low_level_task()
    if condition:
        root.condition, root.definition = condition, root_definition
    return [root, *(t._to_low_level_task() for t in creation_order(dag))]


_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


def _short(name: str) -> str:
    """``"DB"."S"."DAG$T"`` / ``DB.S.DAG$T`` / ``DAG$T`` -> ``DAG$T``: the account may qualify names."""
    parts = [q.replace('""', '"') if q else u for q, u in _PART.findall(name.strip())]
    return parts[-1] if parts else name


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(sorted(_short(v) for v in ([value] if isinstance(value, str) else value)))


def _scalar(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _normal(field: str, v: Any) -> Any:
    if v is None:
        return None
    if field == "definition":
        return " ".join(str(v).strip().rstrip(";").split())
    if field == "schedule":
        if isinstance(v, Cron):
            return ("cron", " ".join(v.expr.split()).upper(), v.timezone.upper())
        return ("minutes", int(v.total_seconds() // 60)) if isinstance(v, timedelta) else ("text", str(v))
    if field in ("warehouse", "error_integration"):
        return str(v).strip('"')
    if field == "config":
        return json.dumps(json.loads(v) if isinstance(v, str) else v, sort_keys=True)
    return _scalar(v)


def differences(want: Task, have: Task) -> tuple[str, ...]:
    """The fields of ``want`` that ``have`` (as the account returns it) does not match."""
    out = []
    for f in OWNED_FIELDS:
        w, h = getattr(want, f), getattr(have, f, None)
        if w is None:
            continue
        if f == "session_parameters":  # the account may report more parameters than the graph sets
            h = h or {}
            same = all(k in h and _scalar(h[k]) == _scalar(v) for k, v in w.items())
        else:
            same = _normal(f, w) == _normal(f, h)
        if not same:
            out.append(f)
    for f in GRAPH_FIELDS:
        if _names(getattr(want, f)) != _names(getattr(have, f, None)):
            out.append(f)
    return tuple(out)


def _started(task: Task) -> bool:
    return str(task.state or "").lower() == STARTED


def plan_dag(step: DagDeploy, existing: Mapping[str, Task]) -> DagChanges:
    """What to call so the schema holds ``step``'s graph, given the graph's tasks it holds now. Pure."""
    dag = step.dag
    root = dag.name
    runs_by_itself = dag.schedule is not None or step.condition is not None  # a cron, or a stream trigger
    want = desired_tasks(dag, step.condition, step.root_definition)
    wanted = {t.name for t in want}
    have_root = existing.get(root)
    body: list[TaskOp] = []
    unchanged: list[str] = []
    # Tasks of this graph the manifests no longer have go first: a renamed finalizer must be gone
    # before its successor is attached to the root.
    for name in sorted(n for n in existing if n not in wanted):
        if _started(existing[name]):
            body.append(TaskOp("suspend", name))
        body.append(TaskOp("drop", name))
    for t in want:
        have = existing.get(t.name)
        child = t.name != root
        if have is None:
            body.append(TaskOp("create", t.name, t))
            if child:
                body.append(TaskOp("resume", t.name))  # created suspended; the root resumes last
            continue
        fields = differences(t, have)
        if fields:
            if child and _started(have):
                body.append(TaskOp("suspend", t.name))
            body.append(TaskOp("alter", t.name, t, fields))
            if child:
                body.append(TaskOp("resume", t.name))
        elif child and not _started(have):
            body.append(TaskOp("resume", t.name))
        elif child or _started(have) or not runs_by_itself:
            unchanged.append(t.name)
    root_started = have_root is not None and _started(have_root)
    ops = [TaskOp("suspend", root)] if body and root_started else []
    ops += body
    if runs_by_itself and (body or not root_started):
        ops.append(TaskOp("resume", root))  # last: Snowflake runs the graph from its root's schedule
    return DagChanges(step, tuple(ops), tuple(unchanged), len(existing))


# --- apply ---------------------------------------------------------------------------------


def existing_tasks(schema: Any, dag_name: str) -> dict[str, Task]:
    """The schema's tasks of one graph: its root and every ``<DAG>$<TASK>``. Reads only."""
    # LIKE's `_` matches any character: list a superset, then keep the graph's own names.
    names = [t.name for t in schema.tasks.iter(like=f"{dag_name}%")]
    ours = [n for n in names if n == dag_name or n.startswith(f"{dag_name}$")]
    return {n: schema.tasks[n].fetch() for n in ours}


def apply_ops(schema: Any, ops: Iterable[TaskOp]) -> None:
    for op in ops:
        if op.verb == "create":
            schema.tasks.create(op.task)
        elif op.verb == "alter":
            schema.tasks[op.name].create_or_alter(op.task)
        elif op.verb in ("suspend", "resume", "drop"):
            getattr(schema.tasks[op.name], op.verb)()
        else:
            raise ValueError(f"unknown task operation {op.verb!r}")


def first_deploy(mesh: Mesh) -> list[DagChanges]:
    """Every graph planned against an empty schema: what a first deploy calls. No connection."""
    return [plan_dag(step, {}) for step in deploy_steps(mesh)]


def deploy_dags(root: Any, mesh: Mesh, *, dry_run: bool = False,
                use_role: Callable[[str], None] | None = None) -> list[DagChanges]:
    """Compare every graph with its schema and apply the differences (``dry_run``: read only).

    ``root`` is a snowflake.core Root, or anything shaped like one (tests pass an in-memory stand-in).
    ``use_role``: switch the connection's session to a role (a real account's ``USE ROLE``): each
    graph is created as its domain's engineer, so the tasks' owner -- the role a task runs as -- is
    the domain's, and that role holds EXECUTE TASK (Terraform's snowflake_domain module). The REST
    calls of snowflake.core run in the connection's session, hence as its current role.
    """
    done = []
    for step in deploy_steps(mesh):
        schema = root.databases[step.database].schemas[step.schema]
        if use_role is not None and not dry_run and step.owner:
            use_role(step.owner)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # dagv1's notices about its own API
                changes = plan_dag(step, existing_tasks(schema, step.dag.name))
                if not dry_run:
                    apply_ops(schema, changes.ops)
        except Exception as exc:  # snowflake.core raises APIError subclasses; say which graph failed
            raise StepFailed(
                f"deploying task graph {step.dag.name} to {step.database}.{step.schema} failed: {exc}",
                hint="deploy the procedures first (snow snowpark deploy); the role needs CREATE TASK on the "
                "schema and EXECUTE TASK on the account",
            ) from exc
        done.append(changes)
    return done
