"""Fail closed, end to end: data that breaks an error-severity check is never published.

One scratch local account for the module: a good run at small scale, then runs whose handlers
emit a negative SPEND_USD (CAMPAIGN_PERFORMANCE) and an unknown CHANNEL (AD_CLICKS). The old
views keep serving unchanged, the failures are in the audit table and in the run summary, and
``mesh run`` exits 1. Each of the two fail-closed layers (the walker's check of this run's
outcome, the PUBLISH procedure's check of the audit) is also tested alone.

Guards: fail-closed publish.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import close_sessions_on, stop_servers
from snowflake.snowpark import functions as F
from snowflake.snowpark.types import DecimalType

from snowmesh.cli.main import run_app
from snowmesh.console import SilentReporter
from snowmesh.landing import LandOptions, land_mesh
from snowmesh.manifest import load_mesh
from snowmesh.pipeline import steps
from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
from snowmesh.target import open_target as target_for

ROOT = Path(__file__).resolve().parents[1]
PERF, CLICKS, ROI = "MARKETING.CAMPAIGN_PERFORMANCE", "MARKETING.AD_CLICKS", "FINANCE.CAMPAIGN_ROI"
VIEWS = {
    PERF: ('"MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE_V1"', '"SPEND_USD"'),
    CLICKS: ('"MARKETING_DB"."PRODUCTS"."AD_CLICKS_V1"', '"COST_USD"'),
}
SMALL = LandOptions(clicks=2000, days=3)


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, RunReport]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SNOWMESH_STATE_DIR", str(tmp_path_factory.mktemp("fail-closed-state")))
        mesh = load_mesh(ROOT)
        try:  # kept as `mesh up` keeps them: the in-process `mesh run` below must not stop them
            with target_for(ROOT, None, keep_servers=True) as target:
                good = RunReport(run_id="good")
                good.deploy = deploy(target, mesh, SilentReporter())
                land_mesh(target, mesh, SMALL, SilentReporter())
                walk_mesh(target, mesh, SilentReporter(), good)
                try:
                    yield target, mesh, good
                finally:
                    close_sessions_on(target.conn.port)
        finally:
            stop_servers()


def _snapshot(target: Any, key: str) -> tuple:
    """What consumers see: row count, a money total, and the build time (changes on any re-publish)."""
    view, money = VIEWS[key]
    return tuple(target.sql(f'SELECT COUNT(*), SUM({money}), MAX("UPDATED_AT") FROM {view}')[0])


def _corrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    import marketing.campaign_performance as perf
    from marketing import ad_clicks

    perf_transform, clicks_transform = perf.transform, ad_clicks.transform
    monkeypatch.setattr(
        perf,
        "transform",
        lambda s: perf_transform(s).with_column(
            "SPEND_USD", (-F.col("SPEND_USD") - 1).cast(DecimalType(14, 2))
        ),
    )
    monkeypatch.setattr(
        ad_clicks, "transform", lambda s: clicks_transform(s).with_column("CHANNEL", F.lit("tv"))
    )


@pytest.fixture(scope="module")
def corrupt_run(account) -> tuple[RunReport, dict[str, tuple], dict[str, tuple]]:
    target, mesh, _ = account
    before = {k: _snapshot(target, k) for k in VIEWS}
    report = RunReport(run_id="corrupt")
    with pytest.MonkeyPatch.context() as mp:
        _corrupt(mp)
        walk_mesh(target, mesh, SilentReporter(), report)
    return report, before, {k: _snapshot(target, k) for k in VIEWS}


def test_the_good_run_publishes_every_product(account) -> None:
    target, mesh, good = account
    assert good.ok, good.tasks
    assert {k for k, o in good.products.items() if o.published and o.validation_passed} == {p.key for p in mesh.products}
    assert {PERF, CLICKS, ROI} <= {p.key for p in mesh.products}
    assert all(_snapshot(target, k)[0] > 0 for k in VIEWS)


def test_a_failed_error_check_is_not_published(corrupt_run) -> None:
    report, _, _ = corrupt_run
    assert not report.ok
    perf, clicks = report.products[PERF], report.products[CLICKS]
    assert perf.validation_passed is False and not perf.published
    assert any(c.startswith("minimum(SPEND_USD): observed ") for c in perf.failed_checks), perf.failed_checks
    assert clicks.validation_passed is False and not clicks.published
    assert any(c.startswith("enum(CHANNEL): observed ") for c in clicks.failed_checks), clicks.failed_checks
    status = {t.task: t.status for t in report.tasks}
    assert (
        status["VALIDATE_CAMPAIGN_PERFORMANCE"] == "FAILED"
        and status["PUBLISH_CAMPAIGN_PERFORMANCE"] == "SKIPPED"
    )
    assert status["VALIDATE_AD_CLICKS"] == "FAILED" and status["PUBLISH_AD_CLICKS"] == "SKIPPED"


def test_the_previous_views_keep_serving_unchanged(corrupt_run) -> None:
    report, before, after = corrupt_run
    assert after == before
    # Marketing published nothing, so Finance's graph is not triggered (as its stream-triggered root
    # would not be on a real account): every task skipped, saying why.
    finance = [t for t in report.tasks if t.dag == f"{ROI.split('.')[0]}_PIPELINE"]
    assert finance and all(t.status == "SKIPPED" and t.message.startswith("not triggered: no product of ")
                           for t in finance)
    assert ROI not in report.products


def test_failures_are_in_the_audit_table(account, corrupt_run) -> None:
    target, _, _ = account
    rows = target.sql(
        'SELECT "PRODUCT", "CHECK_NAME", "COLUMN_NAME", "OBSERVED" FROM "GOVERNANCE_DB"."AUDIT"."VALIDATION_RESULTS" '
        'WHERE "RUN_ID" = \'corrupt\' AND NOT "PASSED" AND "SEVERITY" = \'error\' ORDER BY 1, 2'
    )
    failed = {(p, c, col) for p, c, col, _ in rows}
    assert ("CAMPAIGN_PERFORMANCE", "minimum", "SPEND_USD") in failed
    assert ("AD_CLICKS", "enum", "CHANNEL") in failed
    observed = {(p, c): int(o) for p, c, _, o in rows}
    assert (
        observed[("CAMPAIGN_PERFORMANCE", "minimum")] == corrupt_run[1][PERF][0]
    )  # every staged row is negative
    runs = target.sql(
        'SELECT "TASK", "STATUS" FROM "GOVERNANCE_DB"."AUDIT"."TASK_RUNS" WHERE "RUN_ID" = \'corrupt\' '
        "AND \"TASK\" LIKE 'VALIDATE_%'"
    )
    assert ("VALIDATE_CAMPAIGN_PERFORMANCE", "FAILED") in runs


def test_a_corrupted_staged_table_is_not_promoted(account, corrupt_run) -> None:
    """Corrupting STAGING directly (not through a handler) is caught the same way."""
    target, mesh, _ = account
    p = mesh.product(CLICKS)
    steps.run_build(target, mesh, p, steps.ProductOutcome(p.key))  # a good candidate again ...
    target.sql('UPDATE "MARKETING_DB"."STAGING"."AD_CLICKS" SET "COST_USD" = -5 WHERE "CLICK_ID" LIKE \'%7\'')
    before = _snapshot(target, CLICKS)
    outcome = steps.ProductOutcome(p.key)
    steps.run_validate(target, mesh, p, "staged-corrupt", outcome)
    steps.run_publish(target, mesh, p, SilentReporter(), outcome)
    assert outcome.validation_passed is False and not outcome.published
    assert "previous version keeps serving" in outcome.message
    assert any(c.startswith("minimum(COST_USD)") for c in outcome.failed_checks)
    assert _snapshot(target, CLICKS) == before


def test_the_walker_alone_refuses_without_a_passing_validation_in_this_run(account) -> None:
    """Layer 1 alone. The audit's latest validation of AD_CLICKS passed, so the procedure would
    publish; this run's outcome says it did not pass: the walker must not call the procedure."""
    target, mesh, _ = account
    p = mesh.product(CLICKS)
    steps.run_build(target, mesh, p, steps.ProductOutcome(p.key))
    passed = steps.ProductOutcome(p.key)
    steps.run_validate(target, mesh, p, "walker-layer", passed)
    assert passed.validation_passed  # the audit now holds a passing latest run
    # A promote would now be visible to consumers (new money total; the rebuild's UPDATED_AT).
    target.sql('UPDATE "MARKETING_DB"."STAGING"."AD_CLICKS" SET "COST_USD" = "COST_USD" + 1')
    before = _snapshot(target, CLICKS)
    outcome = steps.ProductOutcome(p.key, validation_passed=False)
    steps.run_publish(target, mesh, p, SilentReporter(), outcome)
    assert not outcome.published and outcome.message.startswith("not published: contract validation failed")
    assert _snapshot(target, CLICKS) == before


