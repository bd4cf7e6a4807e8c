"""The append-only audit trail in GOVERNANCE_DB.AUDIT. Rows are only ever inserted.

    DEPLOYS            one row per deploy: who, where, what, how many statements
    DEPLOY_STATEMENTS  every statement of a deploy and its outcome (grant changes: KIND = 'grant')
    TASK_RUNS          every task of every task-graph run: status, times, warehouse, message
    VALIDATION_RESULTS every contract check of every validation (written by governance.validate)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from snowmesh.deploy.statements import Statement
from snowmesh.target import Target

SCHEMA = '"GOVERNANCE_DB"."AUDIT"'
_TABLES = {
    "DEPLOYS": (
        '"DEPLOY_ID" VARCHAR NOT NULL, "DEPLOYED_AT" TIMESTAMP_NTZ NOT NULL, "DEPLOYED_BY" VARCHAR, '
        '"TARGET" VARCHAR NOT NULL, "DESCRIPTION" VARCHAR, "EXECUTED" NUMBER NOT NULL, "RECORDED" NUMBER NOT NULL'
    ),
    "DEPLOY_STATEMENTS": (
        '"DEPLOY_ID" VARCHAR NOT NULL, "SEQ" NUMBER NOT NULL, "KIND" VARCHAR NOT NULL, "OBJECT_NAME" VARCHAR, '
        '"DOMAIN" VARCHAR, "STATEMENT" VARCHAR NOT NULL, "OUTCOME" VARCHAR NOT NULL'
    ),
    "TASK_RUNS": (
        '"RUN_ID" VARCHAR NOT NULL, "DAG" VARCHAR NOT NULL, "TASK" VARCHAR NOT NULL, "STATUS" VARCHAR NOT NULL, '
        '"STARTED_AT" TIMESTAMP_NTZ, "ENDED_AT" TIMESTAMP_NTZ, "SECONDS" FLOAT, "WAREHOUSE" VARCHAR, "MESSAGE" VARCHAR'
    ),
}


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure(target: Target) -> None:
    target.sql('CREATE DATABASE IF NOT EXISTS "GOVERNANCE_DB"')
    target.sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for name, cols in _TABLES.items():
        target.sql(f'CREATE TABLE IF NOT EXISTS {SCHEMA}."{name}" ({cols})')


def record_deploy(target: Target, description: str, outcomes: Sequence[tuple[Statement, str]]) -> str:
    """Append one deploy and its statements (outcome: EXECUTED / RECORDED / ALREADY_RECORDED)."""
    ensure(target)
    deploy_id = uuid.uuid4().hex[:12]
    executed = sum(1 for _, o in outcomes if o == "EXECUTED")
    with target.conn.cursor() as cur:
        cur.execute(
            f'INSERT INTO {SCHEMA}."DEPLOYS" VALUES (%s, %s, CURRENT_USER(), %s, %s, %s, %s)',
            (deploy_id, now(), target.name, description, executed, len(outcomes) - executed),
        )
        if outcomes:
            cur.executemany(
                f'INSERT INTO {SCHEMA}."DEPLOY_STATEMENTS" VALUES (%s, %s, %s, %s, %s, %s, %s)',
                [(deploy_id, i, s.kind.value, s.object_name, s.domain, s.sql, o) for i, (s, o) in enumerate(outcomes)],
            )
    return deploy_id


def record_task_run(target: Target, run_id: str, dag: str, task: str, status: str, started: datetime,
                    seconds: float, warehouse: str, message: str) -> None:
    with target.conn.cursor() as cur:
        cur.execute(
            f'INSERT INTO {SCHEMA}."TASK_RUNS" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)',
            (run_id, dag, task, status, started, now(), seconds, warehouse, message[:2000]),
        )
