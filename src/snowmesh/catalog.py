"""The product registry GOVERNANCE_DB.CATALOG.DATA_PRODUCTS, written from the manifests.

The manifests and contracts are the source of truth; the registry is their copy inside the
account, so in-warehouse code (PRODUCT_HEALTH, a catalog page) can list the products without
reading files. A refresh replaces the whole table in one transaction: readers see the old
list or the new one, never half of each.
"""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass
from datetime import date

from governance.product_health import REGISTRY_COLUMNS, REGISTRY_TABLE, registry_ddl
from governance.publish import PUBLISH_COLUMNS, RegistryEntry, Served, served_from_json
from governance.sql import fqn, literal, split_fqn
from snowmesh.manifest.model import PRODUCTS, Mesh, Product
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


def registry_row(mesh: Mesh, p: Product) -> RegistryRow:
    """``p``'s row. Owner, version and status are the contract's."""
    text = (mesh.root / p.contract).read_text()
    meta = json.loads(text).get("x-product", {})
    d = mesh.domain(p.domain)
    return RegistryRow(
        domain=p.domain,
        product=p.name,
        owner=str(meta.get("owner") or d.owner),
        version=str(meta.get("version") or f"{p.major}.0.0"),
        status=str(meta.get("status") or "active"),
        view_name=f"{d.database}.{PRODUCTS}.{p.view}",
        consumers=",".join(p.consumers),
        contract=text,
    )


def registry_rows(mesh: Mesh) -> list[RegistryRow]:
    """One row per product, in manifest order."""
    return [registry_row(mesh, p) for p in mesh.products]


def served_versions(mesh: Mesh, p: Product, today: date | None = None) -> str:
    """SERVED_VERSIONS of ``p``'s registry row: its older majors still inside their deprecation
    window, as JSON; PUBLISH serves each while its date has not passed (governance.publish)."""
    from snowmesh import versions

    served = []
    for v in versions.previous(mesh, p, today or date.today()):
        versions.check_servable(mesh, v)  # the old columns must still be in the current table
        served.append(Served(v.major, v.view, v.deprecation_date.isoformat(),
                             (mesh.root / v.contract).read_text()).to_json())
    return json.dumps(served)


def registry_entry_of(mesh: Mesh, p: Product, today: date | None = None) -> RegistryEntry:
    """What PUBLISH reads of ``p``'s registry row, built from the manifests the row is written from
    (the plan renders a publish's grants with it; tests compare both publishes with it)."""
    row = registry_row(mesh, p)
    consumers = tuple(c for c in row.consumers.split(",") if c)
    return RegistryEntry(row.domain, row.product, row.version, row.view_name, row.contract, consumers,
                         served_from_json(served_versions(mesh, p, today)))


def _statements(table: str) -> tuple[list[str], str, str]:
    """(DDL, DELETE, INSERT with placeholders) of a refresh: executed, or printed by --dry-run."""
    db, schema, _ = split_fqn(table)
    name = fqn(*split_fqn(table))
    # Every column, health ones as NULL until refresh_health: fakesnow's executemany drops an
    # INSERT's column list, so the values must cover the whole table.
    all_cols = [*REGISTRY_COLUMNS, *HEALTH_COLUMNS, *PUBLISH_COLUMNS]
    cols = ", ".join(fqn(c) for c, _ in all_cols)
    marks = ", ".join(["%s"] * len(all_cols))
    adds, _ = health_statements(table)
    adds += [f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {fqn(c)} {t}" for c, t in PUBLISH_COLUMNS]
    ddl = [f"CREATE SCHEMA IF NOT EXISTS {fqn(db, schema)}", registry_ddl(table), *adds]
    return ddl, f"DELETE FROM {name}", f"INSERT INTO {name} ({cols}) VALUES ({marks})"


def describe_refresh(mesh: Mesh, table: str = REGISTRY_TABLE) -> list[tuple[str, str]]:
    """(statement, note) pairs :func:`refresh_registry` runs, for a dry run."""
    ddl, delete, insert = _statements(table)
    rows = f"executemany: {len(mesh.products)} row(s), one per product"
    return [*((d, "") for d in ddl), ("BEGIN", ""), (delete, ""), (insert, rows), ("COMMIT", "")]


def refresh_registry(target: Target, mesh: Mesh, table: str = REGISTRY_TABLE) -> int:
    """Create the registry if needed and replace its rows with the manifests'. Returns the row count."""
    rows = [(*astuple(r), *([None] * len(HEALTH_COLUMNS)), served_versions(mesh, p))
            for r, p in zip(registry_rows(mesh), mesh.products)]
    if target.is_local:
        # The local account reads any "$name" in a statement, string literals included, as a
        # session variable, and the connector inlines bound values. "$schema" is written as the
        # JSON escape \u0024schema there: the same JSON documents, and no variable lookup.
        rows = [tuple(v.replace("$", "\\u0024") if isinstance(v, str) else v for v in r) for r in rows]
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


# --- health: SLA, last validation, freshness, size (computed in the warehouse) -----------------

# Added to the registry with ADD COLUMN IF NOT EXISTS, so the registry DDL shared with the
# Native App (governance.product_health) stays as it is and older registries converge.
HEALTH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("SLA_HOURS", "NUMBER(12,2)"),
    ("LAST_VALIDATION", "VARCHAR"),
    ("LAST_VALIDATED_AT", "VARCHAR"),
    ("FRESHNESS_HOURS", "NUMBER(12,2)"),
    ("ROW_COUNT", "NUMBER(18,0)"),
    ("HEALTH_AT", "VARCHAR"),
)