def test_the_procedure_alone_refuses_after_a_failed_validation(account) -> None:
    """Layer 2 alone. The walker's own check is passed by hand (outcome says passed), but the audit's
    latest validation failed: PUBLISH_PRODUCT's code refuses and nothing changes."""
    target, mesh, _ = account
    p = mesh.product(CLICKS)
    steps.run_build(target, mesh, p, steps.ProductOutcome(p.key))
    target.sql('UPDATE "MARKETING_DB"."STAGING"."AD_CLICKS" SET "COST_USD" = -5 WHERE "CLICK_ID" LIKE \'%3\'')
    failed = steps.ProductOutcome(p.key)
    steps.run_validate(target, mesh, p, "procedure-layer", failed)
    assert failed.validation_passed is False
    before = _snapshot(target, CLICKS)
    outcome = steps.ProductOutcome(p.key, validation_passed=True)
    steps.run_publish(target, mesh, p, SilentReporter(), outcome)
    assert not outcome.published
    assert "latest validation (run procedure-layer) failed" in outcome.message and "keeps serving" in outcome.message
    assert _snapshot(target, CLICKS) == before


def test_mesh_run_exits_1_and_reports_the_failure(
    account, corrupt_run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target, _, _ = account
    before = _snapshot(target, PERF)
    _corrupt(monkeypatch)
    rc = run_app(["run", "-p", str(ROOT), "--clicks", str(SMALL.clicks), "--days", str(SMALL.days)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAILED" in out and "minimum(SPEND_USD)" in out.replace("\n", "")
    assert _snapshot(target, PERF) == before
