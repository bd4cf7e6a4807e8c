"""The contract engine against a real fakesnow server, a real connector and a real Snowpark Session.

Guards: one-query validation (statements counted at the session), each check's observed value."""

from __future__ import annotations

import atexit
import copy
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import snowflake.connector
import sqlglot
from snowflake.snowpark import Session
from sqlglot import exp

from governance.checks import CustomSqlError, build_checks, compile_query, guard_custom_sql, like_regex
from governance.contract import ContractError, load_contract, pair_renames, parse_contract
from governance.schema_check import ObservedColumn, describe_dataframe, diff_schema
from governance.sql import IdentifierError
from governance.validate import RESULT_COLUMNS, validate_product, validate_table, write_audit

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = sorted((ROOT / "contracts").glob("*/*/v*.json"))
AUDIT = "GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS"


def _doc(rel: str) -> dict[str, Any]:
    return json.loads((ROOT / "contracts" / rel).read_text())


# --------------------------------------------------------------------------- local account


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def fakesnow_port(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("fakesnow")
    port = _free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakesnow", "-s", "-p", str(port)],
        cwd=tmp,
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"fakesnow exited: {(tmp / 'server.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("fakesnow did not start within 30 s")
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _connect(port: int, **kw: Any):
    return snowflake.connector.connect(
        user="u",
        password="p",
        account="a",
        host="127.0.0.1",
        port=port,
        protocol="http",
        network_timeout=10,
        **kw,
    )


@pytest.fixture(scope="session")
def session(fakesnow_port: int):
    boot = _connect(fakesnow_port)
    for db in ("TESTDB", "GOVERNANCE_DB"):
        boot.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    boot.close()
    conn = _connect(fakesnow_port, database="TESTDB", schema="PUBLIC")
    s = Session.builder.configs({"connection": conn}).create()
    yield s
    # Session.close() calls SYSTEM$CANCEL_ALL_QUERIES, which fakesnow lacks; its exit hook would
    # retry it after fakesnow_port stops the server. Close the connection now, drop the hook.
    atexit.unregister(s._close_at_exit)
    conn.close()


class CountingSession:
    """Wraps a Session and records every SQL text the engine sends."""

    def __init__(self, inner: Session) -> None:
        self.inner, self.sent = inner, []

    def sql(self, query: str, *args: Any, **kwargs: Any):
        self.sent.append(query)
        return self.inner.sql(query, *args, **kwargs)

    def data_queries(self, table_fqn: str) -> list[str]:
        return [q for q in self.sent if table_fqn in q and "INFORMATION_SCHEMA" not in q]


def run(session: Session, *statements: str) -> None:
    for st in statements:
        session.sql(st).collect()


def by(report, check: str, column: str | None = None):
    hits = [r for r in report.results if r.check == check and (column is None or r.column == column)]
    assert len(hits) == 1, (check, column, report.results)
    return hits[0]


# --------------------------------------------------------------------------- model + meta-schema


def test_every_contract_in_the_repo_parses():
    assert len(CONTRACTS) >= 3
    for path in CONTRACTS:
        c = load_contract(path)
        assert f"v{c.product.major}.json" == path.name


def test_types_nullability_and_constraints_are_typed():
    c = load_contract(ROOT / "contracts/marketing/campaign_performance/v1.json")
    t = {col.name: col.snowflake_type for col in c.columns}
    assert t["CAMPAIGN_ID"] == "VARCHAR" and t["PERFORMANCE_DATE"] == "DATE"
    assert t["UPDATED_AT"] == "TIMESTAMP_NTZ" and t["CLICKS"] == "NUMBER(38,0)"
    assert t["SPEND_USD"] == "NUMBER(14,2)"
    assert c.column("CPC_USD").nullable and not c.column("CLICKS").nullable
    assert c.column("CHANNEL").enum == ("search", "social", "display", "email", "video")
    assert c.column("CTR").maximum == 1 and c.column("CAMPAIGN_NAME").max_length == 200
    assert c.primary_key == ("CAMPAIGN_ID", "PERFORMANCE_DATE")
    assert c.sla.max_age_hours == 26 and c.quality.max_null_pct == {"CPC_USD": 50}
    assert c.quality.custom[0].severity == "warn" and c.column("SPEND_USD").classification == "confidential"
    doc = _small_contract()
    doc["properties"]["RATIO"] = {"type": "number"}
    doc["properties"]["FLAG"] = {"type": ["boolean", "null"]}
    c2 = parse_contract(doc)
    assert c2.column("RATIO").snowflake_type == "FLOAT" and c2.column("FLAG").snowflake_type == "BOOLEAN"
    assert load_contract(ROOT / "contracts/marketing/ad_clicks/v1.json").column("CLICK_ID").unique


def _write(tmp_path: Path, doc: dict[str, Any] | str) -> Path:
    p = tmp_path / "contracts" / "marketing" / "broken" / "v1.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["properties"]["CLICKS"].update(type="strin"), "$.properties.CLICKS.type"),
        (lambda d: d["properties"]["CLICKS"].update(minimun=0), "$.properties.CLICKS"),
        (lambda d: d["x-product"].update(version="1.0"), "$.x-product.version"),
        (lambda d: d["x-sla"].update(max_age_hours=-1), "$.x-sla.max_age_hours"),
        (lambda d: d["properties"].update(clicks={"type": "integer"}), "$.properties"),
        (lambda d: d["required"].remove("CAMPAIGN_ID"), "$.x-primary-key[0]"),
        (lambda d: d["x-sla"].update(freshness_column="CLICKS"), "$.x-sla.freshness_column"),
        (lambda d: d["x-quality"]["max_null_pct"].update(NOPE=1), "$.x-quality.max_null_pct.NOPE"),
        (lambda d: d["properties"]["CLICKS"].update(pattern="^[0-9]+$"), "$.properties.CLICKS.pattern"),
        (lambda d: d["properties"]["CHANNEL"].update(enum=["search", 3]), "$.properties.CHANNEL.enum[1]"),
    ],
)
def test_malformed_contract_names_file_and_json_path(tmp_path, mutate, path):
    doc = _doc("marketing/campaign_performance/v1.json")
    mutate(doc)
    f = _write(tmp_path, doc)
    with pytest.raises(ContractError) as e:
        load_contract(f)
    assert f"{f}: {path}" in str(e.value), str(e.value)
    assert path in [p for p, _ in e.value.errors]


