"""``mesh call`` (run a procedure's handler) and ``mesh tasks deploy`` (ship the task graphs).

    mesh call ROI_BY_CAMPAIGN 2026-10-01 2026-10-31     # local account: the handler, in-process
    mesh call -c prod PRODUCT_HEALTH                    # real account: CALL the deployed procedure
    mesh tasks deploy --dry-run                         # a first deploy's snowflake.core calls, no connection
    mesh tasks deploy --dry-run -c prod                 # the calls a deploy would make now (reads only)
    mesh tasks deploy -c prod                           # registry refresh + compare-then-apply per graph
"""

from __future__ import annotations

import importlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from snowmesh.cli import ui
from snowmesh.cli.ui import ConnectionOpt, FormatOpt, ProjectOpt, RichReporter, console
from snowmesh.errors import InputError, StepFailed
from snowmesh.local.lock import writer

WaitOpt = Annotated[bool, typer.Option("--wait", help="If another command holds the run lock, wait for it.")]


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (date, Decimal)):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _render(title: str, columns: list[str], rows: list[tuple], where: str) -> None:
    table = Table(title=title, caption=f"{len(rows)} row(s) on {where}")
    for i, c in enumerate(columns):
        numeric = any(isinstance(r[i], (int, float, Decimal)) and not isinstance(r[i], bool) for r in rows)
        table.add_column(c, justify="right" if numeric else "left")
    for r in rows:
        table.add_row(*(_cell(v) for v in r))
    console.print(table)


def _user_error(message: str) -> str | None:
    """The sentence of a handler's ValueError inside a Snowflake error, if that is what it is."""
    marker = "ValueError: "
    if marker not in message:
        return None
    return message.rsplit(marker, 1)[1].strip().splitlines()[0]


def _check_arguments(spec: Any, args: list[str]) -> None:
    """A procedure module may define ``check_arguments(*args)``: a pure check that raises
    ValueError with one sentence. It runs here, before anything is opened or refreshed."""
    module, _ = spec.handler.rsplit(".", 1)
    check = getattr(importlib.import_module(module), "check_arguments", None)
    if check is None:
        return
    try:
        check(*args)
    except ValueError as exc:
        raise InputError(f"{spec.name}: {exc}") from None


def _call_local(target: Any, spec: Any, args: list[str]) -> tuple[list[str], list[tuple]] | str:
    module, func = spec.handler.rsplit(".", 1)
    handler = getattr(importlib.import_module(module), func)
    try:
        result = handler(target.session, *args)
    except ValueError as exc:  # the handler refusing its arguments: the caller's mistake
        raise InputError(f"{spec.name}: {exc}") from None
    if isinstance(result, str):
        return result
    try:
        rows = result.collect()
    except Exception as exc:  # noqa: BLE001 - a failed query is a result to report, not a crash
        raise StepFailed(f"{spec.name} failed: {exc}") from None
    return list(result.schema.names), [tuple(r) for r in rows]


def _call_real(target: Any, spec: Any, args: list[str]) -> tuple[list[str], list[tuple]]:
    from governance.sql import fqn

    marks = ", ".join(["%s"] * len(args))
    try:
        with target.conn.cursor() as cur:
            cur.execute(f"CALL {fqn(spec.database, spec.schema, spec.name)}({marks})", args or None)
            columns = [d.name for d in cur.description or []]
            return columns, [tuple(r) for r in cur.fetchall()]
    except Exception as exc:  # noqa: BLE001 - the connector's errors carry the procedure's message
        sentence = _user_error(str(exc))
        if sentence:
            raise InputError(f"{spec.name}: {sentence}") from None
        raise StepFailed(f"CALL {spec.fqn} failed: {exc}") from None


