"""The whole mesh on the local account, checked against what users rely on.

Guards: quarantine accounting (counters against rows in the files, RAW and QUARANTINE), ROI against
an independent computation, idempotent ingest, unemulated objects recorded and not executed."""

from __future__ import annotations

import csv
import gzip
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from independent import roi_by_campaign

from snowmesh.console import SilentReporter

pytestmark = pytest.mark.slow


def test_every_task_succeeded_and_every_product_published(mesh_run) -> None:
    failed = [(t.task, t.message) for t in mesh_run.report.tasks if t.status != "SUCCEEDED"]
    assert failed == []
    for key, outcome in mesh_run.report.products.items():
        assert outcome.validation_passed, (key, outcome.failed_checks)
        assert outcome.published and outcome.published_rows == outcome.staged_rows > 0, key


def _records_in_s3(s3, bucket: str, prefix: str) -> tuple[int, int]:
    """(files, data records) under ``prefix/`` in S3, read back with gzip + csv (header excluded)."""
    files = records = 0
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", []):
        text = gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()).decode()
        files += 1
        records += sum(1 for _ in csv.reader(io.StringIO(text))) - 1
    return files, records


def test_landed_equals_loaded_plus_quarantined_exactly(mesh_run) -> None:
    """For every source: the counters against three independent counts -- records in the S3 files,
    rows in RAW.<SOURCE>, rows in RAW.<SOURCE>_QUARANTINE -- and against the generator's corruption."""
    t = mesh_run.target
    corrupt: dict[str, int] = defaultdict(int)
    for f in mesh_run.landed:
        corrupt[f.source] += f.corrupt
    loads = {l.source: l for l in mesh_run.report.loads}
    sources = {s.name: (d, s) for d in mesh_run.mesh.domains for s in d.sources}
    assert set(loads) == set(sources)  # every source of every domain, not only one
    for name, load in loads.items():
        d, s = sources[name]
        files, records = _records_in_s3(t.s3, d.bucket, s.prefix)
        raw = int(t.sql(f'SELECT COUNT(*) FROM "{d.database}"."RAW"."{s.name}"')[0][0])
        quarantined = int(t.sql(f'SELECT COUNT(*) FROM "{d.database}"."RAW"."{s.quarantine_table}"')[0][0])
        assert files > 0 and load.files_new == files, name
        assert load.rows_landed == records, name
        assert load.rows_loaded == raw, name
        assert load.rows_quarantined == quarantined == corrupt[name], name
        assert raw + quarantined == records, name
    assert sum(corrupt.values()) > 0  # the run did exercise quarantine


def _declared(source) -> list:
    """The manifest's ``sample.corrupt`` rules (reason, column). Before manifests declared them, the
    rule was the first key column / first column of the broken type: the same reading, spelled out."""
    sample = getattr(source, "sample", None)
    if sample is not None:
        return list(sample.corrupt)
    from types import SimpleNamespace as Rule

    types = [(c.name, c.type) for c in source.columns]
    rules = [Rule(reason="missing_key", column=source.key[0])] if source.key else []
    for reason, prefixes in (("bad_number", ("NUMBER", "FLOAT")), ("bad_timestamp", ("TIMESTAMP_NTZ", "DATE"))):
        col = next((n for p in prefixes for n, t in types if t.startswith(p)), None)
        if col:
            rules.append(Rule(reason=reason, column=col))
    return rules


def _reason_fits(category: str, reason: str, source) -> bool:
    """Does the quarantine's REASON text say what the manifest declares broken (sample.corrupt: a
    reason and its column)? A missing key names that column; a bad value names its declared type too."""
    types = {c.name: c.type for c in source.columns}
    columns = [r.column for r in _declared(source) if r.reason == category]
    if category == "missing_key":
        return any(reason == f"missing {c}" for c in columns)
    return any(reason.startswith(f"bad {types[c]} in {c}: ") for c in columns)


def test_quarantine_names_file_line_and_reason(mesh_run) -> None:
    """Every source: the quarantined (file, line) pairs are exactly the corrupted ones, and each reason
    names the declared corruption (sample.corrupt in the manifest) of that line."""
    t = mesh_run.target
    checked = 0
    for d in mesh_run.mesh.domains:
        for s in d.sources:
            expected = {(f.key, line): cat for f in mesh_run.landed if f.source == s.name for line, cat in f.corrupt_lines}
            rows = t.sql(f'SELECT "_FILE", "_LINE", "REASON" FROM "{d.database}"."RAW"."{s.quarantine_table}"')
            got = {(f, int(n)): r for f, n, r in rows}
            assert set(got) == set(expected), s.name
            declared = {r.reason for r in _declared(s)}
            for at, category in expected.items():
                assert category in declared, (s.name, category)
                assert _reason_fits(category, got[at], s), (s.name, at, category, got[at])
                checked += 1
    assert checked > 0


