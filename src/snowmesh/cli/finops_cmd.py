"""``mesh finops``: credits per domain warehouse and task, against the monthly quota."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def finops(
    project: Annotated[Path, typer.Option("--project", "-p", help="Project root (holds domains/).")] = Path("."),
    connection: Annotated[str | None, typer.Option(
        "--connection", "-c", help="snow CLI connection (ACCOUNT_USAGE); default: local estimate.")] = None,
) -> None:
    """Credits month to date per domain warehouse (local account: an estimate from TASK_RUNS)."""
    from rich.table import Table
    from rich.text import Text

    from snowmesh.cli.ui import console, err_console
    from snowmesh.finops import finops as build
    from snowmesh.manifest import load_mesh
    from snowmesh.target import open_target

    mesh = load_mesh(project)
    with open_target(project.resolve(), connection) as target:
        report = build(mesh, target.sql, target.is_local)
    label = "ESTIMATE" if report.estimate else "metered"
    console.print(Text(f"credits month to date ({label}; source: {report.source})", style="bold"))
    t = Table("domain", "warehouse", "size", "credits" + (" (billed est.)" if report.estimate else ""),
              *(["busy est.", "seconds"] if report.estimate else []), "quota", "% of quota")
    for w in report.warehouses:
        extra = [f"{w.busy_credits:.4f}", f"{w.seconds:.1f}"] if report.estimate else []
        t.add_row(w.domain, w.warehouse, w.size, f"{w.credits:.4f}", *extra, str(w.quota), f"{w.quota_pct:.2f}%")
    console.print(t)
    t = Table("warehouse", "task", "product", "credits" + (" (est.)" if report.estimate else ""), "billed here for")
    for c in report.tasks:
        reads = f"reads {', '.join(c.reads)}" if c.reads else ""
        t.add_row(Text(c.warehouse), Text(c.task), Text(c.product or ""), f"{c.credits:.5f}", Text(reads))
    console.print(t)
    for note in report.notes:  # notes on stderr: stdout holds only the result
        err_console.print(Text(f"note: {note}", style="dim"), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("finops")(finops)
