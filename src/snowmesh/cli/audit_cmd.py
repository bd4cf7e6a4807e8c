"""``mesh audit access``: prove who can reach what, from the manifests, the SQL and Terraform.

Exit 0 when every check holds, 1 when any is violated, 2 on bad input (a manifest, a handler
module, a Terraform file or grant SQL the verifier cannot read exactly).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from snowmesh.cli.ui import ConnectionOpt, FormatOpt, ProjectOpt, emit

if TYPE_CHECKING:
    from snowmesh.access.report import AuditReport


def _print_text(report: AuditReport, verbose: bool) -> None:
    from rich.text import Text

    from snowmesh.cli.ui import console

    # Text objects, not markup: messages hold brackets ("[terraform]") and user-supplied names.
    console.print(Text(f"access audit of the {report.source}", style="bold"))
    for c in report.checks:
        if c.skipped:
            mark, status = ("- ", "yellow"), f"skipped: {c.skipped}"
        elif c.ok:
            mark, status = ("✓ ", "green"), f"proven ({len(c.proven)} fact{'s' * (len(c.proven) != 1)})"
        else:
            mark, status = ("✗ ", "bold red"), f"{len(c.violations)} violation(s)"
        console.print(Text.assemble(mark, f"{c.title}: ", (status, mark[1])), soft_wrap=True)
        for fact in c.proven if verbose else ():
            console.print(Text(f"    {fact}", style="dim"), soft_wrap=True)
    if report.violations:
        console.print()
    for v in report.violations:
        console.print(Text.assemble(("✗ ", "bold red"), f"[{v.check}] {v.message}"), soft_wrap=True)
        if v.path:
            console.print(Text(f"    {v.path}"), soft_wrap=True)
    verdict = ("clean: every check holds", "green") if report.ok else (
        f"{len(report.violations)} violation(s)", "bold red")
    console.print(Text.assemble("\n", verdict))


def register(app: typer.Typer) -> None:
    from snowmesh.cli.audit_log import log

    audit = typer.Typer(help="Audit the mesh: access (who can reach what) and the audit log.", no_args_is_help=True)
    app.add_typer(audit, name="audit")
    audit.command("log")(log)

    @audit.command("access")
    def access(
        project: ProjectOpt = Path("."),
        connection: ConnectionOpt = None,
        output: FormatOpt = "text",
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every proven fact.")] = False,
    ) -> None:
        """Prove the access model: domain isolation, consumers see only published views,
        procedures can run as their owner role, declared consumers (and only they) have access;
        and that Terraform (or the account) holds exactly the grants the manifests declare
        (with --connection: that account's SHOW GRANTS)."""
        from snowmesh.access import audit_account, audit_plan
        from snowmesh.manifest import load_mesh

        mesh = load_mesh(project)  # bad identifiers stop here, before any SQL or HCL is rendered
        if connection:
            from snowmesh.access.showgrants import target_query
            from snowmesh.target import open_target

            with open_target(project.resolve(), connection) as target:
                report = audit_account(mesh, target_query(target), connection)
        else:
            report = audit_plan(mesh)
        emit(report.to_dict(), output, lambda _: _print_text(report, verbose))
        if not report.ok:
            raise typer.Exit(1)
