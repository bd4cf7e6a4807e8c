"""Shipping the mesh: snowflake.yml, the analyst procedures, the task-graph deploy, the Native App.

The procedure tests run the handlers against a real local account (fakesnow server + moto S3,
in a scratch state folder) after a small end-to-end run of the mesh, and check their answers
against figures recomputed here in pandas from the published views.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlglot
import yaml
from sqlglot import exp
from sqlglot.tokens import TokenType

from finance.roi_by_campaign import roi_by_campaign
from governance.product_health import REGISTRY_COLUMNS, product_health
from governance.validate import AUDIT_COLUMNS
from marketing.campaign_summary import CHANNELS, campaign_summary
from snowmesh.cli.main import run_app
from snowmesh.deploy import project_file as pf
from snowmesh.deploy.tasks import unshipped_calls
from snowmesh.manifest import load_mesh
from snowmesh.pipeline.dag import mesh_dags

ROOT = Path(__file__).resolve().parents[1]
MESH = load_mesh(ROOT)
PROJECT = yaml.safe_load((ROOT / "snowflake.yml").read_text())
ENTITIES = PROJECT["entities"]
PROCS = {e["identifier"]["name"]: e for e in ENTITIES.values() if e["type"] == "procedure"}


# --------------------------------------------------------------------------- snowflake.yml


def test_snowflake_yml_is_what_the_manifests_render() -> None:
    assert pf.stale_diff(MESH) == "", "run: python -m snowmesh.deploy.project_file"


def test_every_product_has_its_build_procedure_on_its_warehouse() -> None:
    for d in MESH.domains:
        for p in d.products:
            e = PROCS[f"BUILD_{p.name}"]
            assert e["identifier"] == {"name": f"BUILD_{p.name}", "database": d.database, "schema": "STAGING"}
            assert e["handler"] == p.handler and e["signature"] == [] and e["runtime"] == "3.11"
            assert e["meta"]["warehouse"] == d.warehouse.name
            assert e["execute_as_caller"] is False
            # Its own folder and governance, never another domain's (tests/test_domain_artifacts.py).
            assert e["artifacts"] == [f"procedures/{d.name.lower()}/*", "procedures/governance/*"]


def test_analyst_and_governance_procedures() -> None:
    roi, summary = PROCS["ROI_BY_CAMPAIGN"], PROCS["CAMPAIGN_SUMMARY"]
    assert roi["meta"]["warehouse"] == MESH.domain("FINANCE").warehouse.name
    assert summary["meta"]["warehouse"] == MESH.domain("MARKETING").warehouse.name
    # Analysts read with their own grants; governance writes the audit / returns aggregates.
    assert roi["execute_as_caller"] and summary["execute_as_caller"]
    for name in ("VALIDATE_PRODUCT", "PRODUCT_HEALTH"):
        e = PROCS[name]
        assert e["identifier"] == {"name": name, "database": "GOVERNANCE_DB", "schema": "CATALOG"}
        assert e["execute_as_caller"] is False and "meta" not in e  # runs on the caller's warehouse
    assert [a["name"] for a in roi["signature"]] == ["START_DATE", "END_DATE"]
    assert PROCS["VALIDATE_PRODUCT"]["handler"] == "governance.validate.validate_product"


def test_packages_are_what_the_handlers_import_pinned_as_in_pyproject() -> None:
    pins = pf.pyproject_pins(ROOT)
    snowpark = pins["snowflake-snowpark-python"]
    assert PROCS["BUILD_CAMPAIGN_ROI"]["packages"] == [snowpark]
    assert PROCS["VALIDATE_PRODUCT"]["packages"] == [snowpark, pins["jsonschema"], pins["sqlglot"]]
    for e in PROCS.values():
        assert e["artifact_repository"] == pf.ARTIFACT_REPOSITORY and e["packages"][0] == snowpark


def test_render_keeps_entities_it_does_not_own() -> None:
    page = {"type": "streamlit", "identifier": "CATALOG_PAGE", "main_file": "app.py", "artifacts": ["app.py"]}
    stale = {"type": "procedure", "handler": "gone.build"}
    out = pf.render_project(MESH, {"definition_version": 2, "entities": {"page": page, "old_proc": stale}})
    # Kept as written, except its artifacts: the page ships every domain manifest (derived, not hand-listed).
    manifests = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("domains/*/domain.yml"))
    derived = ["app.py", *({"src": m, "dest": f"streamlit/{m}"} for m in manifests)]
    assert out["entities"]["page"] == {**page, "artifacts": derived}
    assert "old_proc" not in out["entities"]
    assert list(out["entities"])[-1] == "page"


def test_channels_are_the_contract_enum() -> None:
    contract = json.loads((ROOT / "contracts/marketing/campaign_performance/v1.json").read_text())
    assert set(CHANNELS) == set(contract["properties"]["CHANNEL"]["enum"])


def test_every_build_task_calls_a_shipped_procedure() -> None:
    missing = unshipped_calls(MESH)
    assert not [m for m in missing if ".BUILD_" in m]


# --------------------------------------------------------------------------- task graphs


def test_dag_dry_run_lists_every_task_with_schedule_and_warehouse(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["tasks", "deploy", "--dry-run", "--project", str(ROOT)]) == 0
    lines = capsys.readouterr().out.splitlines()
    from snowmesh.pipeline.triggers import condition

    for domain, dag, specs in mesh_dags(MESH):
        when = condition(MESH, domain)  # a consumer runs after its producers publish, not on its cron
        schedule = f"schedule=WHEN {when}" if when else f"schedule=USING CRON {domain.cron} {domain.timezone}"
        for name in [dag.name, *(f"{dag.name}${t}" for t in specs)]:
            row = [ln for ln in lines if ln.startswith("#") and f" {name}  " in ln]
            assert len(row) == 1, name
            assert schedule in row[0] and f"warehouse={domain.warehouse.name}" in row[0]
        assert f"schema = root.databases['{domain.database}'].schemas['STAGING']" in lines
        assert f"# task graph {dag.name} in {domain.database}.STAGING, created as {domain.engineer_role}" in lines


# Compare-then-apply against an in-memory account, and that a first deploy creates what
# DAGOperation.deploy creates: tests/test_task_deploy.py.


# --------------------------------------------------------------------------- Native App


def _statements(path: Path) -> list[exp.Expression]:
    """Split on the tokenizer's semicolons first: sqlglot takes the statement after a CREATE
    PROCEDURE with a staged handler (no AS body) for that procedure's body."""
    text = path.read_text()
    chunks, start = [], 0
    for tok in sqlglot.tokenize(text, read="snowflake"):
        if tok.token_type == TokenType.SEMICOLON:
            chunks.append(text[start:tok.start])
            start = tok.end + 1
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # Command fallbacks are expected here
    return [sqlglot.parse_one(c, read="snowflake") for c in chunks + [text[start:]] if c.strip()]


