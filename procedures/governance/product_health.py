"""PRODUCT_HEALTH(): one row per data product -- version, last validation, freshness, size, consumers.

``CALL GOVERNANCE_DB.CATALOG.PRODUCT_HEALTH()`` from a worksheet. The product list comes from
the registry table GOVERNANCE_DB.CATALOG.DATA_PRODUCTS, which the deploy writes from the domain
manifests (snowmesh.catalog); the last validation from the append-only audit table; row count
and freshness from each published view, all in ONE query: one COUNT/MAX per view, nothing but
the registry's few metadata rows read into Python.

It runs with the owner's rights (snowflake.yml): it returns aggregates only -- counts, ages,
pass/fail -- so a steward or analyst sees the health of every product without a grant on each.

Timestamps leave as text (UTC, to the second) and ages as numbers: a NULL timestamp (a product
never validated) must not become 1970-01-01 on the way out, which the local account's result
encoding does; LEFT(..., 19) because the local account ignores the TO_VARCHAR format.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from governance.clock import build_time
from governance.sql import fqn, ident, literal, split_fqn

REGISTRY_TABLE = "GOVERNANCE_DB.CATALOG.DATA_PRODUCTS"
AUDIT_TABLE = "GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS"  # = governance.validate.AUDIT_TABLE

# The registry: one row per product, written from the manifests (snowmesh.catalog) and, in
# the Native App, by the installer. CONTRACT holds the contract JSON itself, so in-warehouse
# code needs nothing but the product's name to find its promise.
REGISTRY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("DOMAIN", "VARCHAR NOT NULL"),
    ("PRODUCT", "VARCHAR NOT NULL"),
    ("OWNER", "VARCHAR"),
    ("VERSION", "VARCHAR NOT NULL"),
    ("STATUS", "VARCHAR"),
    ("VIEW_NAME", "VARCHAR NOT NULL"),
    ("CONSUMERS", "VARCHAR"),
    ("CONTRACT", "VARCHAR NOT NULL"),
)

ARGUMENTS: tuple[tuple[str, str], ...] = ()
RETURNS: tuple[tuple[str, str], ...] = (
    ("DOMAIN", "VARCHAR"),
    ("PRODUCT", "VARCHAR"),
    ("VERSION", "VARCHAR"),
    ("STATUS", "VARCHAR"),
    ("VIEW_NAME", "VARCHAR"),
    ("PUBLISHED", "BOOLEAN"),
    ("ROW_COUNT", "NUMBER(18,0)"),
    ("FRESHNESS_HOURS", "NUMBER(12,2)"),
    ("SLA_HOURS", "NUMBER(12,2)"),
    ("FRESH", "BOOLEAN"),
    ("LAST_VALIDATION", "VARCHAR"),
    ("LAST_VALIDATED_AT", "VARCHAR"),
    ("CONSUMERS", "VARCHAR"),
)


def registry_ddl(table: str = REGISTRY_TABLE) -> str:
    cols = ", ".join(f"{ident(c)} {t}" for c, t in REGISTRY_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {fqn(*split_fqn(table))} ({cols})"


def _exists(session: Any, table: str, kind: str = "TABLES") -> bool:
    """Metadata lookup; a database that does not exist (or is not visible) counts as absent."""
    db, schema, name = split_fqn(table)
    try:
        rows = session.sql(
            f"SELECT COUNT(*) FROM {fqn(db, 'INFORMATION_SCHEMA', kind)} "
            f"WHERE TABLE_SCHEMA = {literal(schema)} AND TABLE_NAME = {literal(name)}"
        ).collect()
    except Exception:  # noqa: BLE001 - no such database / no privilege: the object is not there for us
        return False
    return int(rows[0][0]) > 0


def _sla(contract_text: str | None) -> tuple[str | None, float | None]:
    """(freshness column, max age in hours) from the contract's x-sla, or (None, None)."""
    try:
        sla = json.loads(contract_text or "{}").get("x-sla") or {}
    except (ValueError, AttributeError):
        return None, None
    col, hours = sla.get("freshness_column"), sla.get("max_age_hours")
    return (col if isinstance(col, str) else None), (float(hours) if isinstance(hours, (int, float)) else None)


def _facts_query(products: list[dict[str, Any]], published: set[str], now: datetime) -> str:
    """One SELECT per product, UNION ALL: row count and age of the newest row of its view."""
    now_sql = f"CAST({literal(now.strftime('%Y-%m-%d %H:%M:%S'))} AS TIMESTAMP_NTZ)"
    parts = []
    for p in products:
        key = f"{literal(p['DOMAIN'])} AS K_DOMAIN, {literal(p['PRODUCT'])} AS K_PRODUCT"
        col, sla = _sla(p["CONTRACT"])
        sla_sql = f"CAST({sla!r} AS NUMBER(12,2))" if sla is not None else "CAST(NULL AS NUMBER(12,2))"
        if p["VIEW_NAME"] in published:
            age = (
                f"DATEDIFF('second', MAX({ident(col)}), {now_sql}) / 3600" if col else "CAST(NULL AS FLOAT)"
            )
            parts.append(
                f"SELECT {key}, TRUE AS PUBLISHED, COUNT(*) AS ROW_COUNT, {age} AS FRESHNESS_HOURS, "
                f"{sla_sql} AS SLA_HOURS FROM {fqn(*split_fqn(p['VIEW_NAME']))}"
            )
        else:
            parts.append(
                f"SELECT {key}, FALSE AS PUBLISHED, CAST(NULL AS NUMBER(18,0)) AS ROW_COUNT, "
                f"CAST(NULL AS FLOAT) AS FRESHNESS_HOURS, {sla_sql} AS SLA_HOURS"
            )
    return "\nUNION ALL\n".join(parts)