def test_invalid_json_names_the_file(tmp_path):
    f = _write(tmp_path, '{"title": ')
    with pytest.raises(ContractError, match=r"broken/v1\.json: \$: not valid JSON"):
        load_contract(f)


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM x",
        "SELECT 1; DROP TABLE x",
        "INSERT INTO t SELECT COUNT(*) FROM {table}",
        "SELECT COUNT(*) INTO t FROM {table}",
        "SELECT * FROM {table}",
        "SELECT a, b FROM {table}",
        "CALL sp()",
        "SELECT SYSTEM$WAIT(10)",
        "SELEC COUNT(*) FROM {table}",
        "   ;  ",
    ],
)
def test_custom_sql_must_be_one_read_only_select(sql):
    with pytest.raises(CustomSqlError):
        guard_custom_sql(sql)
    doc = _doc("finance/campaign_roi/v1.json")
    doc["x-quality"]["custom"][0]["sql"] = sql
    with pytest.raises(ContractError, match=r"\$\.x-quality\.custom\[0\]\.sql"):
        parse_contract(doc, source="contracts/finance/campaign_roi/v1.json")


def test_custom_sql_keeps_table_placeholder_and_strips_semicolon():
    assert guard_custom_sql("SELECT COUNT(*) FROM {table} -- x\n;") == "SELECT COUNT(*) FROM {table} -- x"


# --------------------------------------------------------------------------- the one query


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.parent.name)
def test_compiled_query_is_one_valid_snowflake_select(path):
    c = load_contract(path)
    q = compile_query(c, ("MARKETING_DB", "PRODUCTS", c.product.name))
    statements = sqlglot.parse(q.sql, read="snowflake")
    assert len(statements) == 1 and isinstance(statements[0], exp.Select)
    assert len(statements[0].selects) == len(q.specs) == len(build_checks(c))
    assert not statements[0].args.get("group")  # one aggregate row
    # Every scan is of the product table (the custom checks are scalar subqueries on it).
    tables = {t.name for t in statements[0].find_all(exp.Table)}
    assert tables == {c.product.name}


