"""The task graphs' procedures: INGEST, VALIDATE_PRODUCT(product), PUBLISH(product), RECORD_DAG_RUN.

Their code lives in procedures/governance/ and is what the local walker runs too. SQL builders
are checked as text (exact) and parsed with sqlglot's Snowflake dialect; the handlers run on the
session-wide scratch local account after the small mesh run (conftest.mesh_run), and each test
leaves the products published as it found them.

Guards: the ingest SQL fits Snowflake's grammar (tests/sql_grammar.py), VALIDATE then PUBLISH refuses
after a failed validation, RECORD_DAG_RUN.
"""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import ROOT
from sql_grammar import check

from governance import ingest as gi
from governance.dag_run import DAG_RUNS_TABLE, record_dag_run
from governance.publish import PublishRefused, publish_product, publish_statements, registry_entry
from governance.validate import validate_registered_product
from snowmesh.deploy.tasks import unshipped_calls
from snowmesh.ingest import source_spec
from snowmesh.manifest import load_mesh
from snowmesh.pipeline import steps

MESH = load_mesh(ROOT)
CLICKS = "MARKETING.AD_CLICKS"
VIEW = '"MARKETING_DB"."PRODUCTS"."AD_CLICKS_V1"'
SPEC = gi.SourceSpec("CLICKS", "clicks", (gi.ColumnSpec("CLICK_ID", "VARCHAR", True),
                                          gi.ColumnSpec("COST_USD", "NUMBER(12,4)", True)))


def _parse(sql: str) -> None:
    check(sql)  # a sqlglot tree that is not a Command, or a cited Snowflake grammar (tests/sql_grammar.py)


# --------------------------------------------------------------------------- ingest SQL


def test_real_account_copy_statement_is_exact() -> None:
    sql = gi.real_copy_sql("MARKETING_DB", SPEC, ["clicks/2026-10-01/part-0.csv.gz", "clicks/x'y.csv.gz"])
    assert sql == (
        'COPY INTO "MARKETING_DB"."RAW"."CLICKS_LANDING" ("CLICK_ID", "COST_USD", "_EXTRA", "_FILE", "_LINE") '
        "FROM (SELECT $1, $2, $3, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER "
        'FROM @"MARKETING_DB"."RAW"."LANDING") '
        "FILES = ('clicks/2026-10-01/part-0.csv.gz', 'clicks/x''y.csv.gz') "
        "FILE_FORMAT = (FORMAT_NAME = 'MARKETING_DB.RAW.CSV_GZIP_WITH_HEADER') ON_ERROR = CONTINUE"
    )
    _parse(sql)


def test_shared_ingest_sql_parses_for_every_manifest_source() -> None:
    for d in MESH.domains:
        for s in d.sources:
            spec = source_spec(s)
            typed = gi.scratch_table(d.database, spec.typed_table)
            good, bad = gi.promote_sql(d.database, spec, typed)
            for sql in (
                gi.create_typed_sql(d.database, spec, typed),
                gi.create_typed_sql(d.database, spec, gi.scratch_table(d.database, spec.typed_table, qualified=False)),
                gi.real_copy_sql(d.database, spec, [f"{s.prefix}/a.csv.gz"]),
                f"INSERT INTO {d.database}.RAW.T {gi.typed_select(spec, 'X')}",
                good, bad, gi.per_file_sql(typed),
                gi.ledger_insert_sql(d.database, [(s.name, f"{s.prefix}/a.csv.gz", "0f3a", 3, 2, 1)]),
                gi.rejected_insert_sql(d.database, [(s.name, f"{s.prefix}/b.csv.gz", None, "not gzip", 0)]),
                gi.quarantine_lines_sql(d.database, spec, [(f"{s.prefix}/a.csv.gz", 4, "2 fields, expected 3", "a,b")]),
            ):
                _parse(sql)