def test_roi_matches_an_independent_pandas_computation(mesh_run) -> None:
    mk, fi = mesh_run.mesh.domain("MARKETING"), mesh_run.mesh.domain("FINANCE")
    expected = roi_by_campaign(mesh_run.target.s3, mk.bucket, fi.bucket)
    rows = mesh_run.target.sql(
        'SELECT "CAMPAIGN_ID", SUM("REVENUE_USD")::NUMBER(18,2), SUM("SPEND_USD")::NUMBER(18,2) FROM "FINANCE_DB"."PRODUCTS"."CAMPAIGN_ROI_V1" '
        'GROUP BY "CAMPAIGN_ID"'
    )
    got = {c: (Decimal(str(rev)), Decimal(str(sp))) for c, rev, sp in rows}
    assert set(got) == set(expected)
    for campaign, (rev, spend) in got.items():
        assert rev == expected[campaign]["revenue"], campaign
        assert spend == expected[campaign]["spend"], campaign
    # ROI as the summary reports it, against the independent figure.
    from snowmesh.pipeline.summary import top_roi

    top = top_roi(mesh_run.target, mesh_run.mesh)
    assert len(top) == min(10, len(expected))
    for r in top:
        assert abs(Decimal(str(r.roi)) - expected[r.campaign_id]["roi"]) < Decimal("0.000001")
    ranked = sorted((v["roi"] for v in expected.values() if v["roi"] is not None), reverse=True)[:10]
    assert [round(float(r.roi), 6) for r in top] == [round(float(x), 6) for x in ranked]


def test_zero_copy_finance_holds_no_marketing_data(mesh_run) -> None:
    """By name and by what the handler reads; tests/test_zero_copy.py checks by content (row hashes)
    and by the handlers' declared outputs, which a copy under any other name fails."""
    t = mesh_run.target
    finance_objects = {
        name for (name,) in t.sql(
            'SELECT TABLE_NAME FROM "FINANCE_DB"."INFORMATION_SCHEMA"."TABLES" WHERE TABLE_SCHEMA <> \'INFORMATION_SCHEMA\''
        )
    }
    marketing = mesh_run.mesh.domain("MARKETING")
    forbidden = {s.name for s in marketing.sources} | {p.name for p in marketing.products} | {
        p.view for p in marketing.products
    }
    assert finance_objects and not (finance_objects & forbidden), finance_objects & forbidden
    # The ROI handler reads Marketing's published views in place.
    from finance.campaign_roi import transform

    sql = " ".join(transform(t.session).queries["queries"])
    assert "MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1" in sql and "MARKETING_DB.PRODUCTS.AD_CLICKS_V1" in sql
    assert "MARKETING_DB.RAW" not in sql and "MARKETING_DB.STAGING" not in sql


def test_unemulated_objects_are_recorded_not_executed(mesh_run) -> None:
    from snowmesh.deploy.plan import build_plan

    plan = build_plan(mesh_run.mesh, local=True)
    deferred = {s.sql: s for s in plan.all if not s.locally_executable}
    rows = mesh_run.target.sql('SELECT "STATEMENT", "STATUS", "KIND", "OBJECT_NAME" FROM '
                               '"GOVERNANCE_DB"."CATALOG"."ACCOUNT_OBJECTS"')
    recorded = {r[0]: r for r in rows}
    assert set(deferred) <= set(recorded)
    for sql, stmt in deferred.items():  # the outcome column says recorded, never executed
        assert recorded[sql][1:] == ("RECORDED", stmt.kind.value, stmt.object_name), recorded[sql]
    assert {r[1] for r in rows} == {"RECORDED"}
    executed = {s.sql for s in plan.all if s.locally_executable}
    assert not executed & set(recorded)  # what ran is not also written down as only recorded
    kinds = {r[0] for r in mesh_run.target.sql('SELECT DISTINCT "KIND" FROM "GOVERNANCE_DB"."CATALOG"."ACCOUNT_OBJECTS"')}
    assert {"warehouse", "resource_monitor", "account_role", "database_role", "grant"} <= kinds


def test_task_runs_are_audited(mesh_run) -> None:
    rows = mesh_run.target.sql(
        'SELECT "DAG", "TASK", "STATUS", "WAREHOUSE" FROM "GOVERNANCE_DB"."AUDIT"."TASK_RUNS" WHERE "RUN_ID" = %s',
        (mesh_run.report.run_id,),
    )
    assert len(rows) == len(mesh_run.report.tasks)
    by_task = {r[1]: r for r in rows}
    assert by_task["BUILD_CAMPAIGN_ROI"][3] == "FINANCE_WH"  # Finance's reads of Marketing bill Finance
    assert by_task["BUILD_CAMPAIGN_PERFORMANCE"][3] == "MARKETING_WH"


def test_second_run_loads_nothing_twice_and_converges(mesh_run) -> None:
    """Runs last in this module: re-lands the same files and walks the graphs again."""
    from snowmesh.landing import land_mesh
    from snowmesh.pipeline.runner import RunReport, walk_mesh

    t, mesh = mesh_run.target, mesh_run.mesh
    before = t.sql('SELECT "CAMPAIGN_ID", "PERIOD_DATE", "REVENUE_USD", "SPEND_USD", "ROI" FROM "FINANCE_DB"."PRODUCTS"."CAMPAIGN_ROI_V1" ORDER BY 1, 2')
    raw_before = t.sql('SELECT COUNT(*) FROM "MARKETING_DB"."RAW"."AD_CLICKS"')[0][0]
    land_mesh(t, mesh, mesh_run.options, SilentReporter())
    again = RunReport(run_id="testrun00002")
    walk_mesh(t, mesh, SilentReporter(), again)
    assert all(l.files_new == 0 and l.rows_landed == 0 and l.files_skipped > 0 for l in again.loads)
    assert t.sql('SELECT COUNT(*) FROM "MARKETING_DB"."RAW"."AD_CLICKS"')[0][0] == raw_before
    after = t.sql('SELECT "CAMPAIGN_ID", "PERIOD_DATE", "REVENUE_USD", "SPEND_USD", "ROI" FROM "FINANCE_DB"."PRODUCTS"."CAMPAIGN_ROI_V1" ORDER BY 1, 2')
    assert after == before
    assert all(t.status == "SUCCEEDED" for t in again.tasks)
