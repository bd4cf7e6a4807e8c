"""Execute a plan on a target.

On a real account every statement runs. On the local account, what fakesnow can execute
runs; roles, grants, warehouses, monitors, integrations, tasks and procedures are recorded
in GOVERNANCE_DB.CATALOG.ACCOUNT_OBJECTS with status RECORDED -- rendered and checked, but
not executed, because the emulator cannot enforce them (shared/EMULATION.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from snowmesh import audit
from snowmesh.console import Reporter
from snowmesh.deploy.statements import Statement
from snowmesh.target import Target

CATALOG_TABLE = "GOVERNANCE_DB.CATALOG.ACCOUNT_OBJECTS"
_CATALOG_DDL = (
    'CREATE TABLE IF NOT EXISTS "GOVERNANCE_DB"."CATALOG"."ACCOUNT_OBJECTS" ('
    '"KIND" VARCHAR NOT NULL, "OBJECT_NAME" VARCHAR NOT NULL, "DOMAIN" VARCHAR, '
    '"STATEMENT" VARCHAR NOT NULL, "STATUS" VARCHAR NOT NULL, "RECORDED_AT" TIMESTAMP_NTZ NOT NULL)'
)


@dataclass
class ApplyResult:
    executed: int = 0
    recorded: int = 0
    already_recorded: int = 0


def _bootstrap_catalog(target: Target) -> None:
    target.sql('CREATE DATABASE IF NOT EXISTS "GOVERNANCE_DB"')
    target.sql('CREATE SCHEMA IF NOT EXISTS "GOVERNANCE_DB"."CATALOG"')
    target.sql(_CATALOG_DDL)


def record(target: Target, statements: Sequence[Statement]) -> set[str]:
    """Record statements the local account cannot execute; return the SQL of those newly recorded."""
    if not statements:
        return set()
    existing = {row[0] for row in target.sql('SELECT "STATEMENT" FROM "GOVERNANCE_DB"."CATALOG"."ACCOUNT_OBJECTS"')}
    new = [s for s in statements if s.sql not in existing]
    if new:
        with target.conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO "GOVERNANCE_DB"."CATALOG"."ACCOUNT_OBJECTS" '
                '("KIND", "OBJECT_NAME", "DOMAIN", "STATEMENT", "STATUS", "RECORDED_AT") '
                "VALUES (%s, %s, %s, %s, 'RECORDED', SYSDATE())",
                [(s.kind.value, s.object_name, s.domain, s.sql) for s in new],
            )
    return {s.sql for s in new}


def apply(target: Target, statements: Sequence[Statement], reporter: Reporter, description: str = "deploy") -> ApplyResult:
    """Execute (or, locally, record) the statements, then append the deploy to the audit trail."""
    result = ApplyResult()
    if target.is_local:
        _bootstrap_catalog(target)
    outcomes: list[tuple[Statement, str]] = []
    deferred: list[Statement] = []
    with reporter.progress(description, total=len(statements)) as advance:
        for stmt in statements:
            if target.is_local and not stmt.locally_executable:
                deferred.append(stmt)
            else:
                target.sql(stmt.sql)
                outcomes.append((stmt, "EXECUTED"))
                result.executed += 1
            advance(1)
    if deferred:
        new = record(target, deferred)
        result.recorded, result.already_recorded = len(new), len(deferred) - len(new)
        outcomes += [(s, "RECORDED" if s.sql in new else "ALREADY_RECORDED") for s in deferred]
    audit.record_deploy(target, description, outcomes)
    return result