def _columns(schema: exp.Expression) -> list[tuple[str, str]]:
    return [(c.name, c.args["kind"].sql("snowflake")) for c in schema.expressions]


def test_app_setup_script_creates_what_the_app_names() -> None:
    stmts = _statements(ROOT / "app/setup_script.sql")
    commands = [" ".join(f"{s.this} {s.expression}".split()) for s in stmts if isinstance(s, exp.Command)]
    for role in pf.APP_ROLES:
        assert any(c.startswith(f"CREATE APPLICATION ROLE IF NOT EXISTS {role}") for c in commands), role
    assert f"CREATE OR ALTER VERSIONED SCHEMA {pf.APP_SCHEMA}" in commands
    procs = {s.this.this.sql(): s for s in stmts if isinstance(s, exp.Create) and s.kind == "PROCEDURE"}
    tables = {s.this.this.sql(): s for s in stmts if isinstance(s, exp.Create) and s.kind == "TABLE"}
    bundled = {dest for _, dest in pf.APP_ARTIFACTS}
    for name in pf.APP_PROCEDURES:
        create = procs[f"{pf.APP_SCHEMA}.{name}"]
        # Same interface as the account-level procedure in snowflake.yml.
        assert _columns(create.this) == [(a["name"], a["type"]) for a in PROCS[name]["signature"]]
        returns = sqlglot.parse_one(f"CREATE FUNCTION F() RETURNS {PROCS[name]['returns']} AS 'x'", read="snowflake")
        assert _columns(create.find(exp.ReturnsProperty).this) == _columns(returns.find(exp.ReturnsProperty).this)
        prop = next(p for p in create.find_all(exp.Property) if p.this.name == "IMPORTS")
        imports = [i.name for i in prop.args["value"].expressions]
        assert {i.lstrip("/") for i in imports} <= bundled
        types = ", ".join(a["type"] for a in PROCS[name]["signature"])
        assert any(c.startswith(f"GRANT USAGE ON PROCEDURE {pf.APP_SCHEMA}.{name}({types}) TO APPLICATION ROLE")
                   for c in commands), name
    strip = lambda t: t.replace(" NOT NULL", "")
    registry = tables[f"{pf.APP_DATA_SCHEMA}.DATA_PRODUCTS"].this
    audit = tables[f"{pf.APP_DATA_SCHEMA}.VALIDATION_RESULTS"].this
    assert [c for c, _ in _columns(registry)] == [c for c, _ in REGISTRY_COLUMNS]
    assert [c for c, _ in _columns(audit)] == [c for c, _ in AUDIT_COLUMNS]
    assert [t for _, t in _columns(audit)] == [strip(t).replace("TIMESTAMP_NTZ", "TIMESTAMPNTZ") for _, t in AUDIT_COLUMNS]
    manifest = yaml.safe_load((ROOT / "app/manifest.yml").read_text())
    for key in ("setup_script", "readme"):
        assert (ROOT / "app" / manifest["artifacts"][key]).is_file()
    assert ENTITIES["snowmesh_governance"]["from"]["target"] == "snowmesh_governance_pkg"


