"""``mesh audit log``: recent entries of the append-only audit tables, newest first.

audit_cmd.py adds it to the ``audit`` group next to ``mesh audit access``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Kind(str, Enum):
    deploy = "deploy"
    validation = "validation"
    task = "task"
    grant = "grant"


def log(
    project: Annotated[Path, typer.Option("--project", "-p", help="Project root (holds domains/).")] = Path("."),
    connection: Annotated[str | None, typer.Option(
        "--connection", "-c", help="snow CLI connection; default: the local account.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many entries.")] = 50,
    kind: Annotated[list[Kind] | None, typer.Option("--kind", "-k", help="Only these kinds (repeatable).")] = None,
) -> None:
    """Recent deploys, grants, task runs and validations from GOVERNANCE_DB.AUDIT."""
    from rich.table import Table
    from rich.text import Text

    from snowmesh.auditlog import KINDS, recent
    from snowmesh.cli.ui import console
    from snowmesh.target import open_target

    kinds = tuple(k.value for k in kind) if kind else KINDS
    with open_target(project.resolve(), connection) as target:
        from snowmesh import audit

        audit.ensure(target)  # a fresh account has no audit tables yet: an empty log, not an error
        entries = recent(target.sql, limit, kinds)
    t = Table("at (UTC)", "kind", "ref", "subject", "status", "detail")
    for e in entries:
        t.add_row(str(e.at)[:19], e.kind, Text(e.ref), Text(e.subject), Text(e.status), Text(e.detail))
    console.print(t)
    console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
