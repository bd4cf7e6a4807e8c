"""`mesh tasks deploy` / `mesh deploy -c`: compare the task graphs with the account, then apply.

There is no real account here. ``FakeAccount`` is a small in-memory stand-in for snowflake.core's
Root -> database -> schema -> TaskCollection / TaskResource (and ProcedureCollection): it keeps
tasks, records every call, answers like the account (qualified predecessor names, extra session
parameters, new tasks suspended) and enforces Snowflake's rules -- a task of a started graph cannot
be created, altered, resumed or dropped, and a started task cannot be altered or dropped.

Guards: compare-then-apply of the task graphs, and that a dry run changes nothing on the account (tasks,
registry, grants, policies: the fake Enterprise account of tests/fake_accounts.py refuses any write).
"""

from __future__ import annotations

import copy
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fake_accounts import EnterpriseAccount
from snowflake.core import CreateMode
from snowflake.core.exceptions import ConflictError, NotFoundError
from snowflake.core.task import Task
from snowflake.core.task.dagv1 import DAGOperation

from snowmesh.cli.main import run_app
from snowmesh.deploy import tasks as tasks_mod
from snowmesh.deploy.apply import ApplyResult
from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.project_file import procedure_specs
from snowmesh.deploy.tasks import deploy_dags, deploy_steps, desired_tasks, differences, first_deploy
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
MESH = load_mesh(ROOT)
CHANGING = ("create", "alter", "suspend", "resume", "drop")


class _Index:
    def __init__(self, get: Any) -> None:
        self.get = get

    def __getitem__(self, key: str) -> Any:
        return self.get(key)


class FakeAccount:
    """Root-shaped: ``databases[db].schemas[s].tasks`` / ``.procedures``, all in memory."""

    _telemetry_client = type("T", (), {"safe_send": staticmethod(lambda *a, **k: None)})()

    def __init__(self, procedures: list[Any] | None = None) -> None:
        self.tasks: dict[tuple[str, str], dict[str, Task]] = {}
        self.calls: list[str] = []
        self.root = self
        self.procedures = (procedure_specs(MESH) if procedures is None else procedures)

    @property
    def databases(self) -> _Index:
        return _Index(lambda db: type("DB", (), {"schemas": _Index(lambda s: FakeSchema(self, db, s))})())

    def changes(self) -> list[str]:
        return [c for c in self.calls if c.split(" ")[0] in CHANGING]

    def state(self, db: str, schema: str = "STAGING") -> dict[str, str]:
        return {n: t.state for n, t in self.tasks.get((db, schema), {}).items()}


class FakeSchema:
    def __init__(self, account: FakeAccount, db: str, schema: str) -> None:
        self.account, self.root = account, account
        self.where = (db, schema)
        self.tasks = FakeTasks(account, db, schema)

    @property
    def procedures(self) -> Any:
        found = [type("P", (), {"name": s.name, "arguments": list(s.arguments)})() for s in self.account.procedures
                 if (s.database, s.schema) == self.where]
        return type("Procedures", (), {"iter": lambda _self: iter(found)})()


def _qualify(db: str, schema: str, name: str) -> str:
    return f'"{db}"."{schema}"."{name}"'  # the account reports qualified names


class FakeTasks:
    """TaskCollection: iter, create, [name] -> TaskResource."""

    def __init__(self, account: FakeAccount, db: str, schema: str) -> None:
        self.account, self.db, self.schema = account, db, schema
        self.root = account
        self.store = account.tasks.setdefault((db, schema), {})

    def _graph_root(self, name: str) -> str:
        return name.split("$", 1)[0]

    def check_root_suspended(self, name: str) -> None:
        root = self.store.get(self._graph_root(name))
        if root is not None and root.state == "started" and self._graph_root(name) != name:
            raise ConflictError(reason=f"Unable to update graph with root task {root.name} since that root task "
                                "is not suspended.")

    def _stored(self, task: Task, state: str) -> Task:
        t = copy.deepcopy(task)
        t.state = state
        if t.predecessors:
            t.predecessors = [_qualify(self.db, self.schema, p) for p in t.predecessors]
        if t.finalize:
            t.finalize = _qualify(self.db, self.schema, t.finalize)
        if t.session_parameters:
            t.session_parameters = {"TIMEZONE": "UTC", **t.session_parameters}
        return t

    def iter(self, *, like: str | None = None, **_: Any) -> list[Task]:
        self.account.calls.append(f"iter {like}")
        pattern = re.compile(re.escape(like or "%").replace("%", ".*").replace("_", "."), re.IGNORECASE)
        return [Task(name=n, definition="") for n in self.store if pattern.fullmatch(n)]

    def create(self, task: Task, *, mode: CreateMode = CreateMode.error_if_exists) -> FakeTaskResource:
        self.account.calls.append(f"create {task.name}")
        if task.name in self.store and CreateMode[mode] is CreateMode.error_if_exists:
            raise ConflictError(reason=f"task {task.name} already exists")
        self.check_root_suspended(task.name)
        self.store[task.name] = self._stored(task, "suspended")
        return self[task.name]

    def __getitem__(self, name: str) -> FakeTaskResource:
        return FakeTaskResource(self, name)


