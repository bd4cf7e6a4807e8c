"""``mesh run``, ``mesh deploy`` and ``mesh generate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from snowmesh.cli import ui
from snowmesh.cli.ui import ConnectionOpt, FormatOpt, ProjectOpt, RichReporter, console
from snowmesh.errors import InputError, StepFailed
from snowmesh.local.lock import writer

WaitOpt = Annotated[bool, typer.Option("--wait", help="If another command holds the run lock, wait for it.")]
Clicks = Annotated[int, typer.Option("--clicks", "--rows", help="Ad clicks to generate (transactions: a tenth).")]
Seed = Annotated[int, typer.Option(help="Random seed: same seed, same files.")]
Corrupt = Annotated[float, typer.Option("--corrupt-fraction", help="Share of deliberately corrupt rows.")]


MAX_CLICKS = 1_000_000_000  # the generator holds one day partition in memory; 10M is benchmarked


def _options(clicks: int, seed: int, corrupt: float, days: int):
    from snowmesh.landing import LandOptions

    # Checked before anything starts: a value the generator cannot take must not fail after the deploy.
    if not 1 <= clicks <= MAX_CLICKS:
        raise InputError(f"--clicks must be between 1 and {MAX_CLICKS:,}, got {clicks:,}")
    if not 0 <= seed < 2**63:
        raise InputError(f"--seed must be between 0 and 2**63-1, got {seed}")
    if not 0 <= corrupt < 0.5:
        raise InputError(f"--corrupt-fraction must be in [0, 0.5), got {corrupt}")
    if not 1 <= days <= 366:
        raise InputError(f"--days must be between 1 and 366, got {days}")
    return LandOptions(clicks=clicks, seed=seed, corrupt_fraction=corrupt, days=days)


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        project: ProjectOpt = Path("."),
        connection: ConnectionOpt = None,
        clicks: Clicks = 100_000,
        seed: Seed = 42,
        corrupt_fraction: Corrupt = 0.001,
        days: Annotated[int, typer.Option(help="Days of data to generate.")] = 30,
        generate: Annotated[
            bool | None, typer.Option("--generate/--no-generate", help="Land generated files first (default: local only).")
        ] = None,
        keep_servers: Annotated[bool, typer.Option("--keep-servers", help="Leave the local account running.")] = False,
        wait: WaitOpt = False,
        fmt: FormatOpt = "text",
    ) -> None:
        """Deploy, land data, run every domain's task graph, and print a summary."""
        import uuid

        from snowmesh.landing import land_mesh
        from snowmesh.manifest import load_mesh
        from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
        from snowmesh.pipeline.summary import render_summary, summary_dict, top_roi
        from snowmesh.target import open_target

        options = _options(clicks, seed, corrupt_fraction, days)
        mesh = load_mesh(project)
        reporter = RichReporter()
        with writer(project.resolve(), "mesh run", connection=connection, wait=wait, reporter=reporter), \
                open_target(project.resolve(), connection, keep_servers=keep_servers or None, reporter=reporter,
                            command="mesh run") as target:
            report = RunReport(run_id=uuid.uuid4().hex[:12])
            report.deploy = deploy(target, mesh, reporter)
            landed = land_mesh(target, mesh, options, reporter) if (generate if generate is not None else target.is_local) else []
            walk_mesh(target, mesh, reporter, report)
            roi = top_roi(target, mesh)
        ui.emit(summary_dict(report, landed, roi), fmt, lambda _: render_summary(console, report, landed, roi))
        if not report.ok:
            raise typer.Exit(1)

    @app.command()
    def deploy(
        project: ProjectOpt = Path("."),
        connection: ConnectionOpt = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Print every statement and API call; change nothing (with -c: reads the account's tasks)."
        )] = False,
        wait: WaitOpt = False,
        fmt: FormatOpt = "text",
    ) -> None:
        """Deploy databases, schemas, roles, grants, stages, tables, tags and policies; on a real account also
        the task graphs (compare, then apply)."""
        from snowmesh.deploy.project_file import missing_on_account, procedure_specs
        from snowmesh.deploy.tasks import deploy_dags, root_for
        from snowmesh.manifest import load_mesh
        from snowmesh.pipeline.runner import deploy as do_deploy
        from snowmesh.target import open_target

        mesh = load_mesh(project)
        reporter = RichReporter()
        if dry_run and connection is None:
            preview = _deploy_preview(mesh, local=True)
            preview["task_graphs_note"] = ("none on the local account (it cannot run tasks; `mesh run` walks the "
                                           "graphs in-process); mesh deploy --dry-run -c NAME lists a real account's calls")
            ui.emit(preview, fmt, _print_deploy)
            return
        with writer(project.resolve(), "mesh deploy", connection=connection, wait=wait, reporter=reporter,
                    enabled=not dry_run), \
                open_target(project.resolve(), connection, reporter=reporter, command="mesh deploy") as target:
            if target.is_local:
                result = do_deploy(target, mesh, reporter)
                changes: list[Any] = []
            else:
                root = root_for(target.conn)
                absent = missing_on_account(root, procedure_specs(mesh))
                if dry_run:
                    from snowmesh.cli.ship_cmd import task_changes_dict

                    preview = _deploy_preview(mesh, local=False, absent=absent, target=target)
                    preview["task_graphs"] = task_changes_dict(deploy_dags(root, mesh, dry_run=True))
                    preview["task_graphs_note"] = f"read from {target.name}; nothing below is called"
                    ui.emit(preview, fmt, _print_deploy)
                    return
                if absent:  # before any change: the plan's USAGE grants name them, the graphs CALL them
                    raise StepFailed(
                        f"{len(absent)} procedure(s) of snowflake.yml are not on {target.name}, so their USAGE "
                        "grants and the tasks that CALL them would fail: " + ", ".join(s.overload for s in absent),
                        hint="deploy them first: export SNOWFLAKE_CLI_FEATURES_ENABLE_SNOWPARK_GLOB_SUPPORT=true; "
                        "snow snowpark build --skip-dependencies && "
                        f"snow snowpark deploy --replace -c {connection} (docs/shipping.md)",
                    )
                result = do_deploy(target, mesh, reporter)
                changes = deploy_dags(root, mesh, use_role=getattr(target, "use_role", None))
        from snowmesh.cli.ship_cmd import describe_changes, task_changes_dict

        done = {"dry_run": False, "target": target.name, "local": connection is None, "executed": result.executed,
                "recorded": result.recorded, "already_recorded": result.already_recorded,
                "terraform_left_out": result.terraforms, "task_graphs": task_changes_dict(changes)}

        def show(_: Any) -> None:
            if connection is None:
                console.print(f"executed {result.executed} statements; recorded {result.recorded} new "
                              f"({result.already_recorded} already recorded) for the real account")
                console.print("task graphs: not deployed on the local account (`mesh run` walks them)")
                return
            console.print(f"executed {result.executed} statements on {connection}")
            for c in changes:
                console.print(describe_changes(c), soft_wrap=True)

        ui.emit(done, fmt, show)

    @app.command("generate")
    def generate_cmd(
        out: Annotated[Path, typer.Option("--output", "-o", "--out", help="Write files under this folder instead of S3.")]
        = Path("output"),
        project: ProjectOpt = Path("."),
        clicks: Clicks = 100_000,
        seed: Seed = 42,
        corrupt_fraction: Corrupt = 0.001,
        days: Annotated[int, typer.Option(help="Days of data to generate.")] = 30,
        fmt: FormatOpt = "text",
    ) -> None:
        """Generate every domain's source files (its sample data) to a local folder."""
        from snowmesh.generate import generate_domain, summarize, write_local
        from snowmesh.manifest import load_mesh

        options = _options(clicks, seed, corrupt_fraction, days)
        mesh = load_mesh(project)
        written = []
        for d in mesh.domains:
            data = generate_domain(mesh, d.name, rows=options.clicks, seed=options.seed,
                                   corrupt_fraction=options.corrupt_fraction, days=options.days)
            for source, (rows, bad) in summarize(write_local(data, out / d.bucket)).items():
                written.append({"domain": d.name, "source": source, "folder": str(out / d.bucket), "rows": rows,
                                "corrupt": bad})

        def show(_: Any) -> None:
            table = Table("domain", "source", "rows", "corrupt", title=f"files under {out}")
            for w in written:
                table.add_row(w["domain"], w["source"], f"{w['rows']:,}", f"{w['corrupt']:,}")
            console.print(table)

        ui.emit({"output": str(out), "sources": written}, fmt, show)