def test_snowflake_error_text_yields_the_handlers_sentence() -> None:
    from snowmesh.cli.ship_cmd import _user_error

    msg = (
        "100357 (P0000): Python Interpreter Error:\nTraceback (most recent call last):\n  File \"x.py\", "
        "line 9, in campaign_summary\nValueError: unknown channel 'tv': expected one of display\n"
        " in function CAMPAIGN_SUMMARY with handler marketing.campaign_summary.campaign_summary"
    )
    assert _user_error(msg) == "unknown channel 'tv': expected one of display"
    assert _user_error("002003 (42S02): does not exist") is None


# --------------------------------------------------------------------------- the local account


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A scratch local account after a small `mesh run` (5,000 clicks, 14 days): the runner's own steps."""
    from snowmesh.catalog import refresh_registry
    from snowmesh.console import SilentReporter
    from snowmesh.landing import LandOptions, land_mesh
    from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
    from snowmesh.target import open_target

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SNOWMESH_STATE_DIR", str(tmp_path_factory.mktemp("state")))
        with open_target(ROOT, None, keep_servers=False) as t:
            reporter, report = SilentReporter(), RunReport(run_id=uuid.uuid4().hex[:12])
            report.deploy = deploy(t, MESH, reporter)
            land_mesh(t, MESH, LandOptions(clicks=5000, days=14), reporter)
            walk_mesh(t, MESH, reporter, report)
            assert report.ok, [x for x in report.tasks if x.status != "SUCCEEDED"]
            refresh_registry(t, MESH)
            yield t


def _pdf(t: Any, table: str) -> Any:
    df = t.session.table(table).to_pandas()
    for c in ("REVENUE_USD", "SPEND_USD"):
        if c in df:
            df[c] = df[c].astype(float)
    return df


