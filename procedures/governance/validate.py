"""Contract validation: the engine entry point (CI gate) and the stored-procedure handler.

One metadata query (INFORMATION_SCHEMA.COLUMNS) for the schema checks, then ONE aggregate data
query for every data check; the only row pulled into Python is that query's single result row.
Results are appended to the audit table; nothing there is ever updated.

Handler for snowflake.yml:  ``governance.validate.validate_product``
  signature: CONTRACT_JSON VARCHAR, TABLE_NAME VARCHAR, RUN_ID VARCHAR
  returns:   TABLE(CHECK_NAME VARCHAR, COLUMN_NAME VARCHAR, OBSERVED VARCHAR, EXPECTED VARCHAR,
                   PASSED BOOLEAN, SEVERITY VARCHAR)
(CHECK and COLUMN are reserved words in Snowflake, hence the _NAME suffixes.)

Overload for the task graphs: ``governance.validate.validate_registered_product``
  signature: PRODUCT VARCHAR ('DOMAIN.PRODUCT'); returns the same table. It finds the contract
  JSON and the staged table <DB>.STAGING.<PRODUCT> in the registry (GOVERNANCE_DB.CATALOG.
  DATA_PRODUCTS), so the VALIDATE_<P> task needs nothing but the product's name. It does not
  raise on failed checks: PUBLISH_PRODUCT reads the audit and refuses (fail closed).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from governance.checks import (
    CheckResult,
    CheckSpec,
    build_checks,
    compile_query,
    evaluate_row,
    render_custom_sql,
)
from governance.contract import Contract, parse_contract, type_fit
from governance.schema_check import check_schema, describe_table
from governance.sql import fqn, literal, split_fqn

__all__ = [
    "AUDIT_TABLE",
    "RESULT_COLUMNS",
    "CheckResult",
    "ValidationError",
    "ValidationReport",
    "results_query",
    "validate_product",
    "validate_registered",
    "validate_registered_product",
    "validate_table",
    "write_audit",
]

AUDIT_TABLE = "GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS"
RESULT_COLUMNS = ("CHECK_NAME", "COLUMN_NAME", "OBSERVED", "EXPECTED", "PASSED", "SEVERITY")
AUDIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("RUN_ID", "VARCHAR NOT NULL"),
    ("PRODUCT", "VARCHAR NOT NULL"),
    ("CONTRACT_VERSION", "VARCHAR NOT NULL"),
    ("CHECK_NAME", "VARCHAR NOT NULL"),
    ("COLUMN_NAME", "VARCHAR"),
    ("OBSERVED", "VARCHAR"),
    ("EXPECTED", "VARCHAR"),
    ("PASSED", "BOOLEAN NOT NULL"),
    ("SEVERITY", "VARCHAR NOT NULL"),
    ("VALIDATED_AT", "TIMESTAMP_NTZ NOT NULL"),
)


# Checks that only count and compare values, so they run on a column of any type. A custom
# check is not one of them: its SQL was written for the contract's types (SUM, date arithmetic).
_TYPE_AGNOSTIC = frozenset({"not_null", "null_pct", "unique", "duplicate_pct", "primary_key", "row_count"})


class ValidationError(RuntimeError):
    """The validation could not run (as opposed to: it ran and found violations)."""


@dataclass
class ValidationReport:
    product: str
    contract_version: str
    run_id: str
    results: list[CheckResult]
    queries: int  # data queries issued: 1 (0 when the table does not exist)
    table: str = ""
    sql: str = ""  # the compiled aggregate query, for logs and --explain
    domain: str = ""

    @property
    def passed(self) -> bool:
        """Fail closed: any failed error-severity check fails the whole validation."""
        return not any(not r.passed and r.severity == "error" for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]


def _three_parts(name: str) -> tuple[str, str, str]:
    parts = split_fqn(name)
    if len(parts) != 3:
        raise ValueError(f"{name!r}: expected DB.SCHEMA.NAME")
    return parts[0], parts[1], parts[2]


def validate_table(
    session: Any, contract: dict[str, Any] | Contract, table: str, run_id: str | None = None
) -> ValidationReport:
    """Validate ``table`` (``DB.SCHEMA.NAME``, unquoted) against ``contract``: schema + data checks."""
    # Inside the warehouse the contract comes from the registry; its $id is the file it was deployed from.
    c = contract if isinstance(contract, Contract) else parse_contract(contract, str(contract.get("$id", "<contract>")))
    parts = _three_parts(table)
    report = ValidationReport(
        c.product.name, c.version, run_id or uuid.uuid4().hex, [], 0, table=table, domain=c.product.domain
    )

    observed = describe_table(session, table)  # metadata, not a scan of the data
    report.results.extend(check_schema(c, observed))
    if not observed:
        return report  # table missing: nothing to scan, and the report already fails

    # A check on a missing column, or a typed check (range, pattern, freshness) on a column of an
    # incompatible type, would make the whole query fail: report it as not run instead.
    types = {o.name: o.type for o in observed}
    wrong_type = {
        col.name
        for col in c.columns
        if col.name in types and type_fit(col.snowflake_type, types[col.name]) == "incompatible"
    }
    runnable = []
    for spec in build_checks(c):
        missing = [col for col in spec.columns if col not in types]
        mistyped = (
            [col for col in spec.columns if col in wrong_type] if spec.kind not in _TYPE_AGNOSTIC else []
        )
        if not missing and not mistyped:
            runnable.append(spec)
            continue
        why = (
            f"not run: column {missing[0]} missing"
            if missing
            else f"not run: {mistyped[0]} is {types[mistyped[0]]}"
        )
        report.results.append(
            CheckResult(spec.name, spec.column, why, spec.expected_text, False, spec.severity)
        )

    compiled = compile_query(c, parts, runnable)
    report.sql = compiled.sql
    try:
        rows = session.sql(compiled.sql).collect()
    except Exception as e:
        report.queries += 1
        # A custom check that does not compile on this table (a column it reads elsewhere, a type
        # it did not expect): find it with one compile-only probe per custom check, report it
        # "not run", and run the one query again without it. Fail closed if that fails too.
        broken = _broken_custom_checks(session, c, parts, runnable)
        if not broken:
            raise ValidationError(f"validation query for {table} failed: {e}\n{compiled.sql}") from e
        for spec, why in broken.items():
            report.results.append(CheckResult(spec.name, spec.column, f"not run: {why}", spec.expected_text, False,
                                              spec.severity))
        compiled = compile_query(c, parts, [s for s in runnable if s not in broken])
        report.sql = compiled.sql
        try:
            rows = session.sql(compiled.sql).collect()
        except Exception as e2:
            raise ValidationError(f"validation query for {table} failed: {e2}\n{compiled.sql}") from e2
    finally:
        report.queries += 1
    if len(rows) != 1:
        raise ValidationError(f"validation query for {table} returned {len(rows)} rows, expected 1")
    report.results.extend(evaluate_row(compiled, tuple(rows[0])))
    return report


def _broken_custom_checks(session: Any, c: Contract, table: tuple[str, str, str],
                          specs: list[CheckSpec]) -> dict[CheckSpec, str]:
    """Custom checks whose SQL fails on ``table``, with the first line of the error (no data read)."""
    broken = {}
    for spec in specs:
        if spec.kind != "custom":
            continue
        probe = f"SELECT * FROM (\n{render_custom_sql(spec.sql or '', table)}\n) WHERE 1 = 0"
        try:
            session.sql(probe).collect()
        except Exception as e:  # noqa: BLE001 - any failure of this check's SQL is the reason it did not run
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            broken[spec] = f"its SQL fails on this table ({first[:200]})"
    return broken


def _sql_value(v: Any) -> str:
    if v is None:
        return "CAST(NULL AS VARCHAR)"  # typed, so that a first NULL row still gives a VARCHAR column
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    return literal(v)


def _result_values(r: CheckResult) -> list[str]:
    return [_sql_value(x) for x in (r.check, r.column, r.observed, r.expected, r.passed, r.severity)]


def audit_ddl(audit_table: str = AUDIT_TABLE) -> str:
    """The audit table (the deploy creates it first, so its read grant can name it)."""
    cols = ", ".join(f"{fqn(c)} {t}" for c, t in AUDIT_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {fqn(*_three_parts(audit_table))} ({cols})"


def write_audit(session: Any, report: ValidationReport, audit_table: str = AUDIT_TABLE) -> None:
    """Append the report's results to the audit table (created if missing). Never updates a row."""
    db, schema, name = _three_parts(audit_table)
    session.sql(f"CREATE SCHEMA IF NOT EXISTS {fqn(db, schema)}").collect()
    session.sql(audit_ddl(audit_table)).collect()
    if not report.results:
        return
    head = [literal(report.run_id), literal(report.product), literal(report.contract_version)]
    rows = ",\n".join(f"({', '.join(head + _result_values(r) + ['SYSDATE()'])})" for r in report.results)
    col_list = ", ".join(fqn(c) for c, _ in AUDIT_COLUMNS)
    session.sql(f"INSERT INTO {fqn(db, schema, name)} ({col_list})\nVALUES\n{rows}").collect()


