"""What breaks downstream when a product (or one of its columns) changes or goes away.

Product level comes from the manifests. Column level is sqlglot column lineage over the SQL
each downstream handler's Snowpark DataFrame compiles to (``transform(session)``), so it
needs a session on an account where the inputs exist; without one every column of a
downstream product is reported as possibly affected. Lineage follows *values* (projected
expressions): a column used only in a join or filter does not make an output column derive
from it -- but removing such a column still breaks the downstream build, which the product
level already lists.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.lineage import lineage
from sqlglot.optimizer.qualify import qualify

from governance.sql import fqn, literal
from snowmesh.access.procs import handler_file, read_declaration
from snowmesh.deploy.plan import consumer_role, contract_columns
from snowmesh.errors import InputError
from snowmesh.manifest.model import PRODUCTS, Mesh, Product

Table = tuple[str, str, str]
Schema = dict[str, dict[str, dict[str, dict[str, str]]]]
ACCESS_HISTORY = "SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY"


@dataclass
class Affected:
    product: str  # DOMAIN.PRODUCT
    view: str  # DB.PRODUCTS.VIEW
    via: str  # the upstream product it reads
    columns: dict[str, list[str]] | None  # output column -> upstream columns; None: not analysed


@dataclass
class Reader:
    user: str
    role: str
    queries: int
    last_read: Any


@dataclass
class Impact:
    product: str
    view: str
    column: str | None
    analysed: bool  # column lineage was computed (else: all downstream columns may be affected)
    affected: list[Affected] = field(default_factory=list)
    roles: list[tuple[str, str]] = field(default_factory=list)  # (role, why)
    notes: list[str] = field(default_factory=list)
    access_history: str = ""
    readers: list[Reader] = field(default_factory=list)


def view_table(mesh: Mesh, p: Product) -> Table:
    return (mesh.domain(p.domain).database, PRODUCTS, p.view)


def readers_of(mesh: Mesh, p: Product) -> list[Product]:
    """Products that read ``p``'s published view, in dependency order."""
    return [q for q in mesh.products_in_order() if any(not i.is_raw and str(i) == p.key for i in q.inputs)]


def derived_columns(sql: str, schema: Schema, upstream: Table, columns: set[str]) -> dict[str, list[str]]:
    """Output columns of ``sql`` whose value derives from ``upstream``'s ``columns`` (sqlglot lineage)."""
    tree = qualify(sqlglot.parse_one(sql, dialect="snowflake"), schema=schema, dialect="snowflake",
                   validate_qualify_columns=False)
    out: dict[str, list[str]] = {}
    for name in tree.named_selects:
        hits: set[str] = set()
        for node in lineage(name, tree, schema=schema, dialect="snowflake").walk():
            t = node.expression
            if isinstance(t, exp.Table) and (t.catalog, t.db, t.name) == upstream:
                col = node.name.split(".")[-1].strip('"')
                if col in columns:
                    hits.add(col)
        if hits:
            out[name] = sorted(hits)
    return out


def compiled(session: Any, mesh: Mesh, p: Product) -> tuple[str, Schema]:
    """The SQL a product's handler compiles to, and the columns of everything it reads."""
    handler_file(mesh, p)  # validates the dotted path before anything is imported
    module = importlib.import_module(p.handler.rsplit(".", 1)[0])
    sql = module.transform(session).queries["queries"][-1]
    schema: Schema = {}
    for db, sch, name in read_declaration(mesh, p).inputs:
        fields = session.table(fqn(db, sch, name)).schema.fields
        schema.setdefault(db, {}).setdefault(sch, {})[name] = {f.name.strip('"'): "VARCHAR" for f in fields}
    return sql, schema


