"""A custom check on a missing or retyped column is "not run" and fails; every other check still runs.

Before, such a check broke the one aggregate validation query, so no check had a result and
nothing was audited. Runs on a fakesnow server of its own (like tests/test_contract_engine.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
import snowflake.connector
from snowflake.snowpark import Session

from governance.checks import custom_columns
from governance.validate import validate_table, write_audit

AUDIT = "GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("fakesnow-custom")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "fakesnow", "-s", "-p", str(port)], cwd=tmp,
                            env={**os.environ, "TMPDIR": str(tmp)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"fakesnow did not start: {(tmp / 'server.log').read_text()}")
                time.sleep(0.1)
        conn = snowflake.connector.connect(user="u", password="p", account="a", host="127.0.0.1", port=port,
                                           protocol="http", network_timeout=10)
        for db in ("CHECKDB", "GOVERNANCE_DB"):
            conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        conn.close()
        conn = snowflake.connector.connect(user="u", password="p", account="a", host="127.0.0.1", port=port,
                                           protocol="http", network_timeout=10, database="CHECKDB", schema="PUBLIC")
        yield Session.builder.configs({"connection": conn}).create()
        conn.close()  # Session.close() calls SYSTEM$CANCEL_ALL_QUERIES, which fakesnow lacks
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _contract(custom: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ORDERS",
        "type": "object",
        "additionalProperties": True,
        "x-product": {"domain": "SALES", "name": "ORDERS", "owner": "sales@example.com", "version": "1.0.0"},
        "x-quality": {"row_count": {"min": 1}, "custom": custom},
        "required": ["ORDER_ID"],
        "properties": {
            "ORDER_ID": {"type": "string", "x-unique": True},
            "AMOUNT": {"type": ["number", "null"], "x-snowflake-type": "NUMBER(10,2)", "minimum": 0},
            "DISCOUNT": {"type": ["number", "null"], "x-snowflake-type": "NUMBER(10,2)"},
        },
    }


class Counting:
    def __init__(self, inner: Session) -> None:
        self.inner, self.sent = inner, []

    def sql(self, query: str, *args: Any, **kwargs: Any):
        self.sent.append(query)
        return self.inner.sql(query, *args, **kwargs)


def _run(session: Session, *statements: str) -> None:
    for st in statements:
        session.sql(st).collect()


def _by(report, check: str):
    hits = [r for r in report.results if r.check == check]
    assert len(hits) == 1, (check, report.results)
    return hits[0]


NEGATIVE = {"name": "no_negative_amount", "sql": "SELECT COUNT(*) FROM {table} WHERE AMOUNT < 0", "expect": 0}
DISCOUNT = {"name": "discount_below_amount", "sql": "SELECT COUNT(*) FROM {table} t WHERE t.DISCOUNT > t.AMOUNT",
            "expect": 0}
DUPLICATE_IDS = {"name": "few_duplicates", "sql": "SELECT COUNT(*) - COUNT(DISTINCT ORDER_ID) FROM {table}",
                 "expect": 1, "op": "<="}


def test_the_checks_columns_are_read_from_its_sql() -> None:
    assert custom_columns(NEGATIVE["sql"]) == ("AMOUNT",)
    assert custom_columns(DISCOUNT["sql"]) == ("DISCOUNT", "AMOUNT")
    # Another table's columns are not the product's; an alias the check defines is not a column.
    assert custom_columns("SELECT COUNT(*) FROM {table} t JOIN X.Y.Z o ON o.K = t.ORDER_ID") == ("ORDER_ID",)
    assert custom_columns("SELECT COUNT(*) AS N FROM {table} HAVING N > 0") == ()


def test_a_check_on_a_missing_column_is_not_run_and_the_rest_run_in_one_query(session) -> None:
    _run(session, "CREATE OR REPLACE TABLE CHECKDB.PUBLIC.ORDERS_A (ORDER_ID VARCHAR, AMOUNT NUMBER(10,2))",
         "INSERT INTO CHECKDB.PUBLIC.ORDERS_A VALUES ('O1', 5), ('O2', -1), ('O2', 3)")
    counting = Counting(session)
    report = validate_table(counting, _contract([NEGATIVE, DISCOUNT, DUPLICATE_IDS]), "CHECKDB.PUBLIC.ORDERS_A",
                            run_id="custom-missing")
    missing = _by(report, "discount_below_amount")
    assert (missing.observed, missing.passed, missing.severity) == ("not run: column DISCOUNT missing", False, "error")
    # Every other check ran, with values computed from the three rows above.
    assert (_by(report, "no_negative_amount").observed, _by(report, "no_negative_amount").passed) == ("1", False)
    assert (_by(report, "few_duplicates").observed, _by(report, "few_duplicates").passed) == ("1", True)
    assert _by(report, "row_count").observed == "3" and _by(report, "unique").observed == "1"
    assert _by(report, "minimum").observed == "1"
    assert report.queries == 1
    assert len([q for q in counting.sent if "ORDERS_A" in q and "INFORMATION_SCHEMA" not in q]) == 1
    assert not report.passed

    write_audit(session, report)
    audited = session.sql(f"SELECT CHECK_NAME, OBSERVED, PASSED FROM {AUDIT} WHERE RUN_ID = 'custom-missing'").collect()
    assert {(r[0], r[1], r[2]) for r in audited} >= {
        ("discount_below_amount", "not run: column DISCOUNT missing", False),
        ("no_negative_amount", "1", False), ("few_duplicates", "1", True)}
    assert len(audited) == len(report.results)


def test_a_check_on_a_retyped_column_is_not_run(session) -> None:
    _run(session, "CREATE OR REPLACE TABLE CHECKDB.PUBLIC.ORDERS_B (ORDER_ID VARCHAR, AMOUNT DATE, "
                  "DISCOUNT NUMBER(10,2))",
         "INSERT INTO CHECKDB.PUBLIC.ORDERS_B VALUES ('O1', '2026-01-01', 1), ('O2', NULL, 2)")
    report = validate_table(session, _contract([NEGATIVE, DUPLICATE_IDS]), "CHECKDB.PUBLIC.ORDERS_B")
    retyped = _by(report, "no_negative_amount")
    assert (retyped.observed, retyped.passed) == ("not run: AMOUNT is DATE", False)
    assert _by(report, "few_duplicates").observed == "0" and _by(report, "row_count").observed == "2"
    assert report.queries == 1 and not report.passed


def test_a_check_that_fails_for_another_reason_is_found_by_a_probe(session) -> None:
    """Its broken column is another table's, so only the database can say: one probe per custom check."""
    _run(session, "CREATE OR REPLACE TABLE CHECKDB.PUBLIC.ORDERS_C (ORDER_ID VARCHAR, AMOUNT NUMBER(10,2), "
                  "DISCOUNT NUMBER(10,2))",
         "INSERT INTO CHECKDB.PUBLIC.ORDERS_C VALUES ('O1', 5, 1), ('O2', 7, 9)",
         "CREATE OR REPLACE TABLE CHECKDB.PUBLIC.REFUNDS (ORDER_ID VARCHAR)")
    refunds = {"name": "refunds_known", "expect": 0,
               "sql": "SELECT COUNT(*) FROM {table} t WHERE t.ORDER_ID IN (SELECT r.NO_SUCH FROM CHECKDB.PUBLIC.REFUNDS r)"}
    report = validate_table(session, _contract([refunds, DISCOUNT]), "CHECKDB.PUBLIC.ORDERS_C")
    broken = _by(report, "refunds_known")
    assert broken.observed.startswith("not run: its SQL fails on this table") and not broken.passed
    assert (_by(report, "discount_below_amount").observed, _by(report, "row_count").observed) == ("1", "2")
    assert report.queries == 2 and not report.passed