class FakeTaskResource:
    def __init__(self, tasks: FakeTasks, name: str) -> None:
        self.tasks, self.name = tasks, name

    def _get(self) -> Task:
        if self.name not in self.tasks.store:
            raise NotFoundError(reason=f"task {self.name} does not exist")
        return self.tasks.store[self.name]

    def fetch(self) -> Task:
        self.tasks.account.calls.append(f"fetch {self.name}")
        return copy.deepcopy(self._get())

    def create_or_alter(self, task: Task) -> None:
        self.tasks.account.calls.append(f"alter {self.name}")
        have = self._get()
        if have.state == "started":
            raise ConflictError(reason=f"task {self.name} must be suspended before it is altered")
        self.tasks.check_root_suspended(self.name)
        self.tasks.store[self.name] = self.tasks._stored(task, have.state)

    def resume(self) -> None:
        self.tasks.account.calls.append(f"resume {self.name}")
        self.tasks.check_root_suspended(self.name)
        self._get().state = "started"

    def suspend(self) -> None:
        self.tasks.account.calls.append(f"suspend {self.name}")
        self._get().state = "suspended"

    def drop(self) -> None:
        self.tasks.account.calls.append(f"drop {self.name}")
        if self._get().state == "started":
            raise ConflictError(reason=f"task {self.name} must be suspended before it is dropped")
        self.tasks.check_root_suspended(self.name)
        del self.tasks.store[self.name]


def _task_counts() -> dict[str, int]:
    return {s.database: len(s.tasks) for s in deploy_steps(MESH)}


def _deployed() -> FakeAccount:
    account = FakeAccount()
    deploy_dags(account, MESH)
    account.calls.clear()
    return account


# --- compare-then-apply --------------------------------------------------------------------


def test_first_deploy_creates_every_task_and_starts_every_graph() -> None:
    account = FakeAccount()
    changes = deploy_dags(account, MESH)
    for c in changes:
        assert c.names("create") == [t.name for t in c.step.tasks] and not c.unchanged and c.existing == 0
        assert set(account.state(c.step.database).values()) == {"started"}
    created = [c for c in account.changes() if c.startswith("create")]
    assert len(created) == sum(_task_counts().values())
    for c in changes:  # the root is resumed once, after all its children
        root = c.step.dag.name
        mine = [x for x in account.changes() if x.split(" ")[1].split("$")[0] == root]
        assert mine[0] == f"create {root}" and mine[-1] == f"resume {root}"


def test_first_deploy_creates_what_dagoperation_deploy_creates() -> None:
    ours, theirs = FakeAccount(), FakeAccount()
    deploy_dags(ours, MESH)
    triggered = {}
    for step in deploy_steps(MESH):
        DAGOperation(theirs.databases[step.database].schemas[step.schema]).deploy(step.dag)
        if step.condition:
            triggered[step.dag.name] = step
    # dagv1 knows no WHEN: a consumer's root is ours alone -- triggered by its producers' streams, and
    # resumed (a graph without a schedule is left suspended by DAGOperation).
    assert triggered, "the sample mesh has a consumer domain, triggered by its producers' publications"
    assert [c for c in ours.changes() if c.split(" ", 1)[1] not in {f"{n}" for n in triggered}
            or not c.startswith("resume")] == theirs.changes()
    assert {f"resume {n}" for n in triggered} <= set(ours.changes())
    for key, tasks in theirs.tasks.items():
        mine = {n: t.to_dict() for n, t in ours.tasks[key].items()}
        for name, step in triggered.items():
            if name in mine:
                root = mine.pop(name)
                assert root["condition"] == step.condition and root["definition"] == step.root_definition
                assert root.get("schedule") is None
        assert mine == {n: t.to_dict() for n, t in tasks.items() if n not in triggered}