def health_statements(table: str = REGISTRY_TABLE) -> tuple[list[str], str]:
    """(ADD COLUMN for each health column, UPDATE with placeholders for one product's figures)."""
    name = fqn(*split_fqn(table))
    adds = [f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {fqn(c)} {t}" for c, t in HEALTH_COLUMNS]
    sets = ", ".join(f"{fqn(c)} = %s" for c, _ in HEALTH_COLUMNS)
    return adds, f'UPDATE {name} SET {sets} WHERE "DOMAIN" = %s AND "PRODUCT" = %s'


def refresh_health(target: Target, mesh: Mesh, table: str = REGISTRY_TABLE) -> int:
    """Recompute the registry's health columns; returns the products updated.

    The figures are computed in the warehouse by ONE query (governance.product_health, the same
    as CALL PRODUCT_HEALTH(): the latest run per product in VALIDATION_RESULTS, COUNT(*) and the
    age of MAX(freshness column) per published view); Python receives one aggregate row per
    product and writes it back. (A CTAS of that query would avoid even that, but the local
    account fails on DATEDIFF inside the subquery Snowpark wraps a CTAS in.)
    Call it after validation/publish: the runner does, after walking the graph.
    """
    from governance.clock import build_time
    from governance.product_health import health

    now = build_time()
    if not target.sql(f"SELECT COUNT(*) FROM {fqn(*split_fqn(table))}")[0][0]:
        refresh_registry(target, mesh, table)
    rows = health(target.session, registry=table, now=now).collect()
    adds, update = health_statements(table)
    for stmt in adds:
        target.sql(stmt)
    at = now.strftime("%Y-%m-%d %H:%M:%S")
    params = [
        (r["SLA_HOURS"], r["LAST_VALIDATION"], r["LAST_VALIDATED_AT"], r["FRESHNESS_HOURS"], r["ROW_COUNT"], at,
         r["DOMAIN"], r["PRODUCT"])
        for r in rows
    ]
    if params:
        with target.conn.cursor() as cur:
            cur.executemany(update, params)
    return len(params)


@dataclass(frozen=True)
class ProductListing:
    """One row of ``mesh products``: the registry row with its health columns."""

    domain: str
    product: str
    version: str
    status: str
    view_name: str
    consumers: str
    sla_hours: float | None
    last_validation: str | None
    last_validated_at: str | None
    freshness_hours: float | None
    row_count: int | None


def list_products(target: Target, table: str = REGISTRY_TABLE) -> list[ProductListing]:
    """Read the registry (metadata rows only: one per product)."""
    name = fqn(*split_fqn(table))
    have = {r[0] for r in target.sql(
        f"SELECT COLUMN_NAME FROM {fqn(split_fqn(table)[0], 'INFORMATION_SCHEMA', 'COLUMNS')} "
        f"WHERE TABLE_SCHEMA = {literal(split_fqn(table)[1])} AND TABLE_NAME = {literal(split_fqn(table)[2])}")}
    cols = ["DOMAIN", "PRODUCT", "VERSION", "STATUS", "VIEW_NAME", "CONSUMERS"]
    health = ["SLA_HOURS", "LAST_VALIDATION", "LAST_VALIDATED_AT", "FRESHNESS_HOURS", "ROW_COUNT"]
    select = ", ".join([*(fqn(c) for c in cols), *(fqn(c) if c in have else "NULL" for c in health)])
    rows = target.sql(f'SELECT {select} FROM {name} ORDER BY "DOMAIN", "PRODUCT"')
    return [
        ProductListing(*(str(v) if v is not None else "" for v in r[:6]),
                       None if r[6] is None else float(r[6]), r[7], r[8],
                       None if r[9] is None else float(r[9]), None if r[10] is None else int(r[10]))
        for r in rows
    ]