def test_roi_by_campaign_matches_pandas(target: Any) -> None:
    rows = _pdf(target, "FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1")
    start = rows["PERIOD_DATE"].min() + timedelta(days=5)
    end = start + timedelta(days=9)
    period = rows[(rows["PERIOD_DATE"] >= start) & (rows["PERIOD_DATE"] <= end)]
    want = period.groupby("CAMPAIGN_ID")[["REVENUE_USD", "SPEND_USD"]].sum()
    df = roi_by_campaign(target.session, start.isoformat(), end.isoformat())
    assert df.schema.names == [c for c, _ in __import__("finance.roi_by_campaign", fromlist=["RETURNS"]).RETURNS]
    got = df.collect()
    assert sorted(r["CAMPAIGN_ID"] for r in got) == sorted(want.index)
    for r in got:
        rev, spend = want.loc[r["CAMPAIGN_ID"]]
        assert float(r["REVENUE_USD"]) == pytest.approx(rev, abs=0.005)
        assert float(r["SPEND_USD"]) == pytest.approx(spend, abs=0.005)
        if spend > 0:
            assert float(r["ROI"]) == pytest.approx((rev - spend) / spend, abs=2e-6)
            assert float(r["ROAS"]) == pytest.approx(rev / spend, abs=2e-6)
        else:
            assert r["ROI"] is None
    rois = [float(r["ROI"]) for r in got if r["ROI"] is not None]
    assert rois == sorted(rois, reverse=True)
    before = (rows["PERIOD_DATE"].min() - timedelta(days=60)).isoformat()
    assert roi_by_campaign(target.session, before, before).collect() == []