def test_second_deploy_changes_nothing() -> None:
    account = _deployed()
    changes = deploy_dags(account, MESH)
    assert account.changes() == []  # reads only: iter + one fetch per task
    expected = [call for step in deploy_steps(MESH) for call in ["iter", *["fetch"] * _task_counts()[step.database]]]
    assert [c.split(" ")[0] for c in account.calls] == expected
    for c in changes:
        assert c.ops == () and list(c.unchanged) == [t.name for t in c.step.tasks]
        assert c.summary == f"{len(c.step.tasks)} unchanged"


def _with_cron(tmp_path: Path, cron: str) -> Any:
    import shutil

    shutil.copytree(ROOT / "domains", tmp_path / "domains")
    shutil.copytree(ROOT / "contracts", tmp_path / "contracts")
    path = tmp_path / "domains" / "marketing" / "domain.yml"
    path.write_text(path.read_text().replace('cron: "0 2 * * *"', f'cron: "{cron}"'))
    return load_mesh(tmp_path)


def test_a_changed_schedule_alters_only_the_root_between_suspend_and_resume(tmp_path: Path) -> None:
    account = _deployed()
    changes = deploy_dags(account, _with_cron(tmp_path, "15 3 * * *"))
    assert account.changes() == ["suspend MARKETING_PIPELINE", "alter MARKETING_PIPELINE", "resume MARKETING_PIPELINE"]
    by_dag = {c.step.dag.name: c for c in changes}
    assert [(o.verb, o.fields) for o in by_dag.pop("MARKETING_PIPELINE").ops if o.verb == "alter"] == [
        ("alter", ("schedule",))]
    assert by_dag and all(c.ops == () for c in by_dag.values())  # every other graph untouched
    root = account.tasks[("MARKETING_DB", "STAGING")]["MARKETING_PIPELINE"]
    assert root.schedule.expr == "15 3 * * *" and root.state == "started"
    account.calls.clear()
    deploy_dags(account, _with_cron(tmp_path / "again", "15 3 * * *"))
    assert account.changes() == []  # and converged


def test_a_changed_child_is_suspended_altered_and_resumed_inside_a_suspended_graph() -> None:
    account = _deployed()
    child = account.tasks[("FINANCE_DB", "STAGING")]["FINANCE_PIPELINE$BUILD_CAMPAIGN_ROI"]
    child.definition = "CALL OLD()"
    child.warehouse = "OTHER_WH"
    changes = deploy_dags(account, MESH)
    assert account.changes() == [
        "suspend FINANCE_PIPELINE", "suspend FINANCE_PIPELINE$BUILD_CAMPAIGN_ROI",
        "alter FINANCE_PIPELINE$BUILD_CAMPAIGN_ROI", "resume FINANCE_PIPELINE$BUILD_CAMPAIGN_ROI",
        "resume FINANCE_PIPELINE"]
    finance = next(c for c in changes if c.step.dag.name == "FINANCE_PIPELINE")
    assert [o.fields for o in finance.ops if o.verb == "alter"] == [("definition", "warehouse")]


def test_a_task_the_manifests_dropped_is_dropped_and_a_suspended_one_resumed() -> None:
    account = _deployed()
    store = account.tasks[("MARKETING_DB", "STAGING")]
    store["MARKETING_PIPELINE$BUILD_OLD"] = Task(name="MARKETING_PIPELINE$BUILD_OLD", definition="CALL X()",
                                                 predecessors=['"MARKETING_DB"."STAGING"."MARKETING_PIPELINE"'],
                                                 state="started")
    store["MARKETING_PIPELINE$PUBLISH_AD_CLICKS"].state = "suspended"
    store["OTHER_PIPELINE"] = Task(name="OTHER_PIPELINE", definition="select 1", state="started")  # not ours
    deploy_dags(account, MESH)
    assert account.changes() == [
        "suspend MARKETING_PIPELINE", "suspend MARKETING_PIPELINE$BUILD_OLD", "drop MARKETING_PIPELINE$BUILD_OLD",
        "resume MARKETING_PIPELINE$PUBLISH_AD_CLICKS", "resume MARKETING_PIPELINE"]
    assert "OTHER_PIPELINE" in store