def test_typed_expressions_and_reason() -> None:
    assert gi.typed_expr(gi.ColumnSpec("A", "NUMBER(12,2)"), '"A"') == 'TRY_TO_DECIMAL("A", 12, 2)'
    assert gi.typed_expr(gi.ColumnSpec("A", "VARCHAR"), '"A"') == '"A"'
    assert gi.reason_expr(SPEC.columns) == (
        "CASE WHEN CONTAINS(\"R_CLICK_ID\", CHR(0)) THEN 'NUL byte in CLICK_ID' "
        "WHEN CONTAINS(\"R_COST_USD\", CHR(0)) THEN 'NUL byte in COST_USD' "
        "WHEN COALESCE(LENGTH(\"R_CLICK_ID\"), 0) + COALESCE(LENGTH(\"R_COST_USD\"), 0) + 1 > 1000000 "
        "THEN 'line longer than 1000000 characters' "
        "WHEN \"R_CLICK_ID\" IS NULL THEN 'missing CLICK_ID' "
        "WHEN REGEXP_LIKE(\"R_CLICK_ID\", '^[[:space:]]*$') THEN 'blank CLICK_ID' "
        "WHEN \"R_COST_USD\" IS NULL THEN 'missing COST_USD' "
        "WHEN \"R_COST_USD\" IS NOT NULL AND \"T_COST_USD\" IS NULL THEN 'bad NUMBER(12,4) in COST_USD: ' || \"R_COST_USD\" END"
    )
    with pytest.raises(ValueError):
        gi.SourceSpec.from_dict({"name": "X", "prefix": "x", "columns": [{"name": "A", "type": "TEXT; DROP"}]})


def test_source_spec_round_trips_through_the_registry_json() -> None:
    for d in MESH.domains:
        for s in d.sources:
            spec = source_spec(s)
            assert gi.SourceSpec.from_dict(json.loads(spec.to_json())) == spec


def test_source_registry_is_written_by_the_walker(mesh_run) -> None:
    t = mesh_run.target
    for d in mesh_run.mesh.domains:
        assert gi.read_sources(t.session, d.database) == sorted(
            (source_spec(s) for s in d.sources), key=lambda s: s.name)


# --------------------------------------------------------------------------- publish


def test_publish_statements_real_and_local() -> None:
    class _S:
        def sql(self, text):
            contract = '{"properties": {"CLICK_ID": {}, "COST_USD": {}}}'
            row = ("1.0.0", "MARKETING_DB.PRODUCTS.AD_CLICKS_V1", contract, "FINANCE", "")
            return type("R", (), {"collect": lambda self: [row]})()

    entry = registry_entry(_S(), CLICKS)
    real = publish_statements(entry)
    assert real[0] == ('CREATE OR REPLACE TABLE "MARKETING_DB"."PRODUCTS"."AD_CLICKS" '
                       'CLONE "MARKETING_DB"."STAGING"."AD_CLICKS" COPY GRANTS')
    # The documented order: COPY GRANTS before COMMENT (https://docs.snowflake.com/en/sql-reference/sql/create-view).
    assert real[1].startswith(f"CREATE OR REPLACE SECURE VIEW {VIEW} COPY GRANTS COMMENT = ")
    assert real[1].endswith(' AS SELECT "CLICK_ID", "COST_USD" FROM "MARKETING_DB"."PRODUCTS"."AD_CLICKS"')
    local = publish_statements(entry, local=True)
    assert local[:2] == ["BEGIN", 'DROP TABLE IF EXISTS "MARKETING_DB"."PRODUCTS"."AD_CLICKS"'] and local[3] == "COMMIT"
    assert "COPY GRANTS" not in " ".join(local)
    assert real[-2] == f'GRANT SELECT ON VIEW {VIEW} TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"'
    assert real[-1].startswith('INSERT INTO "MARKETING_DB"."PRODUCTS"."PUBLICATIONS_LOG" ')
    for sql in real + local[1:3] + local[4:]:
        _parse(sql)


def _view_state(t) -> tuple:
    n, total, at = t.sql(f'SELECT COUNT(*), SUM("COST_USD"), MAX("UPDATED_AT") FROM {VIEW}')[0]
    return n, round(float(total), 4), at  # the local SUM of a NUMBER is a DOUBLE


def _audit_rows(t, product: str) -> int:
    sql = 'SELECT COUNT(*) FROM "GOVERNANCE_DB"."AUDIT"."VALIDATION_RESULTS" WHERE "PRODUCT" = %s'
    return int(t.sql(sql, (product,))[0][0])


def test_validate_by_name_audits_and_publish_refuses_after_a_failed_validation(mesh_run) -> None:
    t, mesh = mesh_run.target, mesh_run.mesh
    p = mesh.product(CLICKS)
    before = _view_state(t)
    t.sql('UPDATE "MARKETING_DB"."STAGING"."AD_CLICKS" SET "COST_USD" = -5')  # every staged row breaks minimum
    audited = _audit_rows(t, p.name)
    try:
        rows = validate_registered_product(t.session, CLICKS).collect()  # the one-argument VALIDATE_PRODUCT
        assert len(rows) > 0 and _audit_rows(t, p.name) == audited + len(rows)
        assert any(r["CHECK_NAME"] == "minimum" and not r["PASSED"] and r["SEVERITY"] == "error" for r in rows)
        with pytest.raises(PublishRefused, match="failed .* error check.*previous version keeps serving"):
            publish_product(t.session, CLICKS, local=True)
        assert _view_state(t) == before  # the old view keeps serving, unchanged
    finally:  # put the good product back, through the walker's own steps
        outcome = steps.ProductOutcome(p.key)
        steps.run_build(t, mesh, p, outcome)
        steps.run_validate(t, mesh, p, "procedures-restore", outcome)
        steps.run_publish(t, mesh, p, mesh_run_reporter(), outcome)
    assert outcome.validation_passed and outcome.published
    assert _view_state(t)[:2] == before[:2]


