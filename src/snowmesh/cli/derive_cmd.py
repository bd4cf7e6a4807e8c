"""``mesh derive [--check]``: regenerate every file derived from the manifests (snowmesh.infra.derived)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def derive(
    project: Annotated[Path, typer.Option("--project", "-p", help="Project root (holds domains/).")] = Path("."),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 with a diff if a file is stale (CI).")]
    = False,
) -> None:
    """Regenerate snowflake.yml, terraform/domains.auto.tfvars.json and terraform.tfvars.example from the manifests."""
    from snowmesh.cli.ui import console, err_console
    from snowmesh.infra import derived
    from snowmesh.manifest import load_mesh

    mesh = load_mesh(project)
    if check:
        diffs = derived.stale(mesh)
        for rel, diff in diffs.items():
            err_console.print(f"{rel} is stale", style="bold", soft_wrap=True)
            print(diff, end="")
        if diffs:
            err_console.print(f"run `mesh derive -p {project}` and commit the result", soft_wrap=True)
            raise typer.Exit(1)
        console.print(f"{len(derived.derived_files(mesh))} derived files are up to date")
        return
    written = derived.write(mesh)
    for rel in written:
        console.print(f"wrote {rel}")
    if not written:
        console.print("every derived file was already up to date")


def register(app: typer.Typer) -> None:
    app.command("derive")(derive)