class _SqlRecorder:
    """A Snowpark Session stand-in: collects the SQL a shared in-warehouse function would run."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def sql(self, text: str) -> _SqlRecorder:
        self.statements.append(text)
        return self

    def collect(self) -> list[Any]:
        return []


def statement_dict(stmt: Any, *, local: bool, note: str = "") -> dict[str, Any]:
    """One plan statement as data (``mesh plan`` and ``mesh deploy --dry-run`` JSON): ``executed`` is
    whether the target runs it (locally: the kinds the local account executes; on a real account:
    all but Terraform's)."""
    return {"sql": stmt.sql, "kind": stmt.kind.value, "object": stmt.object_name, "domain": stmt.domain,
            "sender": stmt.sender, "terraform": stmt.terraform,
            "executed": stmt.locally_executable if local else not stmt.terraform, "note": note}


def _deploy_preview(mesh: Any, *, local: bool, absent: list[Any] | None = None, target: Any = None) -> dict[str, Any]:
    """What ``mesh deploy`` runs, in its order (pipeline.runner.deploy), as data.

    With a real account's ``target`` the plan is first compared with the account as the deploy
    would (policies.converge: reads only), so what is listed is what would be sent."""
    from governance.ingest import register_sources
    from snowmesh.catalog import describe_refresh
    from snowmesh.deploy.plan import build_plan
    from snowmesh.deploy.statements import ENTERPRISE_ONLY
    from snowmesh.ingest import source_spec
    from snowmesh.policies import converge

    statements = build_plan(mesh, local=local).statements
    compared = None
    if target is not None:
        c = converge(target, statements)
        statements = c.statements
        compared = {"target": target.name, "edition": c.edition, "retired_versions": len(c.retired),
                    "tag_policies_in_place": c.in_place, "not_applied": len(c.skipped)}
    terraform_left_out = 0
    if not local:  # the deploy leaves Terraform's statements out (deploy.apply): so does the preview
        terraform_left_out = sum(s.terraform for s in statements)
        statements = [s for s in statements if not s.terraform]
    listed = []
    for stmt in statements:
        if local and not stmt.locally_executable:
            note = "recorded in GOVERNANCE_DB.CATALOG.ACCOUNT_OBJECTS, not executed"
        elif stmt.kind in ENTERPRISE_ONLY and target is None:
            note = "applied on Enterprise edition only (SHOW TAGS IN ACCOUNT decides)"
        else:
            note = ""
        listed.append(statement_dict(stmt, local=local, note=note))
    sources = []
    for d in mesh.domains:
        rec = _SqlRecorder()
        register_sources(rec, d.name, d.database, [source_spec(s) for s in d.sources])
        sources.extend(rec.statements)
    return {
        "dry_run": True, "local": local, "missing_procedures": [s.overload for s in absent or []],
        "compared": compared, "terraform_left_out": terraform_left_out, "statements": listed,
        "registry": [{"sql": stmt, "note": note} for stmt, note in describe_refresh(mesh)],
        "sources": sources, "task_graphs": [], "task_graphs_note": "",
    }


def _print_deploy(d: dict[str, Any]) -> None:
    """A deploy preview as text: plain print, one statement a line, for review and for diffs."""
    from snowmesh.cli.ship_cmd import print_task_changes

    where = "the local account" if d["local"] else "a real account"
    print(f"-- mesh deploy on {where}: every statement, in order; nothing is executed")
    if d["missing_procedures"]:
        print("-- NOT on the account, so the deploy would stop before any change (snow snowpark deploy first): "
              + ", ".join(d["missing_procedures"]))
    c = d["compared"]
    if c is not None:
        print(f"-- compared with {c['target']}: edition {c['edition'] or 'not needed'}; "
              f"{c['retired_versions']} retired version(s) left alone; {c['tag_policies_in_place']} tag policy(ies) "
              f"already set; {c['not_applied']} tag/masking statement(s) not applied (Standard edition)")
    if not d["local"]:
        print(f"-- {d['terraform_left_out']} statement(s) are Terraform's on a real account: not sent")
    for stmt in d["statements"]:
        # Who sends it: the deploy switches to that role (USE ROLE) first (docs/security.md).
        who = f"  -- as {stmt['sender']}" + (" (Terraform's on a real account)" if stmt["terraform"] else "")
        print(f"{stmt['sql']};{who}" + (f"  -- {stmt['note']}" if stmt["note"] else ""))
    print("-- then one row in GOVERNANCE_DB.AUDIT.DEPLOYS and one per statement in GOVERNANCE_DB.AUDIT.DEPLOY_STATEMENTS")
    print("-- product registry (from the manifests)")
    for r in d["registry"]:
        print(f"{r['sql']};" + (f"  -- {r['note']}" if r["note"] else ""))
    print("-- source registry (what a deployed INGEST() loads)")
    for text in d["sources"]:
        print(f"{text};")
    if d["local"]:
        print(f"\n# task graphs: {d['task_graphs_note']}")
    else:
        print_task_changes(d["task_graphs"], reads=d["task_graphs_note"])