def register(app: typer.Typer) -> None:
    @app.command("call")
    def call(
        procedure: Annotated[str, typer.Argument(help="Procedure name, e.g. ROI_BY_CAMPAIGN or FINANCE_DB.PRODUCTS.ROI_BY_CAMPAIGN.")],
        args: Annotated[list[str] | None, typer.Argument(help="The procedure's arguments, in order.")] = None,
        project: ProjectOpt = Path("."),
        connection: ConnectionOpt = None,
        wait: WaitOpt = False,
        fmt: FormatOpt = "text",
    ) -> None:
        """Run a procedure and print the table it returns (local: its handler, in-process)."""
        from snowmesh.catalog import refresh_registry
        from snowmesh.deploy.project_file import find_procedure
        from snowmesh.manifest import load_mesh
        from snowmesh.target import open_target

        mesh = load_mesh(project)
        spec = find_procedure(mesh, procedure)
        args = list(args or [])
        if len(args) != len(spec.arguments):
            sig = ", ".join(f"{n} {t}" for n, t in spec.arguments)
            raise InputError(
                f"{spec.name} takes {len(spec.arguments)} argument(s), got {len(args)}",
                hint=f"mesh call {spec.name} " + " ".join(f"<{n}>" for n, _ in spec.arguments) + f"   ({spec.name}({sig}))",
            )
        _check_arguments(spec, args)  # before the account is opened: a bad date changes nothing
        # Locally the call rewrites the product registry first: a writer (a real account's
        # analyst procedures only read).
        with writer(project.resolve(), "mesh call", wait=wait, enabled=connection is None), \
                open_target(project.resolve(), connection, command="mesh call") as target:
            if target.is_local:
                refresh_registry(target, mesh)  # the local account's registry follows the manifests
                result = _call_local(target, spec, args)
            else:
                result = _call_real(target, spec, args)
        shown = ", ".join(repr(a) for a in args)
        columns, rows = ([], []) if isinstance(result, str) else result
        doc = {"procedure": spec.fqn, "arguments": args, "target": target.name,
               "message": result if isinstance(result, str) else None, "columns": columns,
               "rows": [dict(zip(columns, r, strict=True)) for r in rows], "row_count": len(rows)}

        def show(_: Any) -> None:
            if isinstance(result, str):
                console.print(f"{spec.fqn}({shown}): {result}")
            else:
                _render(f"{spec.fqn}({shown})", columns, rows, where=target.name)

        ui.emit(doc, fmt, show)

    tasks_app = typer.Typer(help="The mesh's task graphs on a real account (snowflake.core).", no_args_is_help=True)
    app.add_typer(tasks_app, name="tasks")

    @tasks_app.command("deploy")
    def tasks_deploy(
        project: ProjectOpt = Path("."),
        connection: ConnectionOpt = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Print every call and statement, change nothing (with -c: read the account's tasks).",
        )] = False,
        wait: WaitOpt = False,
        fmt: FormatOpt = "text",
    ) -> None:
        """Refresh the product registry, then bring every domain's task graph to the manifests (compare, then apply)."""
        from snowmesh.catalog import refresh_registry
        from snowmesh.deploy.project_file import missing_on_account, procedure_specs
        from snowmesh.deploy.tasks import deploy_dags, first_deploy, root_for, unshipped_calls
        from snowmesh.manifest import load_mesh
        from snowmesh.target import open_target

        mesh = load_mesh(project)
        reporter = RichReporter()
        missing = unshipped_calls(mesh)
        if missing:
            reporter.warn("these tasks CALL procedures snowflake.yml does not ship, so they will fail when they run: "
                          + ", ".join(missing))
        if dry_run and connection is None:
            _task_preview(mesh, first_deploy(mesh), fmt, reads="no connection: planned against an empty schema (a "
                          "first deploy); with --connection the account's tasks are read and compared")
            return
        if connection is None:
            raise InputError(
                "the local account cannot run tasks: `mesh run` walks the same graphs in-process",
                hint="mesh tasks deploy --dry-run shows the deploy; mesh tasks deploy --connection NAME runs it",
            )
        with writer(project.resolve(), "mesh tasks deploy", connection=connection, wait=wait, reporter=reporter,
                    enabled=not dry_run), open_target(project.resolve(), connection) as target:
            root = root_for(target.conn)
            absent = missing_on_account(root, procedure_specs(mesh))
            if absent:
                reporter.warn("not on the account, so the tasks that CALL them will fail: "
                              + ", ".join(s.overload for s in absent) + " (snow snowpark deploy)")
            if dry_run:
                _task_preview(mesh, deploy_dags(root, mesh, dry_run=True), fmt,
                              reads=f"read from {target.name}; nothing below is called")
                return
            n = refresh_registry(target, mesh)
            done = deploy_dags(root, mesh, use_role=getattr(target, "use_role", None))

        def show(_: Any) -> None:
            console.print(f"registry: {n} product(s)")
            for c in done:
                console.print(describe_changes(c), soft_wrap=True)

        ui.emit({"dry_run": False, "target": target.name, "registry_products": n,
                 "task_graphs": task_changes_dict(done)}, fmt, show)


