"""Execute a plan on a target.

On a real account every statement that is not Terraform's runs, each as the role that must send
it (``Statement.sender``): the deploy switches with ``USE ROLE`` whenever the sender changes, and
first checks -- before any change -- that the connection can assume every sender, from
``CURRENT_AVAILABLE_ROLES()`` ("all account-level roles granted to the current user ... and all
roles lower in the hierarchy", https://docs.snowflake.com/en/sql-reference/functions/current_available_roles);
if it cannot, it stops with one line naming the roles, exit 1, nothing sent. Terraform's
statements (roles, warehouses, monitors, integrations, databases, schemas, the role model's
grants) are never sent to a real account.

On the local account, what fakesnow can execute runs; roles, grants, warehouses, monitors,
integrations, tasks and procedures are recorded in GOVERNANCE_DB.CATALOG.ACCOUNT_OBJECTS with
status RECORDED -- rendered and checked, but not executed, because the emulator cannot enforce
them (shared/EMULATION.md). The local account has no roles to switch to (fakesnow accepts any
USE ROLE and enforces nothing), so no USE ROLE is sent there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from governance.sql import ident
from snowmesh import audit
from snowmesh.console import Reporter
from snowmesh.deploy.statements import Statement
from snowmesh.errors import StepFailed
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
    terraforms: int = 0  # Terraform's statements a real account's deploy left out


def senders(statements: Sequence[Statement]) -> list[str]:
    """The roles that send ``statements``, in first-use order."""
    return list(dict.fromkeys(s.sender for s in statements if s.sender))


def available_roles(target: Any) -> set[str]:
    """The account roles the connection's user may USE (one read)."""
    rows = target.sql("SELECT CURRENT_AVAILABLE_ROLES()")
    raw = rows[0][0] if rows and rows[0] else "[]"
    try:
        return {str(r).upper() for r in json.loads(raw)}
    except (TypeError, ValueError):
        raise StepFailed(f"CURRENT_AVAILABLE_ROLES() on {target.name} returned {raw!r}, not a JSON list") from None


def check_senders(target: Any, statements: Sequence[Statement]) -> None:
    """Stop before any change unless the connection can assume every role that sends a statement."""
    needed = senders(statements)
    if not needed:
        return
    missing = [r for r in needed if r not in available_roles(target)]
    if missing:
        counts = ", ".join(f"{r} ({sum(s.sender == r for s in statements)} statement(s))" for r in missing)
        raise StepFailed(
            f"the connection {target.name} cannot use role {counts}, which must send part of this deploy; "
            "nothing was sent",
            hint="grant the role to the deploying user (Terraform's snowflake_governance and snowflake_domain "
                 "modules create it; docs/security.md, 'Owners and senders')",
        )

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
    else:
        kept = [s for s in statements if not s.terraform]
        result.terraforms = len(statements) - len(kept)
        statements = kept
        check_senders(target, statements)  # reads only: before the first change
    outcomes: list[tuple[Statement, str]] = []
    deferred: list[Statement] = []
    original = "" if target.is_local or not statements else _current_role(target)
    current = original
    try:
        with reporter.progress(description, total=len(statements)) as advance:
            for stmt in statements:
                if target.is_local and not stmt.locally_executable:
                    deferred.append(stmt)
                else:
                    if not target.is_local and stmt.sender and stmt.sender != current:
                        target.sql(f"USE ROLE {ident(stmt.sender)}")
                        current = stmt.sender
                    target.sql(stmt.sql)
                    outcomes.append((stmt, "EXECUTED"))
                    result.executed += 1
                advance(1)
    finally:
        if original and current != original:  # the audit rows and what follows run as the connection's role
            target.sql(f"USE ROLE {ident(original)}")
    if deferred:
        new = record(target, deferred)
        result.recorded, result.already_recorded = len(new), len(deferred) - len(new)
        outcomes += [(s, "RECORDED" if s.sql in new else "ALREADY_RECORDED") for s in deferred]
    audit.record_deploy(target, description, outcomes)
    return result


def _current_role(target: Any) -> str:
    rows = target.sql("SELECT CURRENT_ROLE()")
    return str(rows[0][0]) if rows and rows[0] and rows[0][0] else ""