def results_query(report: ValidationReport) -> str:
    """The report as a SELECT ... UNION ALL of literal rows (create_dataframe fails on fakesnow)."""
    names = [fqn(c) for c in RESULT_COLUMNS]
    if not report.results:
        return "SELECT " + ", ".join(f"CAST(NULL AS VARCHAR) AS {n}" for n in names) + " WHERE FALSE"
    selects = []
    for i, r in enumerate(report.results):
        vals = _result_values(r)
        selects.append("SELECT " + ", ".join(f"{v} AS {n}" if i == 0 else v for v, n in zip(vals, names)))
    return "\nUNION ALL\n".join(selects)


def validate_product(session: Any, contract_json: str, table: str, run_id: str) -> Any:
    """Stored-procedure handler: validate, append to the audit table, return the results as a table.

    The caller decides what a failure means (the DAG's publish step does not publish when any
    row has PASSED = FALSE AND SEVERITY = 'error').
    """
    report = validate_table(session, json.loads(contract_json), table, run_id)
    write_audit(session, report)
    return session.sql(results_query(report))


def validate_registered(session: Any, product_key: str, run_id: str | None = None) -> ValidationReport:
    """Validate a registered product's staged table against its registered contract; audit it."""
    from governance.publish import registry_entry  # stdlib-only module: adds no package

    entry = registry_entry(session, product_key)
    report = validate_table(session, json.loads(entry.contract), entry.staging_table, run_id or _graph_run_id(session))
    write_audit(session, report)
    return report


def _graph_run_id(session: Any) -> str:
    """In a task graph, the graph run's id (every VALIDATE_<P> of one run shares it); else a new one."""
    try:
        value = session.sql("SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_GRAPH_RUN_GROUP_ID')").collect()[0][0]
    except Exception:  # noqa: BLE001 - not in a task (a worksheet CALL) or not Snowflake
        value = None
    return str(value) if value else uuid.uuid4().hex


def validate_registered_product(session: Any, product: str) -> Any:
    """Stored-procedure handler of the one-argument VALIDATE_PRODUCT(PRODUCT)."""
    return session.sql(results_query(validate_registered(session, product)))
