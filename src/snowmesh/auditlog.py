"""Recent entries of the append-only audit trail (GOVERNANCE_DB.AUDIT), newest first.

One entry kind per question an operator asks: what was deployed (``deploy``), which grants a
deploy issued (``grant``: DEPLOY_STATEMENTS with KIND = 'grant', timed by their deploy), how
each task ran (``task``), and how each product's validation went (``validation``: one entry
per run and product, summarising its checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from governance.sql import literal

Query = Callable[[str], list[tuple]]
KINDS = ("deploy", "grant", "task", "validation")
_A = '"GOVERNANCE_DB"."AUDIT"'


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    ref: str  # deploy id / run id
    subject: str
    status: str
    detail: str


def entry_sql(kind: str, limit: int) -> str:
    """One query per kind, each already newest first and limited (merged afterwards)."""
    n = int(limit)
    if kind == "deploy":
        return (f'SELECT "DEPLOYED_AT", "DEPLOY_ID", "TARGET", "EXECUTED", "RECORDED", "DESCRIPTION" '
                f'FROM {_A}."DEPLOYS" ORDER BY "DEPLOYED_AT" DESC LIMIT {n}')
    if kind == "grant":
        return (f'SELECT d."DEPLOYED_AT", s."DEPLOY_ID", s."OBJECT_NAME", s."OUTCOME", s."STATEMENT", s."SEQ" '
                f'FROM {_A}."DEPLOY_STATEMENTS" s JOIN {_A}."DEPLOYS" d ON d."DEPLOY_ID" = s."DEPLOY_ID" '
                f'WHERE s."KIND" = {literal("grant")} ORDER BY d."DEPLOYED_AT" DESC, s."SEQ" DESC LIMIT {n}')
    if kind == "task":
        return (f'SELECT "STARTED_AT", "RUN_ID", "TASK", "STATUS", "WAREHOUSE", "SECONDS", "MESSAGE" '
                f'FROM {_A}."TASK_RUNS" ORDER BY "STARTED_AT" DESC LIMIT {n}')
    if kind == "validation":
        # CASE, not COUNT_IF or BOOLEAN aggregates: the same text runs on the local account.
        return (f'SELECT MAX("VALIDATED_AT"), "RUN_ID", "PRODUCT", "CONTRACT_VERSION", COUNT(*), '
                f'SUM(CASE WHEN "PASSED" THEN 0 ELSE 1 END), '
                f'SUM(CASE WHEN NOT "PASSED" AND "SEVERITY" = {literal("error")} THEN 1 ELSE 0 END) '
                f'FROM {_A}."VALIDATION_RESULTS" GROUP BY "RUN_ID", "PRODUCT", "CONTRACT_VERSION" '
                f'ORDER BY 1 DESC LIMIT {n}')
    raise ValueError(kind)


def _entries(kind: str, rows: list[tuple]) -> list[Entry]:
    out: list[Entry] = []
    for r in rows:
        if kind == "deploy":
            at, ref, target, executed, recorded, desc = r
            out.append(Entry(at, kind, ref, target, f"{executed} executed, {recorded} recorded", desc or ""))
        elif kind == "grant":
            at, ref, obj, outcome, stmt, _seq = r
            out.append(Entry(at, kind, ref, obj or "", outcome, stmt))
        elif kind == "task":
            at, ref, task, status, wh, secs, msg = r
            out.append(Entry(at, kind, ref, task, status, f"{wh} {float(secs or 0):.1f}s {msg or ''}".rstrip()))
        else:
            at, ref, product, version, checks, failed, errors = r
            failed, errors = int(failed or 0), int(errors or 0)
            status = "FAILED" if errors else "PASSED"
            out.append(Entry(at, kind, ref, product, status,
                             f"contract v{version}: {checks} checks, {failed} failed ({errors} error severity)"))
    return out


def recent(query: Query, limit: int = 50, kinds: tuple[str, ...] = KINDS) -> list[Entry]:
    """The newest ``limit`` entries across ``kinds``; ties keep a stable kind order."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind(s): {sorted(unknown)}")
    entries = [e for k in kinds for e in _entries(k, query(entry_sql(k, limit)))]
    entries.sort(key=lambda e: e.at, reverse=True)  # sort is stable: per-kind order kept on ties
    return entries[:limit]


__all__ = ["KINDS", "Entry", "entry_sql", "recent"]
