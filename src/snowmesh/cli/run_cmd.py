"""``mesh run`` and ``mesh generate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from snowmesh.cli.ui import RichReporter, console
from snowmesh.errors import InputError

Clicks = Annotated[int, typer.Option("--clicks", "--rows", help="Ad clicks to generate (transactions: a tenth).")]
Seed = Annotated[int, typer.Option(help="Random seed: same seed, same files.")]
Corrupt = Annotated[float, typer.Option("--corrupt-fraction", help="Share of deliberately corrupt rows.")]


def _options(clicks: int, seed: int, corrupt: float, days: int):
    from snowmesh.landing import LandOptions

    if clicks < 1:
        raise InputError(f"--clicks must be positive, got {clicks}")
    if not 0 <= corrupt < 0.5:
        raise InputError(f"--corrupt-fraction must be in [0, 0.5), got {corrupt}")
    if not 1 <= days <= 366:
        raise InputError(f"--days must be between 1 and 366, got {days}")
    return LandOptions(clicks=clicks, seed=seed, corrupt_fraction=corrupt, days=days)


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        project: Annotated[Path, typer.Option("--project", "-p")] = Path("."),
        connection: Annotated[str | None, typer.Option("--connection", "-c", help="snow CLI connection.")] = None,
        clicks: Clicks = 100_000,
        seed: Seed = 42,
        corrupt_fraction: Corrupt = 0.001,
        days: Annotated[int, typer.Option(help="Days of data to generate.")] = 30,
        generate: Annotated[
            bool | None, typer.Option("--generate/--no-generate", help="Land generated files first (default: local only).")
        ] = None,
        keep_servers: Annotated[bool, typer.Option("--keep-servers", help="Leave the local account running.")] = False,
    ) -> None:
        """Deploy, land data, run every domain's task graph, and print a summary."""
        import uuid

        from snowmesh.landing import land_mesh
        from snowmesh.manifest import load_mesh
        from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
        from snowmesh.pipeline.summary import render_summary, top_roi
        from snowmesh.target import open_target

        options = _options(clicks, seed, corrupt_fraction, days)
        mesh = load_mesh(project)
        reporter = RichReporter()
        with open_target(project.resolve(), connection, keep_servers=keep_servers or None) as target:
            report = RunReport(run_id=uuid.uuid4().hex[:12])
            report.deploy = deploy(target, mesh, reporter)
            landed = land_mesh(target, mesh, options, reporter) if (generate if generate is not None else target.is_local) else []
            walk_mesh(target, mesh, reporter, report)
            roi = top_roi(target, mesh)
        render_summary(console, report, landed, roi)
        if not report.ok:
            raise typer.Exit(1)

    @app.command("generate")
    def generate_cmd(
        out: Annotated[Path, typer.Option(help="Write files under this folder instead of S3.")] = Path("output"),
        project: Annotated[Path, typer.Option("--project", "-p")] = Path("."),
        clicks: Clicks = 100_000,
        seed: Seed = 42,
        corrupt_fraction: Corrupt = 0.001,
        days: Annotated[int, typer.Option(help="Days of data to generate.")] = 30,
    ) -> None:
        """Generate Marketing and Finance source files to a local folder."""
        from snowmesh.generate import summarize, write_local
        from snowmesh.landing import GENERATORS
        from snowmesh.manifest import load_mesh

        options = _options(clicks, seed, corrupt_fraction, days)
        mesh = load_mesh(project)
        table = Table("domain", "source", "rows", "corrupt", title=f"files under {out}")
        for d in mesh.domains:
            gen = GENERATORS[d.name]
            data = gen(clicks=options.clicks, seed=options.seed, corrupt_fraction=options.corrupt_fraction, days=options.days)
            for source, (rows, bad) in summarize(write_local(data, out / d.bucket)).items():
                table.add_row(d.name, source, f"{rows:,}", f"{bad:,}")
        console.print(table)