def test_a_suspended_root_is_resumed_and_nothing_else() -> None:
    account = _deployed()
    account.tasks[("FINANCE_DB", "STAGING")]["FINANCE_PIPELINE"].state = "suspended"
    deploy_dags(account, MESH)
    assert account.changes() == ["resume FINANCE_PIPELINE"]


def test_comparison_ignores_how_the_account_spells_what_it_returns() -> None:
    dag = deploy_steps(MESH)[0].dag
    for want in desired_tasks(dag):
        have = copy.deepcopy(want)
        have.definition = f"  {want.definition} ;"
        have.predecessors = [f'MARKETING_DB.STAGING."{p}"' for p in want.predecessors or []]
        if want.session_parameters:  # the account reports more parameters than the graph sets
            have.session_parameters = {**want.session_parameters, "TIMEZONE": "UTC"}
        assert differences(want, have) == (), want.name
    root = desired_tasks(dag)[0]
    assert differences(root, copy.deepcopy(root).__class__(name=root.name, definition=root.definition)) == (
        "warehouse", "schedule", "comment", "allow_overlapping_execution", "suspend_task_after_num_failures")


# --- dry runs and the CLI -------------------------------------------------------------------


def test_dry_run_reads_and_changes_nothing() -> None:
    account = _deployed()
    account.tasks[("FINANCE_DB", "STAGING")]["FINANCE_PIPELINE"].state = "suspended"
    changes = deploy_dags(account, MESH, dry_run=True)
    assert account.changes() == [] and [o.call for c in changes for o in c.ops] == ["tasks['FINANCE_PIPELINE'].resume()"]