def test_pattern_is_a_search_like_json_schema():
    assert like_regex("^CMP-[0-9]{4}$") == ("CMP-[0-9]{4}", "")
    assert like_regex("[0-9]") == (".*([0-9]).*", "s")
    assert like_regex("^a|b$") == (".*(^a|b$).*", "s")


# --------------------------------------------------------------------------- validation on the server


def _small_contract() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ORDERS",
        "type": "object",
        "additionalProperties": False,
        "x-product": {"domain": "SALES", "name": "ORDERS", "owner": "sales@example.com", "version": "1.0.0"},
        "x-sla": {"freshness_column": "UPDATED_AT", "max_age_hours": 2},
        "x-quality": {"row_count": {"min": 1}, "max_null_pct": {"NOTE": 40}},
        "required": ["ORDER_ID", "STATUS", "UPDATED_AT"],
        "properties": {
            "ORDER_ID": {"type": "string", "pattern": "^ORD-[0-9]+$", "x-unique": True},
            "STATUS": {"type": "string", "enum": ["open", "closed"]},
            "AMOUNT": {
                "type": ["number", "null"],
                "x-snowflake-type": "NUMBER(10,2)",
                "minimum": 0,
                "maximum": 100,
            },
            "NOTE": {"type": ["string", "null"], "maxLength": 5},
            "CODE": {"type": ["string", "null"], "pattern": "[0-9]"},
            "UPDATED_AT": {"type": "string", "format": "date-time"},
        },
    }


ORDERS_DDL = (
    "CREATE OR REPLACE TABLE TESTDB.PUBLIC.ORDERS (ORDER_ID VARCHAR, STATUS VARCHAR, AMOUNT NUMBER(10,2), "
    "NOTE VARCHAR, CODE VARCHAR, UPDATED_AT TIMESTAMP_NTZ)"
)


@pytest.fixture
def orders(session):
    run(
        session,
        ORDERS_DDL,
        "INSERT INTO TESTDB.PUBLIC.ORDERS VALUES "
        "('ORD-1', 'open', 10, 'ok', 'a1', SYSDATE()), "
        "('ORD-1', 'closed', NULL, 'ok', 'b2', SYSDATE()), "
        "('ORD-1', 'open', NULL, NULL, 'zz', SYSDATE()), "
        "('ORD-2', 'pending', NULL, 'toolong', NULL, SYSDATE()), "
        "('X-3', 'closed', 150, NULL, '3', SYSDATE()), "
        "('ORD-4', 'open', -1, NULL, '44', SYSDATE())",
    )
    return "TESTDB.PUBLIC.ORDERS"


def test_observed_values_from_one_query(session, orders):
    counting = CountingSession(session)
    report = validate_table(counting, _small_contract(), orders, run_id="r-small")
    assert report.queries == 1
    assert len(counting.data_queries('"TESTDB"."PUBLIC"."ORDERS"')) == 1
    assert len(counting.sent) == 2  # + the INFORMATION_SCHEMA.COLUMNS metadata query
    obs = {(r.check, r.column): r.observed for r in report.results}
    assert obs[("row_count", None)] == "6"
    assert obs[("unique", "ORDER_ID")] == "2"  # ORD-1 three times
    assert obs[("pattern", "ORDER_ID")] == "1"
    assert obs[("enum", "STATUS")] == "1"  # pending
    assert obs[("minimum", "AMOUNT")] == "1" and obs[("maximum", "AMOUNT")] == "1"
    assert obs[("max_length", "NOTE")] == "1"
    assert obs[("null_pct", "NOTE")] == "50"  # 3 of 6 > 40 %
    assert obs[("pattern", "CODE")] == "1"  # 'zz' only: a JSON Schema pattern matches anywhere
    assert obs[("not_null", "STATUS")] == "0"
    assert float(obs[("freshness", "UPDATED_AT")]) < 0.1
    assert not by(report, "unique", "ORDER_ID").passed and by(report, "freshness").passed
    assert by(report, "enum", "STATUS").expected == "== 0 (values not in [open, closed])"
    assert not report.passed and report.run_id == "r-small"


