"""The product registry GOVERNANCE_DB.CATALOG.DATA_PRODUCTS, written from the manifests.

The manifests and contracts are the source of truth; the registry is their copy inside the
account, so in-warehouse code (PRODUCT_HEALTH, a catalog page) can list the products without
reading files. A refresh replaces the whole table in one transaction: readers see the old
list or the new one, never half of each.
"""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass

from governance.product_health import REGISTRY_COLUMNS, REGISTRY_TABLE, registry_ddl
from governance.sql import fqn, split_fqn

from snowmesh.manifest.model import PRODUCTS, Mesh
from snowmesh.target import Target


@dataclass(frozen=True)
class RegistryRow:
    domain: str
    product: str
    owner: str
    version: str
    status: str
    view_name: str
    consumers: str  # comma-separated domain names, '' for none: plain text reads well in a worksheet
    contract: str  # the contract JSON itself


def registry_rows(mesh: Mesh) -> list[RegistryRow]:
    """One row per product, in manifest order. Owner, version and status are the contract's."""
    rows = []
    for p in mesh.products:
        text = (mesh.root / p.contract).read_text()
        meta = json.loads(text).get("x-product", {})
        d = mesh.domain(p.domain)
        rows.append(
            RegistryRow(
                domain=p.domain,
                product=p.name,
                owner=str(meta.get("owner") or d.owner),
                version=str(meta.get("version") or f"{p.major}.0.0"),
                status=str(meta.get("status") or "active"),
                view_name=f"{d.database}.{PRODUCTS}.{p.view}",
                consumers=",".join(p.consumers),
                contract=text,
            )
        )
    return rows


def _statements(table: str) -> tuple[list[str], str, str]:
    """(DDL, DELETE, INSERT with placeholders) of a refresh: executed, or printed by --dry-run."""
    db, schema, _ = split_fqn(table)
    name = fqn(*split_fqn(table))
    cols = ", ".join(fqn(c) for c, _ in REGISTRY_COLUMNS)
    marks = ", ".join(["%s"] * len(REGISTRY_COLUMNS))
    ddl = [f"CREATE SCHEMA IF NOT EXISTS {fqn(db, schema)}", registry_ddl(table)]
    return ddl, f"DELETE FROM {name}", f"INSERT INTO {name} ({cols}) VALUES ({marks})"


def describe_refresh(mesh: Mesh, table: str = REGISTRY_TABLE) -> list[tuple[str, str]]:
    """(statement, note) pairs :func:`refresh_registry` runs, for a dry run."""
    ddl, delete, insert = _statements(table)
    rows = f"executemany: {len(mesh.products)} row(s), one per product"
    return [*((d, "") for d in ddl), ("BEGIN", ""), (delete, ""), (insert, rows), ("COMMIT", "")]


def refresh_registry(target: Target, mesh: Mesh, table: str = REGISTRY_TABLE) -> int:
    """Create the registry if needed and replace its rows with the manifests'. Returns the row count."""
    rows = [astuple(r) for r in registry_rows(mesh)]
    if target.is_local:
        # The local account reads any "$name" in a statement, string literals included, as a
        # session variable, and the connector inlines bound values. "$schema" is written as the
        # JSON escape \u0024schema there: the same JSON document, and no variable lookup.
        rows = [(*r[:-1], r[-1].replace("$", "\\u0024")) for r in rows]
    ddl, delete, insert = _statements(table)
    for stmt in ddl:
        target.sql(stmt)
    target.sql("BEGIN")
    try:
        target.sql(delete)
        if rows:
            with target.conn.cursor() as cur:
                cur.executemany(insert, rows)
        target.sql("COMMIT")
    except Exception:
        target.sql("ROLLBACK")
        raise
    return len(rows)