def test_campaign_summary_matches_pandas(target: Any) -> None:
    rows = target.session.table("MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1").to_pandas()
    channel = rows["CHANNEL"].value_counts().index[0]
    mine = rows[rows["CHANNEL"] == channel]
    want = mine.groupby("CAMPAIGN_ID").agg(
        CLICKS=("CLICKS", "sum"), IMPRESSIONS=("IMPRESSIONS", "sum"), SPEND=("SPEND_USD", lambda s: float(s.sum()))
    )
    got = campaign_summary(target.session, channel.upper()).collect()  # case does not matter
    assert sorted(r["CAMPAIGN_ID"] for r in got) == sorted(want.index)
    for r in got:
        w = want.loc[r["CAMPAIGN_ID"]]
        assert (r["CHANNEL"], r["CLICKS"], r["IMPRESSIONS"]) == (channel, w.CLICKS, w.IMPRESSIONS)
        assert float(r["SPEND_USD"]) == pytest.approx(w.SPEND, abs=0.005)
        assert float(r["CPC_USD"]) == pytest.approx(w.SPEND / w.CLICKS, abs=1e-4)
        assert float(r["CTR"]) == pytest.approx(w.CLICKS / w.IMPRESSIONS, abs=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: campaign_summary(s, "tv"), "unknown channel 'tv': expected one of"),
        (lambda s: campaign_summary(s, None), "CHANNEL is required"),
        (lambda s: roi_by_campaign(s, "2026-03-01", "2026-02-01"), "START_DATE 2026-03-01 is after END_DATE 2026-02-01"),
        (lambda s: roi_by_campaign(s, "yesterday", "2026-02-01"), "START_DATE must be a date in YYYY-MM-DD form"),
        (lambda s: roi_by_campaign(s, "2026-01-01", "2026-02-30"), "END_DATE must be a date in YYYY-MM-DD form"),
    ],
)
def test_bad_arguments_raise_one_clear_sentence(target: Any, call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(target.session)


def test_mesh_call_prints_the_table_and_maps_bad_arguments_to_exit_2(
    target: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_app(["call", "campaign_summary", "tv", "--project", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert "unknown channel 'tv'" in err and "Traceback" not in err
    assert run_app(["call", "ROI_BY_CAMPAIGN", "2026-01-01", "--project", str(ROOT)]) == 2
    assert "takes 2 argument(s), got 1" in capsys.readouterr().err
    assert run_app(["call", "PRODUCT_HEALTH", "--project", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "GOVERNANCE_DB.CATALOG.PRODUCT_HEALTH()" in out and f"{len(MESH.products)} row(s) on local" in out


def test_product_health(target: Any) -> None:
    from snowmesh.catalog import refresh_registry

    got = {r["PRODUCT"]: r for r in product_health(target.session).collect()}
    assert set(got) == {p.name for p in MESH.products}
    audit = target.sql('SELECT "PRODUCT", MAX("VALIDATED_AT") FROM "GOVERNANCE_DB"."AUDIT"."VALIDATION_RESULTS" GROUP BY 1')
    last = {p: ts for p, ts in audit}
    for p in MESH.products:
        r = got[p.name]
        view = f"{MESH.domain(p.domain).database}.PRODUCTS.{p.view}"
        assert (r["DOMAIN"], r["VIEW_NAME"], r["VERSION"], r["PUBLISHED"]) == (p.domain, view, "1.0.0", True)
        assert r["ROW_COUNT"] == target.sql(f"SELECT COUNT(*) FROM {view}")[0][0]
        assert r["LAST_VALIDATION"] == "PASSED"
        assert r["LAST_VALIDATED_AT"] == last[p.name].strftime("%Y-%m-%d %H:%M:%S")
        sla = json.loads((ROOT / p.contract).read_text()).get("x-sla")
        if sla:  # a freshness promise: just built, so well within it
            assert 0 <= float(r["FRESHNESS_HOURS"]) < 1 and r["FRESH"] is True
            assert float(r["SLA_HOURS"]) == sla["max_age_hours"]
        else:  # no promise, so nothing to measure (a scaffolded product has no x-sla)
            assert (r["FRESHNESS_HOURS"], r["SLA_HOURS"], r["FRESH"]) == (None, None, None)
        assert r["CONSUMERS"] == ",".join(p.consumers)
    assert {json.loads((ROOT / p.contract).read_text())["x-sla"]["max_age_hours"]
            for p in MESH.products if p.domain in ("MARKETING", "FINANCE")} == {26}
    # A registered product that was never built: not published, never validated -- and no 1970 dates.
    target.sql(
        'INSERT INTO "GOVERNANCE_DB"."CATALOG"."DATA_PRODUCTS" ("DOMAIN", "PRODUCT", "OWNER", "VERSION", "STATUS", '
        '"VIEW_NAME", "CONSUMERS", "CONTRACT") VALUES '
        "('MARKETING', 'NOT_YET', 'x', '0.1.0', 'draft', 'MARKETING_DB.PRODUCTS.NOT_YET_V1', '', '{}')"
    )
    try:
        r = {r["PRODUCT"]: r for r in product_health(target.session).collect()}["NOT_YET"]
        assert (r["PUBLISHED"], r["ROW_COUNT"], r["FRESHNESS_HOURS"], r["FRESH"]) == (False, None, None, None)
        assert (r["LAST_VALIDATION"], r["LAST_VALIDATED_AT"]) == ("NEVER", None)
    finally:
        refresh_registry(target, MESH)


def test_native_app_handlers_use_the_apps_own_tables(target: Any) -> None:
    spec = importlib.util.spec_from_file_location("snowmesh_app", ROOT / "app/python/snowmesh_app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)  # type: ignore[union-attr]
    # Locally the "app" is the session's database, GOVERNANCE_DB: its CATALOG holds the registry.
    contract = (ROOT / MESH.product("AD_CLICKS").contract).read_text()
    results = app.validate_product(target.session, contract, "MARKETING_DB.STAGING.AD_CLICKS", "app-run").collect()
    assert results and all(r["PASSED"] or r["SEVERITY"] != "error" for r in results)
    runs = target.sql('SELECT DISTINCT "RUN_ID" FROM "GOVERNANCE_DB"."CATALOG"."VALIDATION_RESULTS"')
    assert runs == [("app-run",)]
    health = {r["PRODUCT"]: r for r in app.product_health(target.session).collect()}
    assert health["AD_CLICKS"]["LAST_VALIDATION"] == "PASSED"
    assert health["CAMPAIGN_ROI"]["LAST_VALIDATION"] == "NEVER"  # not validated in the app's audit