def test_null_counts_duplicates_and_composite_keys(session):
    doc = _small_contract()
    doc["required"].append("AMOUNT")
    doc["properties"]["AMOUNT"]["type"] = "number"
    doc["x-primary-key"] = ["ORDER_ID", "STATUS"]
    run(
        session,
        ORDERS_DDL,
        "INSERT INTO TESTDB.PUBLIC.ORDERS VALUES "
        "('ORD-1', 'open', NULL, NULL, NULL, SYSDATE()), ('ORD-1', 'open', NULL, NULL, NULL, SYSDATE()), "
        "('ORD-2', 'open', NULL, NULL, NULL, SYSDATE()), ('ORD-3', NULL, 1, NULL, NULL, SYSDATE()), "
        "('ORD-3', NULL, 1, NULL, NULL, SYSDATE())",
    )
    report = validate_table(session, doc, "TESTDB.PUBLIC.ORDERS")
    assert by(report, "not_null", "AMOUNT").observed == "3"
    assert by(report, "not_null", "STATUS").observed == "2"
    # (ORD-1, open) twice is one duplicate key; keys with a NULL part are the not_null check's job.
    assert by(report, "primary_key", "ORDER_ID,STATUS").observed == "1"
    assert by(report, "unique", "ORDER_ID").observed == "2"
    assert report.queries == 1 and not report.passed


def _campaign_performance_table(session, rows: list[str]) -> str:
    run(
        session,
        "CREATE OR REPLACE TABLE TESTDB.PUBLIC.CAMPAIGN_PERFORMANCE (CAMPAIGN_ID VARCHAR NOT NULL, "
        "CAMPAIGN_NAME VARCHAR NOT NULL, CHANNEL VARCHAR NOT NULL, PERFORMANCE_DATE DATE NOT NULL, "
        "CLICKS NUMBER(38,0) NOT NULL, IMPRESSIONS NUMBER(38,0) NOT NULL, SPEND_USD NUMBER(14,2) NOT NULL, "
        "CLICK_COST_USD NUMBER(16,4) NOT NULL, CPC_USD NUMBER(16,4), CTR NUMBER(12,6), "
        "UPDATED_AT TIMESTAMP_NTZ NOT NULL)",
        "INSERT INTO TESTDB.PUBLIC.CAMPAIGN_PERFORMANCE VALUES " + ", ".join(rows),
    )
    return "TESTDB.PUBLIC.CAMPAIGN_PERFORMANCE"


GOOD = [
    "('CMP-0001', 'Spring', 'search', '2024-05-01', 10, 1000, 5.00, 5.0, 0.5, 0.01, SYSDATE())",
    "('CMP-0001', 'Spring', 'search', '2024-05-02', 20, 1000, 8.00, 8.0, 0.4, 0.02, SYSDATE())",
    "('CMP-0002', 'Summer', 'email', '2024-05-01', 0, 0, 0.00, 0.0, NULL, NULL, SYSDATE())",
]


def test_clean_data_passes_and_warn_failure_does_not_block(session):
    table = _campaign_performance_table(session, GOOD)
    contract = _doc("marketing/campaign_performance/v1.json")
    report = validate_table(session, contract, table)
    assert report.passed, report.failures
    assert all(r.passed for r in report.results), report.failures
    assert report.product == "CAMPAIGN_PERFORMANCE" and report.contract_version == "1.0.0"

    _campaign_performance_table(
        session, [*GOOD, "('CMP-0003', 'Fall', 'video', '2024-05-01', 50, 10, 1.00, 1.0, 0.02, 1, SYSDATE())"]
    )
    report = validate_table(session, contract, table)
    custom = by(report, "clicks_never_exceed_impressions")
    assert (custom.observed, custom.passed, custom.severity) == ("1", False, "warn")
    assert report.passed  # a failed warn check does not fail the validation

    stale = (datetime.now(UTC) - timedelta(hours=48)).strftime("%Y-%m-%d %H:%M:%S")
    _campaign_performance_table(session, [g.replace("SYSDATE()", f"'{stale}'") for g in GOOD])
    report = validate_table(session, contract, table)
    fresh = by(report, "freshness")
    assert 47.9 < float(fresh.observed) < 48.1 and not fresh.passed and fresh.severity == "error"
    assert not report.passed


