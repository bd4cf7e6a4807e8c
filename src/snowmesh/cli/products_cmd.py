"""``mesh products`` (the registry with health) and ``mesh product show NAME`` (one product).

``products`` reads GOVERNANCE_DB.CATALOG.DATA_PRODUCTS on the local or a real account;
``product show`` reads the manifests and contracts (no account needed): schema, contract
metadata, served versions and who still reads each.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from snowmesh.cli import ui
from snowmesh.cli.ui import ConnectionOpt, FormatOpt, ProjectOpt, console
from snowmesh.errors import InputError


def _num(v: float | None, fmt: str = "{:,.1f}") -> str:
    return "-" if v is None else fmt.format(v)


def product_detail(project: Path, name: str, today: date | None = None) -> dict[str, Any]:
    """Everything ``product show`` prints, as data (also its ``--format json``)."""
    from governance.contract import parse_contract
    from snowmesh import policies, versions
    from snowmesh.federation import target_view
    from snowmesh.manifest import load_mesh

    mesh = load_mesh(project)
    try:
        p = mesh.product(name)
    except KeyError:
        known = ", ".join(q.key for q in mesh.products)
        raise InputError(f"unknown product {name!r} (known: {known})") from None
    doc = json.loads((mesh.root / p.contract).read_text())
    c = parse_contract(doc, p.contract)
    protected = {col for col, _, _ in policies.protected_columns(doc)}
    today = today or date.today()
    db = mesh.domain(p.domain).database
    served = []
    for v in versions.versions(mesh, p):
        state = v.state(today)
        if state == "gone":
            continue
        served.append({
            "view": f"{db}.PRODUCTS.{v.view}", "version": v.version, "status": v.status, "state": state,
            "deprecation_date": v.deprecation_date.isoformat() if v.deprecation_date else None,
            "read_by": versions.dependents(mesh, v),
        })
    return {
        "product": p.key, "description": c.description or p.description, "owner": c.product.owner,
        "version": c.version, "status": c.product.status, "contract": p.contract,
        "view": f"{db}.PRODUCTS.{p.view}", "consumers": list(p.consumers),
        "federation": [{"target": f.target, "view": target_view(p, f), "readers": list(f.readers)}
                       for f in p.federation],
        "sla": None if c.sla is None else {"freshness_column": c.sla.freshness_column,
                                           "max_age_hours": c.sla.max_age_hours, "schedule": c.sla.schedule},
        "primary_key": list(c.primary_key), "tags": list(c.tags), "versions": served,
        "columns": [{"name": col.name, "type": col.snowflake_type, "nullable": col.nullable,
                     "classification": col.classification or "", "masked": col.name in protected,
                     "description": col.description} for col in c.columns],
    }


def _show(d: dict[str, Any]) -> None:
    console.print(f"[bold]{d['product']}[/] {d['version']} ({d['status']}) — {d['description']}", highlight=False)
    console.print(f"owner {d['owner']}; contract {d['contract']}; consumers {', '.join(d['consumers']) or '-'}",
                  highlight=False)
    for f in d["federation"]:  # docs/federation.md
        console.print(f"federated to {f['view']} for {', '.join(f['readers'])}", highlight=False)
    if d["sla"]:
        console.print(f"SLA: {d['sla']['freshness_column']} at most {d['sla']['max_age_hours']} h old", highlight=False)
    cols = Table("column", "type", "nullable", "classification", "masked", title="schema")
    for col in d["columns"]:
        cols.add_row(col["name"], col["type"], "yes" if col["nullable"] else "NOT NULL", col["classification"],
                     "yes" if col["masked"] else "")
    console.print(cols)
    vers = Table("view", "version", "state", "deprecated until", "read by (handler INPUTS)", title="served versions")
    for v in d["versions"]:
        vers.add_row(v["view"], v["version"], v["state"], v["deprecation_date"] or "-", ", ".join(v["read_by"]) or "-")
    console.print(vers)


def _list(rows: list[Any]) -> None:
    t = Table("domain", "product", "version", "status", "view", "consumers", "last validation", "freshness (h)",
              "SLA (h)", "rows", title="data products")
    for r in rows:
        last = r.last_validation or "-"
        if r.last_validated_at:
            last += f" {r.last_validated_at}"
        t.add_row(r.domain, r.product, r.version, r.status, r.view_name, r.consumers or "-", last,
                  _num(r.freshness_hours), _num(r.sla_hours), _num(r.row_count, "{:,}"))
    console.print(t)


def register(app: typer.Typer) -> None:
    @app.command("products")
    def products(
        project: ProjectOpt = Path("."),
        connection: ConnectionOpt = None,
        refresh: Annotated[bool, typer.Option("--refresh", help="Recompute health in the warehouse first.")] = False,
        output: FormatOpt = "text",
    ) -> None:
        """List the data products from the registry, with their health."""
        from dataclasses import asdict

        from snowmesh.catalog import list_products, refresh_health, refresh_registry
        from snowmesh.manifest import load_mesh
        from snowmesh.target import open_target

        mesh = load_mesh(project)
        with open_target(project.resolve(), connection) as target:
            if refresh:
                refresh_registry(target, mesh)
                refresh_health(target, mesh)
            try:
                rows = list_products(target)
            except Exception as exc:  # noqa: BLE001 - no registry yet is an expected state
                raise InputError(f"cannot read the product registry: {exc}",
                                 hint="run `mesh deploy` or `mesh run` first") from None
        ui.emit([asdict(r) for r in rows], output, lambda _: _list(rows))

    product = typer.Typer(help="One data product: schema, contract, versions.", no_args_is_help=True)
    app.add_typer(product, name="product")
    from snowmesh.cli.domain_cmd import register_product

    register_product(product)  # mesh product new DOMAIN PRODUCT (scaffold)

    @product.command("show")
    def show(
        name: Annotated[str, typer.Argument(help="PRODUCT or DOMAIN.PRODUCT")],
        project: ProjectOpt = Path("."),
        output: FormatOpt = "text",
        today: Annotated[str | None, typer.Option(help="Evaluate deprecation windows on this date.")] = None,
    ) -> None:
        """Show a product's schema, contract metadata and served versions (with their readers)."""
        try:
            day = date.fromisoformat(today) if today else None
        except ValueError:
            raise InputError(f"--today must be YYYY-MM-DD, got {today!r}") from None
        ui.emit(product_detail(project, name, day), output, _show)

    @product.command("export")
    def export(
        name: Annotated[str, typer.Argument(help="PRODUCT or DOMAIN.PRODUCT")],
        out: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
        fmt: Annotated[str, typer.Option("--format", help="parquet.")] = "parquet",
        project: ProjectOpt = Path("."),
        connection: ConnectionOpt = None,
    ) -> None:
        """Write a product's published data (read through its view) to a Parquet file any tool can read."""
        from snowmesh.contracts.loading import find_product
        from snowmesh.manifest import load_mesh
        from snowmesh.product_export import check_format, export_parquet, published_view
        from snowmesh.target import open_target

        check_format(fmt)
        mesh = load_mesh(project)
        view = published_view(mesh, find_product(mesh, name))
        with open_target(mesh.root, connection) as target:
            done = export_parquet(target, view, out)
        console.print(f"wrote {out}: {done.rows:,} rows, {len(done.columns)} columns from {view}",
                      markup=False, highlight=False)