def mesh_run_reporter():
    from snowmesh.console import SilentReporter

    return SilentReporter()


def test_publish_refuses_an_unknown_product(mesh_run) -> None:
    with pytest.raises(ValueError, match="not in GOVERNANCE_DB.CATALOG.DATA_PRODUCTS"):
        publish_product(mesh_run.target.session, "MARKETING.NO_SUCH", local=True)


# --------------------------------------------------------------------------- record_dag_run


def _dag_runs(t, run_id: str) -> list[tuple]:
    return t.sql(f'SELECT "DOMAIN", "STATUS", "TASKS", "FAILED", "FAILED_TASKS" FROM {DAG_RUNS_TABLE} '
                 'WHERE "RUN_ID" = %s ORDER BY "DOMAIN"', (run_id,))


def test_the_walker_finalizer_recorded_one_row_per_graph(mesh_run) -> None:
    rows = _dag_runs(mesh_run.target, mesh_run.report.run_id)
    assert sorted(r[0] for r in rows) == sorted(d.name for d in mesh_run.mesh.domains)
    assert all(r[1] == "SUCCEEDED" and r[3] == 0 for r in rows)


def test_record_dag_run_appends_one_row(mesh_run) -> None:
    t = mesh_run.target
    summary = record_dag_run(t.session, "FINANCE", run_id="dag-run-test",
                             tasks=[("FINANCE_INGEST", "SUCCEEDED"), ("BUILD_CAMPAIGN_ROI", "FAILED"),
                                    ("VALIDATE_CAMPAIGN_ROI", "SKIPPED")])
    assert _dag_runs(t, "dag-run-test") == [("FINANCE", "FAILED", 3, 1, "BUILD_CAMPAIGN_ROI,VALIDATE_CAMPAIGN_ROI")]
    assert "2 task(s) did not succeed" in summary.sentence


def test_record_dag_run_outside_a_task_graph_records_unknown(mesh_run) -> None:
    t = mesh_run.target  # no TASK_HISTORY on the local account: the finalizer still records, and says why
    summary = record_dag_run(t.session, "MARKETING", run_id="dag-run-unknown")
    assert summary.status == "UNKNOWN"
    assert [r[:2] for r in _dag_runs(t, "dag-run-unknown")] == [("MARKETING", "UNKNOWN")]


# --------------------------------------------------------------------------- shipping


def test_every_task_target_is_shipped_by_snowflake_yml() -> None:
    assert unshipped_calls(MESH) == []
    entities = yaml.safe_load((ROOT / "snowflake.yml").read_text())["entities"]
    procs = {(e["identifier"]["database"], e["identifier"]["schema"], e["identifier"]["name"], len(e["signature"])): e
             for e in entities.values() if e["type"] == "procedure"}
    for d in MESH.domains:
        e = procs[(d.database, "RAW", "INGEST", 0)]
        assert e["handler"] == "governance.ingest.ingest" and e["meta"]["warehouse"] == d.warehouse.name
        e = procs[(d.database, "PRODUCTS", "PUBLISH", 1)]  # the domain's own publish (owner: its engineer)
        assert e["handler"] == "governance.publish.publish" and e["meta"]["warehouse"] == d.warehouse.name
    assert procs[("GOVERNANCE_DB", "CATALOG", "VALIDATE_PRODUCT", 1)]["handler"] == \
        "governance.validate.validate_registered_product"
    assert procs[("GOVERNANCE_DB", "CATALOG", "VALIDATE_PRODUCT", 3)]["handler"] == "governance.validate.validate_product"
    assert not [k for k in procs if k[2] == "PUBLISH_PRODUCT"]  # no platform-wide publish any more
    assert procs[("GOVERNANCE_DB", "AUDIT", "RECORD_DAG_RUN", 1)]["handler"] == "governance.dag_run.record"
    for key in (f"{MESH.domains[0].name.lower()}_publish", "governance_record_dag_run"):
        assert entities[key]["packages"] == [entities["governance_product_health"]["packages"][0]]
