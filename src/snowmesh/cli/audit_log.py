"""``mesh audit log``: recent entries of the append-only audit tables, newest first.

audit_cmd.py adds it to the ``audit`` group next to ``mesh audit access``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from snowmesh.cli.ui import ConnectionOpt, FormatOpt, ProjectOpt, emit


class Kind(str, Enum):
    deploy = "deploy"
    validation = "validation"
    task = "task"
    grant = "grant"


def log(
    project: ProjectOpt = Path("."),
    connection: ConnectionOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many entries.")] = 50,
    kind: Annotated[list[Kind] | None, typer.Option("--kind", "-k", help="Only these kinds (repeatable).")] = None,
    fmt: FormatOpt = "text",
) -> None:
    """Recent deploys, grants, task runs and validations from GOVERNANCE_DB.AUDIT."""
    from snowmesh.auditlog import KINDS, recent
    from snowmesh.target import open_target

    kinds = tuple(k.value for k in kind) if kind else KINDS
    with open_target(project.resolve(), connection) as target:
        from snowmesh import audit

        audit.ensure(target)  # a fresh account has no audit tables yet: an empty log, not an error
        entries = recent(target.sql, limit, kinds)
    doc = {"kinds": list(kinds), "limit": limit, "count": len(entries), "entries": entries}
    emit(doc, fmt, lambda _: _print(entries))


def _print(entries: list) -> None:
    from rich.table import Table
    from rich.text import Text

    from snowmesh.cli.ui import console

    t = Table("at (UTC)", "kind", "ref", "subject", "status", "detail")
    for e in entries:
        t.add_row(str(e.at)[:19], e.kind, Text(e.ref), Text(e.subject), Text(e.status), Text(e.detail))
    console.print(t)
    console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