def _task_preview(mesh: Any, changes: list[Any], fmt: str, *, reads: str) -> None:
    from snowmesh.catalog import describe_refresh

    def show(_: Any) -> None:
        print_registry_refresh(mesh)
        print_task_changes(changes, reads=reads)

    ui.emit({"dry_run": True, "registry": [{"sql": stmt, "note": note} for stmt, note in describe_refresh(mesh)],
             "task_graphs": task_changes_dict(changes), "task_graphs_note": reads}, fmt, show)


def print_registry_refresh(mesh: Any) -> None:
    from snowmesh.catalog import describe_refresh

    print("-- product registry (from the manifests)")
    for stmt, note in describe_refresh(mesh):
        print(f"{stmt};" + (f"  -- {note}" if note else ""))


def task_changes_dict(changes: list[Any]) -> list[dict[str, Any]]:
    """Each graph's planned or made changes as data (``--format json``; docs/cli-json.md)."""
    return [{
        "dag": c.step.dag.name, "database": c.step.database, "schema": c.step.schema, "summary": c.summary,
        "owner": c.step.owner,  # the role the graph is created as (USE ROLE), hence its tasks' owner
        "tasks": [{"name": t.name, "role": t.role, "schedule": t.schedule, "warehouse": t.warehouse,
                   "after": list(t.after), "definition": t.definition} for t in c.step.tasks],
        "ops": [{"verb": op.verb, "name": op.name, "fields": list(op.fields), "call": op.call} for op in c.ops],
        "unchanged": list(c.unchanged),
    } for c in changes]


def print_task_changes(changes: list[Any], *, reads: str) -> None:
    """Plain print, not Rich: one line per task and per call, unwrapped, for review and for diffs.
    ``changes``: DagChanges, or their :func:`task_changes_dict` form."""
    for c in changes if all(isinstance(c, dict) for c in changes) else task_changes_dict(changes):
        print(f"\n# task graph {c['dag']} in {c['database']}.{c['schema']}, created as {c.get('owner') or 'the connection role'}")
        for t in c["tasks"]:
            after = f"  after={','.join(t['after'])}" if t["after"] else ""
            print(f"#   {t['role']:<9} {t['name']}  schedule={t['schedule']}  warehouse={t['warehouse']}{after}  "
                  f"runs: {t['definition']}")
        print(f"schema = root.databases[{c['database']!r}].schemas[{c['schema']!r}]")
        print(f"tasks.iter(like={c['dag'] + '%'!r}); tasks[<name>].fetch() per task of the graph  # {reads}")
        for op in c["ops"]:
            print(op["call"])
        print(f"# {c['summary']}" + ("" if c["ops"] else ": nothing to change"))


def describe_changes(c: Any) -> str:
    """One line per graph after a deploy: what changed, and why."""
    step = c.step
    text = f"{step.dag.name} in {step.database}.{step.schema} as {step.owner} ({step.tasks[0].schedule}): {c.summary}"
    altered = [f"{o.name} ({', '.join(o.fields)})" for o in c.ops if o.verb == "alter"]
    if altered:
        text += "; altered " + ", ".join(altered)
    if c.names("drop"):
        text += "; dropped " + ", ".join(c.names("drop"))
    if not c.ops:
        text += "; nothing changed"
    elif c.ops[-1].verb == "resume" and c.ops[-1].name == step.dag.name:
        text += "; resumed"
    return text