def test_tasks_dry_run_without_connection_lists_every_call_of_a_first_deploy(capsys) -> None:
    assert run_app(["tasks", "deploy", "--dry-run", "--project", str(ROOT)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for c in first_deploy(MESH):
        assert [o.call for o in c.ops] == [ln for ln in lines if ln.startswith("tasks") and c.step.dag.name in ln
                                           and not ln.startswith("tasks.iter")]
        assert f"# {len(c.step.tasks)} created, 0 unchanged" in lines


def _converged_account(*, read_only: bool) -> EnterpriseAccount:
    """Enterprise edition, the classification tag already holding every masking policy the plan names."""
    plan = build_plan(MESH, local=False).statements
    held = [tuple(re.findall(r'"([^"]+)"', s.sql.split(" SET MASKING POLICY ")[1]))
            for s in plan if " SET MASKING POLICY " in s.sql]
    return EnterpriseAccount([("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION")], held, read_only=read_only)


@contextmanager
def _fake_target(monkeypatch, account: FakeAccount, deployed: list[str], *, dry_run: bool = False):
    """``-c prod``: the task API is ``account``; SQL goes to a fake Enterprise account (yielded), read-only
    for a dry run. The registry refresh is the real one (snowmesh.catalog.refresh_registry)."""
    import snowmesh.target
    from snowmesh.pipeline import runner

    sql_account = _converged_account(read_only=dry_run)

    @contextmanager
    def open_target(root: Path, connection: str | None, **_: Any):
        assert connection == "prod"
        yield sql_account

    def fake_deploy(target: Any, mesh: Any, reporter: Any) -> ApplyResult:
        deployed.append("plan")
        return ApplyResult(executed=1)

    monkeypatch.setattr(snowmesh.target, "open_target", open_target)
    monkeypatch.setattr(tasks_mod, "root_for", lambda conn: account)
    monkeypatch.setattr(runner, "deploy", fake_deploy)
    yield sql_account


def test_mesh_deploy_with_a_connection_deploys_the_graphs_and_converges(monkeypatch, capsys) -> None:
    account, deployed = FakeAccount(), []
    with _fake_target(monkeypatch, account, deployed):
        assert run_app(["deploy", "--project", str(ROOT), "-c", "prod"]) == 0
        first = capsys.readouterr().out
        assert deployed == ["plan"] and "MARKETING_PIPELINE in MARKETING_DB.STAGING" in first and "11 created" in first
        account.calls.clear()
        assert run_app(["deploy", "--project", str(ROOT), "-c", "prod"]) == 0
        assert account.changes() == [] and "nothing changed" in capsys.readouterr().out


def test_mesh_deploy_dry_run_with_a_connection_prints_statements_and_calls_and_changes_nothing(monkeypatch, capsys):
    account, deployed = FakeAccount(), []
    with _fake_target(monkeypatch, account, deployed, dry_run=True) as sql_account:
        before = sql_account.snapshot()
        assert run_app(["deploy", "--project", str(ROOT), "-c", "prod", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert deployed == [] and account.changes() == [] and not any(account.tasks.values())
    assert sql_account.writes == [] and sql_account.snapshot() == before
    assert all(q.startswith(("SHOW ", "SELECT ")) for q in sql_account.ran)
    usage = ('GRANT USAGE ON PROCEDURE "FINANCE_DB"."PRODUCTS"."ROI_BY_CAMPAIGN"(VARCHAR, VARCHAR) '
             'TO ROLE "FINANCE_ANALYST";')
    assert [ln for ln in out if ln == usage or ln.startswith(usage + "  -- as ")]  # the sender may follow
    assert "tasks['MARKETING_PIPELINE'].resume()" in out and "-- source registry (what a deployed INGEST() loads)" in out
    assert any(ln.startswith("tasks.create(Task(name='FINANCE_PIPELINE$FINANCE_INGEST'") for ln in out)
    # Compared with the account as the deploy would be: the tag policies already set are not listed.
    assert ("-- compared with prod: edition enterprise; 0 retired version(s) left alone; 6 tag policy(ies) already "
            "set; 0 tag/masking statement(s) not applied (Standard edition)") in out
    assert not [ln for ln in out if " SET MASKING POLICY " in ln]
    assert [ln for ln in out if ln.startswith("CREATE MASKING POLICY IF NOT EXISTS")]


def test_mesh_deploy_stops_before_any_change_when_procedures_are_missing(monkeypatch, capsys) -> None:
    shipped = [s for s in procedure_specs(MESH) if s.name != "ROI_BY_CAMPAIGN"]
    account, deployed = FakeAccount(procedures=shipped), []
    with _fake_target(monkeypatch, account, deployed):
        assert run_app(["deploy", "--project", str(ROOT), "-c", "prod"]) == 1
    err = capsys.readouterr().err
    assert "ROI_BY_CAMPAIGN(VARCHAR, VARCHAR)" in err and "snow snowpark deploy" in err
    assert deployed == [] and account.changes() == []


def test_tasks_deploy_without_connection_or_dry_run_is_refused(capsys) -> None:
    assert run_app(["tasks", "deploy", "--project", str(ROOT)]) == 2
    assert "--dry-run" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["tasks", "deploy", "-c", "prod"], ["tasks", "deploy", "-c", "prod", "--dry-run"]])
def test_tasks_deploy_refreshes_the_registry_only_when_not_dry(monkeypatch, capsys, argv) -> None:
    account, deployed = FakeAccount(), []
    dry = "--dry-run" in argv
    with _fake_target(monkeypatch, account, deployed, dry_run=dry) as sql_account:
        before = sql_account.snapshot()
        assert run_app([*argv, "--project", str(ROOT)]) == 0
    out = capsys.readouterr().out
    products = sorted(f"{p.domain}.{p.name}" for p in MESH.products)  # from the manifests, not the registry code
    if dry:
        assert account.changes() == [] and not any(account.tasks.values()) and "-- product registry (from the manifests)" in out
        assert sql_account.writes == [] and sql_account.snapshot() == before  # nothing written, by any path
    else:
        assert f"registry: {len(products)} product(s)" in out
        assert len([c for c in account.changes() if c.startswith("create")]) == sum(_task_counts().values())
        # The real refresh ran: one DELETE, then one executemany with a row per product of the manifests.
        sent = [(q.split(" ")[0], p) for q, p in sql_account.writes]
        assert [v for v, _ in sent if v in ("DELETE", "INSERT")] == ["DELETE", "INSERT"]
        rows = next(p[1] for v, p in sent if v == "INSERT")
        assert sorted(f"{r[0]}.{r[1]}" for r in rows) == products