def analyse(mesh: Mesh, key: str, column: str | None, session: Any | None) -> Impact:
    try:
        start = mesh.product(key)
    except KeyError:
        raise InputError(f"no product {key!r}", hint="name it DOMAIN.PRODUCT, e.g. MARKETING.CAMPAIGN_PERFORMANCE") from None
    col = column.upper() if column else None
    if col and col not in contract_columns(mesh, start):
        raise InputError(f"{start.key} has no column {column!r}",
                         hint=f"its columns: {', '.join(contract_columns(mesh, start))}")
    impact = Impact(start.key, ".".join(view_table(mesh, start)), col, analysed=bool(col and session))
    if col and session is None:
        impact.notes.append(f"offline: no column lineage; every column of each downstream product may derive from {col}")
    frontier: list[tuple[Product, set[str] | None]] = [(start, {col} if col else None)]
    touched: list[Product] = [start]
    while frontier:
        up, cols = frontier.pop(0)
        for q in readers_of(mesh, up):
            if cols is None or session is None:
                impact.affected.append(Affected(q.key, ".".join(view_table(mesh, q)), up.key, None))
                nxt: set[str] | None = None
            else:
                sql, schema = compiled(session, mesh, q)
                hits = derived_columns(sql, schema, view_table(mesh, up), cols)
                if not hits:
                    impact.notes.append(f"{q.key} reads {up.key} but none of its columns derives from "
                                        f"{', '.join(sorted(cols))}")
                    continue
                impact.affected.append(Affected(q.key, ".".join(view_table(mesh, q)), up.key, hits))
                nxt = set(hits)
            touched.append(q)
            frontier.append((q, nxt))
    # Whoever can SELECT an affected view: the consumer database role and the consumer's roles.
    for p in touched:
        db = mesh.domain(p.domain).database
        for consumer in p.consumers:
            d = mesh.domain(consumer)
            why = f"reads {p.key}"
            for role in (f"{db}.{consumer_role(consumer)}", d.engineer_role, d.analyst_role):
                if role not in (r for r, _ in impact.roles):
                    impact.roles.append((role, why))
    return impact


def access_history_sql(view: Table, column: str | None, days: int) -> str:
    """Who read the view (and column) in the last ``days`` days, with the role they used."""
    name = literal(".".join(view))
    col_join = ", LATERAL FLATTEN(INPUT => o.value:columns) c" if column else ""
    col_where = f" AND c.value:columnName::STRING = {literal(column)}" if column else ""
    return (
        "SELECT a.USER_NAME, q.ROLE_NAME, COUNT(DISTINCT a.QUERY_ID), MAX(a.QUERY_START_TIME) "
        f"FROM {ACCESS_HISTORY} a "
        "JOIN SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY q ON q.QUERY_ID = a.QUERY_ID, "
        # A view is a direct object; base objects list what it reads. Either may name ours.
        "LATERAL FLATTEN(INPUT => ARRAY_CAT(a.DIRECT_OBJECTS_ACCESSED, a.BASE_OBJECTS_ACCESSED)) o"
        f"{col_join} "
        f"WHERE a.QUERY_START_TIME >= DATEADD('day', -{int(days)}, CURRENT_TIMESTAMP()) "
        f"AND o.value:objectName::STRING = {name}{col_where} "
        "GROUP BY 1, 2 ORDER BY 3 DESC"
    )


def enrich_with_access_history(impact: Impact, mesh: Mesh, query: Callable[[str], list[tuple]],
                               is_local: bool, days: int) -> None:
    if is_local:
        impact.access_history = "ACCESS_HISTORY does not exist on the local account: no observed reads"
        return
    try:
        # ACCESS_HISTORY is an Enterprise Edition view; no function reports the edition, so probe it.
        query(f"SELECT 1 FROM {ACCESS_HISTORY} LIMIT 1")
    except Exception as exc:  # the connector's ProgrammingError; classified by its text
        if "does not exist or not authorized" in str(exc):
            impact.access_history = ("ACCESS_HISTORY is unavailable (Standard Edition, or this role lacks "
                                     "IMPORTED PRIVILEGES on the SNOWFLAKE database)")
            return
        raise
    start = mesh.product(impact.product)
    rows = query(access_history_sql(view_table(mesh, start), impact.column, days))
    impact.readers = [Reader(str(u), str(r), int(n), t) for u, r, n, t in rows]
    impact.access_history = f"ACCESS_HISTORY, last {days} days: {len(impact.readers)} reader(s)"


__all__ = ["Affected", "Impact", "Reader", "access_history_sql", "analyse", "derived_columns",
           "enrich_with_access_history", "readers_of"]