def _validations_query(audit: str | None) -> str:
    """The latest validation run of each product: passed unless an error-severity check failed."""
    if audit is None:
        return (
            "SELECT CAST(NULL AS VARCHAR) AS V_PRODUCT, CAST(NULL AS VARCHAR) AS RESULT, "
            "CAST(NULL AS VARCHAR) AS VALIDATED_AT WHERE FALSE"
        )
    table = fqn(*split_fqn(audit))
    return f"""SELECT V_PRODUCT, RESULT, VALIDATED_AT FROM (
  SELECT "PRODUCT" AS V_PRODUCT,
         CASE WHEN MIN(CASE WHEN "SEVERITY" = 'error' AND NOT "PASSED" THEN 0 ELSE 1 END) = 1
              THEN 'PASSED' ELSE 'FAILED' END AS RESULT,
         LEFT(TO_VARCHAR(MAX("VALIDATED_AT"), 'YYYY-MM-DD HH24:MI:SS'), 19) AS VALIDATED_AT,
         ROW_NUMBER() OVER (PARTITION BY "PRODUCT" ORDER BY MAX("VALIDATED_AT") DESC, "RUN_ID" DESC) AS RN
  FROM {table} GROUP BY "PRODUCT", "RUN_ID"
) WHERE RN = 1"""


def health_query(
    products: list[dict[str, Any]], published: set[str], registry: str, audit: str | None, now: datetime
) -> str:
    """The whole answer as one statement; ``products`` are registry rows (dicts by column)."""
    if not products:
        cols = ", ".join(f"CAST(NULL AS {t}) AS {ident(c)}" for c, t in RETURNS)
        return f"SELECT {cols} WHERE FALSE"
    return (
        f"WITH FACTS AS (\n{_facts_query(products, published, now)}\n),\n"
        f"LATEST AS (\n{_validations_query(audit)}\n)\n"
        'SELECT R."DOMAIN", R."PRODUCT", R."VERSION", R."STATUS", R."VIEW_NAME", F.PUBLISHED AS "PUBLISHED",\n'
        '  CAST(F.ROW_COUNT AS NUMBER(18,0)) AS "ROW_COUNT",\n'
        '  CAST(F.FRESHNESS_HOURS AS NUMBER(12,2)) AS "FRESHNESS_HOURS", F.SLA_HOURS AS "SLA_HOURS",\n'
        "  CASE WHEN F.FRESHNESS_HOURS IS NULL OR F.SLA_HOURS IS NULL THEN NULL\n"
        '       ELSE F.FRESHNESS_HOURS <= F.SLA_HOURS END AS "FRESH",\n'
        "  COALESCE(L.RESULT, 'NEVER') AS \"LAST_VALIDATION\", L.VALIDATED_AT AS \"LAST_VALIDATED_AT\",\n"
        '  R."CONSUMERS"\n'
        f"FROM {fqn(*split_fqn(registry))} R\n"
        'JOIN FACTS F ON F.K_DOMAIN = R."DOMAIN" AND F.K_PRODUCT = R."PRODUCT"\n'
        'LEFT JOIN LATEST L ON L.V_PRODUCT = R."PRODUCT"\n'
        'ORDER BY R."DOMAIN", R."PRODUCT"'
    )


def health(session: Any, registry: str = REGISTRY_TABLE, audit: str = AUDIT_TABLE, now: datetime | None = None) -> Any:
    """PRODUCT_HEALTH for any registry/audit location (the Native App keeps its own)."""
    if not _exists(session, registry):
        raise ValueError(
            f"the product registry {registry} does not exist yet: the mesh deploy writes it from the "
            "domain manifests (mesh call and mesh tasks deploy refresh it)"
        )
    cols = [c for c, _ in REGISTRY_COLUMNS]
    rows = session.table(fqn(*split_fqn(registry))).select(*cols).collect()  # one row per product
    products = [dict(zip(cols, r)) for r in rows]
    for p in products:
        split_fqn(p["VIEW_NAME"])  # a registry row is user text: only DB.SCHEMA.VIEW names get through
    published = {p["VIEW_NAME"] for p in products if _exists(session, p["VIEW_NAME"], "VIEWS")}
    audit_table = audit if _exists(session, audit) else None
    return session.sql(health_query(products, published, registry, audit_table, now or build_time()))


def product_health(session: Any) -> Any:
    """Stored-procedure handler (RETURNS TABLE): the health of every registered product."""
    return health(session)
