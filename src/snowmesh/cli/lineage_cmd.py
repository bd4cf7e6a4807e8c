"""``mesh lineage`` (the product graph) and ``mesh impact`` (who is affected by a change)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from snowmesh.cli.ui import ConnectionOpt, FormatOpt, OutputOpt, ProjectOpt


class GraphFormat(str, Enum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


def lineage(
    project: ProjectOpt = Path("."),
    fmt: Annotated[GraphFormat, typer.Option(
        "--format", "-f", help="text, mermaid, dot or json (docs/cli-json.md).")] = GraphFormat.text,
    output: OutputOpt = None,
) -> None:
    """The product graph: S3 prefix -> raw table -> published view -> consumer product."""
    from rich.text import Text

    from snowmesh.cli.ui import console, err_console, jsonable
    from snowmesh.lineage import build_lineage
    from snowmesh.manifest import load_mesh

    graph = build_lineage(load_mesh(project))
    text = {GraphFormat.text: graph.to_text, GraphFormat.mermaid: graph.to_mermaid, GraphFormat.dot: graph.to_dot,
            GraphFormat.json: lambda: json.dumps(jsonable(lineage_dict(graph)), indent=2) + "\n"}[fmt]()
    for w in graph.warnings:
        err_console.print(Text(f"warning: {w}", style="yellow"), soft_wrap=True)
    if output:
        output.write_text(text)
        if fmt is GraphFormat.json:  # stdout still holds one JSON document
            from snowmesh.cli.ui import write_json

            write_json({"output": str(output), "nodes": len(graph.nodes), "edges": len(graph.edges)})
            return
        console.print(f"wrote {len(graph.nodes)} nodes and {len(graph.edges)} edges to {output}")
    elif fmt is GraphFormat.json:
        from snowmesh.cli.ui import write_json

        write_json(lineage_dict(graph))
    else:
        console.out(text, highlight=False, end="")


def lineage_dict(graph) -> dict:
    """The graph as data: ``mesh lineage --format json`` (docs/cli-json.md)."""
    return {"nodes": [{"id": n.id, "kind": n.kind, "domain": n.domain, "product": n.product or None}
                      for n in graph.nodes.values()],
            "edges": [{"src": e.src, "dst": e.dst} for e in graph.edges], "warnings": list(graph.warnings)}


def impact(
    product: Annotated[str, typer.Argument(help="DOMAIN.PRODUCT (or a unique product name).")],
    column: Annotated[str | None, typer.Option("--column", help="Analyse one column of the product.")] = None,
    project: ProjectOpt = Path("."),
    connection: ConnectionOpt = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="No account: product level only; every downstream column may be affected.")] = False,
    days: Annotated[int, typer.Option("--days", min=1, help="ACCESS_HISTORY window (real account).")] = 30,
    fmt: FormatOpt = "text",
) -> None:
    """Every downstream product, column and consumer role affected by changing PRODUCT (or its --column)."""
    from snowmesh.errors import InputError
    from snowmesh.impact import analyse, enrich_with_access_history
    from snowmesh.manifest import load_mesh

    if offline and connection:
        raise InputError("--offline and --connection exclude each other")
    mesh = load_mesh(project)
    if offline:
        result = analyse(mesh, product, column, None)
        result.access_history = "offline: ACCESS_HISTORY not consulted"
    else:
        from snowmesh.target import open_target

        with open_target(project.resolve(), connection) as target:
            result = analyse(mesh, product, column, target.session)
            enrich_with_access_history(result, mesh, target.sql, target.is_local, days)
    from snowmesh.cli.ui import emit

    emit(impact_dict(result), fmt, lambda _: _print_impact(result))


def impact_dict(result) -> dict:
    """An impact analysis as data: ``mesh impact --format json`` (docs/cli-json.md)."""
    return {"product": result.product, "view": result.view, "column": result.column, "analysed": result.analysed,
            "affected": [{"product": a.product, "view": a.view, "via": a.via, "columns": a.columns}
                         for a in result.affected],
            "roles": [{"role": role, "why": why} for role, why in result.roles], "notes": list(result.notes),
            "access_history": result.access_history,
            "readers": [{"user": r.user, "role": r.role, "queries": r.queries, "last_read": r.last_read}
                        for r in result.readers]}


def _print_impact(result) -> None:
    from rich.table import Table
    from rich.text import Text

    from snowmesh.cli.ui import console, err_console

    what = f"{result.product}.{result.column}" if result.column else result.product
    console.print(Text(f"impact of changing {what} ({result.view})", style="bold"))
    if result.affected:
        t = Table("downstream product", "via", "affected columns")
        for a in result.affected:
            if a.columns is None:
                cols = "all columns may be affected" if result.column else "(product level)"
            else:
                cols = ", ".join(f"{c} <- {'/'.join(src)}" for c, src in a.columns.items())
            t.add_row(Text(a.product), Text(a.via), Text(cols))
        console.print(t)
    else:
        console.print("no downstream product is affected")
    if result.roles:
        t = Table("role", "why")
        for role, why in result.roles:
            t.add_row(Text(role), Text(why))
        console.print(t)
    for note in result.notes:  # notes on stderr: stdout holds only the result
        err_console.print(Text(f"note: {note}", style="dim"), soft_wrap=True)
    console.print(Text(result.access_history), soft_wrap=True)
    for r in result.readers:
        console.print(Text(f"  {r.user} as {r.role}: {r.queries} quer{'y' if r.queries == 1 else 'ies'}, "
                           f"last {r.last_read}"))


def register(app: typer.Typer) -> None:
    app.command("lineage")(lineage)
    app.command("impact")(impact)