def test_custom_error_check_on_real_roi_contract(session):
    run(
        session,
        "CREATE OR REPLACE TABLE TESTDB.PUBLIC.CAMPAIGN_ROI (CAMPAIGN_ID VARCHAR, CAMPAIGN_NAME VARCHAR, "
        "CHANNEL VARCHAR, PERIOD_DATE DATE, ORDERS NUMBER(38,0), REVENUE_USD NUMBER(16,2), SPEND_USD NUMBER(16,2), "
        "ROI NUMBER(18,6), ROAS NUMBER(18,6), UPDATED_AT TIMESTAMP_NTZ)",
        "INSERT INTO TESTDB.PUBLIC.CAMPAIGN_ROI VALUES "
        "('CMP-0001', 'a', 'search', '2024-05-01', 3, 30.00, 10.00, 2.0, 3.0, SYSDATE()), "
        "('CMP-0002', 'b', 'social', '2024-05-01', 1, 10.00, 10.00, 0.5, 1.0, SYSDATE())",
    )
    report = validate_table(session, _doc("finance/campaign_roi/v1.json"), "TESTDB.PUBLIC.CAMPAIGN_ROI")
    roi = by(report, "roi_matches_revenue_and_spend")
    assert (roi.observed, roi.passed, roi.severity) == ("1", False, "error")
    assert not report.passed and report.queries == 1


def test_renamed_retyped_and_extra_columns(session):
    run(
        session,
        "CREATE OR REPLACE TABLE TESTDB.PUBLIC.CP_DRIFT (CAMPAIGN_ID VARCHAR, CAMPAIGN_NAME VARCHAR, "
        "CHANNEL VARCHAR, PERFORMANCE_DATE DATE, CLICK_COUNT NUMBER(38,0), IMPRESSIONS VARCHAR, "
        "SPEND_USD NUMBER(14,2), CLICK_COST_USD NUMBER(16,4), CPC_USD NUMBER(16,4), CTR NUMBER(12,6), "
        "UPDATED_AT TIMESTAMP_NTZ, DEBUG_FLAG BOOLEAN)",
        "INSERT INTO TESTDB.PUBLIC.CP_DRIFT VALUES "
        "('CMP-0001', 'a', 'search', '2024-05-01', 1, '10', 1.00, 1.0, 1.0, 0.1, SYSDATE(), TRUE)",
    )
    contract = _doc("marketing/campaign_performance/v1.json")
    contract["x-quality"].pop("custom")  # it reads CLICKS, which is gone: that query would fail
    counting = CountingSession(session)
    report = validate_table(counting, contract, "TESTDB.PUBLIC.CP_DRIFT")
    renamed = by(report, "renamed", "CLICKS")
    assert (renamed.observed, renamed.passed) == ("CLICK_COUNT NUMBER(38,0)", False)
    assert by(report, "type", "IMPRESSIONS").observed == "VARCHAR"
    assert not by(report, "type", "IMPRESSIONS").passed
    assert by(report, "unexpected_column", "DEBUG_FLAG").severity == "error"
    assert by(report, "minimum", "CLICKS").observed == "not run: column CLICKS missing"
    assert by(report, "minimum", "IMPRESSIONS").observed == "not run: IMPRESSIONS is VARCHAR"
    assert by(report, "not_null", "IMPRESSIONS").observed == "0"
    assert report.queries == 1 and len(counting.data_queries("CP_DRIFT")) == 1 and not report.passed

    from governance.schema_check import describe_table

    messages = [
        f.message
        for f in diff_schema(load_contract(CONTRACTS[2]), describe_table(session, "TESTDB.PUBLIC.CP_DRIFT"))
    ]
    assert "column CLICKS renamed to CLICK_COUNT? (breaks contract v1)" in messages


