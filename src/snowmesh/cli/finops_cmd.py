"""``mesh finops``: credits per domain warehouse and task, against the monthly quota."""

from __future__ import annotations

from pathlib import Path

import typer

from snowmesh.cli.ui import ConnectionOpt, FormatOpt, ProjectOpt, emit


def finops(
    project: ProjectOpt = Path("."),
    connection: ConnectionOpt = None,
    fmt: FormatOpt = "text",
) -> None:
    """Credits month to date per domain warehouse: metered from ACCOUNT_USAGE with --connection,
    an estimate from TASK_RUNS on the local account."""
    from snowmesh.finops import finops as build
    from snowmesh.manifest import load_mesh
    from snowmesh.target import open_target

    mesh = load_mesh(project)
    with open_target(project.resolve(), connection) as target:
        report = build(mesh, target.sql, target.is_local)
    emit(finops_dict(report), fmt, lambda _: _print(report))


def finops_dict(report) -> dict:
    """The report as data: ``mesh finops --format json`` (docs/cli-json.md)."""
    return {"source": report.source, "estimate": report.estimate,
            "warehouses": [{"domain": w.domain, "warehouse": w.warehouse, "size": w.size, "quota": w.quota,
                            "credits": w.credits, "busy_credits": w.busy_credits, "seconds": w.seconds,
                            "quota_pct": w.quota_pct} for w in report.warehouses],
            "tasks": [{"warehouse": c.warehouse, "task": c.task, "product": c.product, "credits": c.credits,
                       "seconds": c.seconds, "reads": list(c.reads)} for c in report.tasks],
            "notes": list(report.notes)}


def _print(report) -> None:
    from rich.table import Table
    from rich.text import Text

    from snowmesh.cli.ui import console, err_console

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
