"""The source registry GOVERNANCE_DB.CATALOG.SOURCES: what the deployed INGEST() reads.

One row per manifest source (the walker writes a domain's rows before it ingests), keyed by the
domain database. Stdlib only: this module is zipped into the procedures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from governance.ingest_sql import SOURCES_COLUMNS, SOURCES_TABLE, SourceSpec
from governance.sql import check_ident, fqn, ident, literal, split_fqn


def _run(session: Any, sql: str) -> list[Any]:
    return session.sql(sql).collect()


def register_sources(session: Any, domain: str, database: str, sources: Sequence[SourceSpec],
                     table: str = SOURCES_TABLE) -> None:
    """Replace the domain's rows of the source registry (one transaction)."""
    db, schema, _ = split_fqn(table)
    name = fqn(*split_fqn(table))
    cols = ", ".join(f"{ident(c)} {t}" for c, t in SOURCES_COLUMNS)
    _run(session, f"CREATE SCHEMA IF NOT EXISTS {fqn(db, schema)}")
    _run(session, f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
    _run(session, "BEGIN")
    try:
        _run(session, f'DELETE FROM {name} WHERE "DOMAIN" = {literal(check_ident(domain))}')
        if sources:
            values = ", ".join(f"({literal(domain)}, {literal(check_ident(database))}, {literal(s.name)}, "
                               f"{literal(s.to_json())})" for s in sources)
            _run(session, f"INSERT INTO {name} ({', '.join(ident(c) for c, _ in SOURCES_COLUMNS)}) VALUES {values}")
        _run(session, "COMMIT")
    except Exception:
        _run(session, "ROLLBACK")
        raise


def read_sources(session: Any, database: str, table: str = SOURCES_TABLE) -> list[SourceSpec]:
    rows = _run(session, f'SELECT "SPEC" FROM {fqn(*split_fqn(table))} '
                         f'WHERE "DATABASE_NAME" = {literal(check_ident(database))} ORDER BY "SOURCE"')
    return [SourceSpec.from_dict(json.loads(r[0])) for r in rows]