def test_describe_dataframe_output_schema(session):
    _campaign_performance_table(session, GOOD)
    df = (
        session.table("TESTDB.PUBLIC.CAMPAIGN_PERFORMANCE")
        .select("CAMPAIGN_ID", "CHANNEL", "PERFORMANCE_DATE", "UPDATED_AT", "SPEND_USD")
        .with_column_renamed("SPEND_USD", "SPEND")
    )
    observed = {o.name: o for o in describe_dataframe(df)}
    assert observed["CAMPAIGN_ID"].type == "VARCHAR" and observed["PERFORMANCE_DATE"].type == "DATE"
    assert observed["UPDATED_AT"].type == "TIMESTAMP_NTZ" and observed["SPEND"].type == "NUMBER(14,2)"
    findings = diff_schema(load_contract(CONTRACTS[2]), list(observed.values()))
    assert "column SPEND_USD renamed to SPEND? (breaks contract v1)" in [f.message for f in findings]
    assert any(f.kind == "missing" and f.column == "CLICKS" for f in findings)


def test_rename_pairing_prefers_similar_names():
    missing = {"CLICKS": "NUMBER(38,0)"}
    added = {"IMPRESSIONS_X": "NUMBER(38,0)", "CLICK_COUNT": "NUMBER(38,0)", "NAME": "VARCHAR"}
    assert pair_renames(missing, added) == [("CLICKS", "CLICK_COUNT")]
    assert pair_renames({"A": "VARCHAR"}, {"B": "DATE"}) == []
    assert ObservedColumn("X", "VARCHAR", True).nullable


def test_missing_table_and_hostile_names(session):
    report = validate_table(session, _small_contract(), "TESTDB.PUBLIC.NOPE")
    assert report.queries == 0 and not report.passed
    assert by(report, "table_exists").observed == "missing"
    with pytest.raises(IdentifierError):
        validate_table(session, _small_contract(), 'TESTDB.PUBLIC."X"; DROP TABLE Y')
    with pytest.raises(ValueError, match="DB.SCHEMA.NAME"):
        validate_table(session, _small_contract(), "PUBLIC.ORDERS")


def _audit_rows(session, run_id: str) -> list[tuple]:
    return [
        tuple(r)
        for r in session.sql(
            f"SELECT RUN_ID, PRODUCT, CONTRACT_VERSION, CHECK_NAME, COLUMN_NAME, OBSERVED, EXPECTED, PASSED, "
            f"SEVERITY, VALIDATED_AT FROM {AUDIT} WHERE RUN_ID = '{run_id}' ORDER BY CHECK_NAME, COLUMN_NAME"
        ).collect()
    ]


def test_audit_is_append_only(session, orders):
    report = validate_table(session, _small_contract(), orders, run_id="audit-1")
    write_audit(session, report)
    first = _audit_rows(session, "audit-1")
    assert len(first) == len(report.results)
    assert {r[1:3] for r in first} == {("ORDERS", "1.0.0")}
    write_audit(session, report)
    second = _audit_rows(session, "audit-1")
    assert len(second) == 2 * len(first)
    assert set(first) <= set(second)  # the first run's rows are untouched
    failed = [r for r in second if r[3] == "enum" and r[4] == "STATUS"]
    assert {(r[5], r[7], r[8]) for r in failed} == {("1", False, "error")}


def test_procedure_handler_returns_table_and_writes_audit(session, orders):
    df = validate_product(session, json.dumps(_small_contract()), orders, "proc-1")
    rows = df.collect()
    assert tuple(df.columns) == RESULT_COLUMNS
    assert len(rows) == len(_audit_rows(session, "proc-1")) > 10
    enum = [r for r in rows if r["CHECK_NAME"] == "enum"]
    assert enum[0]["OBSERVED"] == "1" and enum[0]["PASSED"] is False
    assert any(r["COLUMN_NAME"] is None for r in rows)  # row_count: a typed NULL survives the UNION ALL


def test_validation_uses_contract_model_without_mutating_input(session, orders):
    doc = _small_contract()
    before = copy.deepcopy(doc)
    validate_table(session, doc, orders)
    assert doc == before
