"""Product versions: V1 and V2 served side by side, retirement after the deprecation date.

Guards: semver of product versions, the deprecation window, retirement that converges."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sql_grammar import check, check_all

from snowmesh.cli.main import run_app
from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.procedure_rights import publish_statements
from snowmesh.deploy.statements import Kind
from snowmesh.errors import InputError
from snowmesh.manifest import load_mesh
from snowmesh.versions import RetirementBlocked, versions

FIXTURE = Path(__file__).parent / "fixtures" / "versions"
BEFORE, AFTER = date(2030, 6, 1), date(2030, 7, 1)
V1 = '"MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE_V1"'


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "mesh")
    return tmp_path / "mesh"


def _move_finance_to_v2(root: Path) -> None:
    f = root / "procedures" / "finance" / "campaign_roi.py"
    f.write_text(f.read_text().replace("CAMPAIGN_PERFORMANCE_V1", "CAMPAIGN_PERFORMANCE_V2"))


def test_versions_are_found_next_to_the_current_contract() -> None:
    mesh = load_mesh(FIXTURE)
    p = mesh.product("CAMPAIGN_PERFORMANCE")
    vs = versions(mesh, p)
    assert [(v.view, v.state(BEFORE), v.state(AFTER)) for v in vs] == [
        ("CAMPAIGN_PERFORMANCE_V1", "served", "expired"), ("CAMPAIGN_PERFORMANCE_V2", "current", "current")]
    assert p.view == "CAMPAIGN_PERFORMANCE_V2"


def test_both_views_are_published_during_the_window() -> None:
    mesh = load_mesh(FIXTURE)
    p = mesh.product("CAMPAIGN_PERFORMANCE")
    extras = publish_statements(mesh, p, today=BEFORE)  # what its PUBLISH sends
    views = [s.sql for s in extras if s.kind == Kind.VIEW and V1 in s.sql]
    assert len(views) == 1 and views[0].startswith(f"CREATE OR REPLACE SECURE VIEW {V1}")
    assert len([s for s in extras if s.kind == Kind.VIEW]) == 2  # V2 (current) and V1
    assert views[0].endswith('FROM "MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE"')
    assert f'GRANT SELECT ON VIEW {V1} TO DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"' in [s.sql for s in extras]
    plan = build_plan(mesh, local=False, today=BEFORE)
    assert not [s for s in plan.all if s.kind in (Kind.REVOKE, Kind.DROP)]
    assert any(V1 in s.sql for s in plan.publish_grants)
    check_all([*plan.all, *extras])  # every statement fits a Snowflake grammar (tests/sql_grammar.py)


def test_after_the_date_a_consumer_still_on_v1_blocks_the_deploy(capsys) -> None:
    with pytest.raises(RetirementBlocked) as err:
        build_plan(load_mesh(FIXTURE), local=False, today=AFTER)
    assert "FINANCE.CAMPAIGN_ROI" in err.value.message and "CAMPAIGN_PERFORMANCE_V1" in err.value.message
    assert err.value.exit_code == 2


def test_after_the_date_v1_is_retired_when_nobody_reads_it(copy: Path) -> None:
    _move_finance_to_v2(copy)
    plan = build_plan(load_mesh(copy), local=True, today=AFTER)
    tail = [s for s in plan.statements if s.kind in (Kind.REVOKE, Kind.DROP)]
    assert [s.sql for s in tail] == [
        f'REVOKE SELECT ON VIEW {V1} FROM DATABASE ROLE "MARKETING_DB"."CONSUMER_FINANCE"',
        f"DROP VIEW IF EXISTS {V1}",
    ]
    assert tail[0].kind == Kind.REVOKE and not tail[0].locally_executable and tail[1].locally_executable
    assert not any(V1 in s.sql for s in plan.publish_grants)  # no new grant on a retired view
    assert not [s for s in publish_statements(load_mesh(copy), load_mesh(copy).product("CAMPAIGN_PERFORMANCE"),
                                              today=AFTER) if V1 in s.sql]


def test_v1_columns_that_v2_dropped_fail_the_plan(copy: Path) -> None:
    import json

    f = copy / "contracts" / "marketing" / "campaign_performance" / "v2.json"
    doc = json.loads(f.read_text())
    del doc["properties"]["CPC_USD"]
    # The contract stays valid on its own (the loader checks every x-quality column is a property).
    doc.get("x-quality", {}).get("max_null_pct", {}).pop("CPC_USD", None)
    doc["required"] = [c for c in doc.get("required", []) if c != "CPC_USD"]
    f.write_text(json.dumps(doc))
    mesh = load_mesh(copy)
    with pytest.raises(InputError, match="CAMPAIGN_PERFORMANCE_V1 cannot be served.*no column CPC_USD"):
        publish_statements(mesh, mesh.product("CAMPAIGN_PERFORMANCE"), today=BEFORE)


def test_retired_status_or_no_date_serves_nothing(copy: Path) -> None:
    f = copy / "contracts" / "marketing" / "campaign_performance" / "v1.json"
    f.write_text(f.read_text().replace('"deprecated"', '"retired"'))
    mesh = load_mesh(copy)
    plan = build_plan(mesh, local=False, today=AFTER)  # Finance's stale INPUTS no longer block anything
    assert not any(V1 in s.sql for s in plan.all)


def test_cli_deploy_dry_run_fails_with_the_consumer_names(monkeypatch, capsys) -> None:
    import snowmesh.deploy.plan as plan_mod

    class Day(date):
        @classmethod
        def today(cls) -> date:
            return AFTER

    monkeypatch.setattr(plan_mod, "date", Day)
    rc = run_app(["deploy", "--project", str(FIXTURE), "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2 and "FINANCE.CAMPAIGN_ROI" in err and "nothing was changed" in err


def test_product_show_lists_v1_readers() -> None:
    from snowmesh.cli.products_cmd import product_detail

    d = product_detail(FIXTURE, "CAMPAIGN_PERFORMANCE", BEFORE)
    assert d["version"] == "2.0.0"
    by_view = {v["view"].split(".")[-1]: v for v in d["versions"]}
    assert by_view["CAMPAIGN_PERFORMANCE_V1"]["read_by"] == ["FINANCE.CAMPAIGN_ROI"]
    assert by_view["CAMPAIGN_PERFORMANCE_V1"]["deprecation_date"] == "2030-06-30"
    assert by_view["CAMPAIGN_PERFORMANCE_V2"]["state"] == "current"


# --- retirement converges: once the view is gone, a deploy sends nothing for it ------------------


class _Account:
    """Answers INFORMATION_SCHEMA.VIEWS from a set of existing views; records what is sent."""

    def __init__(self, views: set[str], missing_db: bool = False) -> None:
        self.is_local, self.views, self.missing_db, self.ran = False, views, missing_db, []

    def sql(self, text: str):
        self.ran.append(text)
        check(text)
        if "INFORMATION_SCHEMA.VIEWS" in text:
            if self.missing_db:
                raise RuntimeError("002003 (02000): Database 'MARKETING_DB' does not exist or not authorized.")
            return [(v,) for v in sorted(self.views) if f"'{v}'" in text]
        return []


def _retirement(copy: Path) -> list:
    _move_finance_to_v2(copy)
    return build_plan(load_mesh(copy), local=False, today=AFTER).statements


def test_retirement_is_sent_while_the_view_exists(copy: Path) -> None:
    from snowmesh.versions import existing_views_sql, unretired

    stmts = _retirement(copy)
    account = _Account({"CAMPAIGN_PERFORMANCE_V1", "CAMPAIGN_PERFORMANCE_V2"})
    kept, gone = unretired(account, stmts)
    assert kept == stmts and gone == []
    assert account.ran == [existing_views_sql("MARKETING_DB", "PRODUCTS", ["CAMPAIGN_PERFORMANCE_V1"])]
    assert account.ran[0] == ("SELECT TABLE_NAME FROM \"MARKETING_DB\".INFORMATION_SCHEMA.VIEWS WHERE TABLE_SCHEMA = "
                              "'PRODUCTS' AND TABLE_NAME IN ('CAMPAIGN_PERFORMANCE_V1')")


def test_after_the_view_is_dropped_nothing_is_sent_for_it(copy: Path) -> None:
    from snowmesh.versions import unretired

    stmts = _retirement(copy)
    for account in (_Account({"CAMPAIGN_PERFORMANCE_V2"}), _Account(set(), missing_db=True)):
        kept, gone = unretired(account, stmts)
        assert gone == ["MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1"]
        assert not [s for s in kept if V1 in s.sql] and len(kept) == len(stmts) - 2
    assert unretired(_Account(set()), build_plan(load_mesh(FIXTURE), local=False, today=BEFORE).statements)[1] == []


def test_retirement_converges_on_the_local_account(copy: Path, tmp_path: Path, monkeypatch) -> None:
    """Deploy during the window and publish V1; after the date the first deploy revokes and drops,
    the second sends nothing for V1 (it is neither executed nor recorded)."""
    from snowmesh.console import SilentReporter
    from snowmesh.policies import apply_governed
    from snowmesh.target import open_target

    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(tmp_path / "state"))
    mesh = load_mesh(copy)
    p = mesh.product("CAMPAIGN_PERFORMANCE")
    said: list[str] = []
    reporter = SilentReporter()
    reporter.info = said.append  # type: ignore[method-assign]

    def retirement_rows(t) -> list[tuple]:
        return t.sql('SELECT "KIND", "OUTCOME" FROM "GOVERNANCE_DB"."AUDIT"."DEPLOY_STATEMENTS" '
                     f"WHERE \"KIND\" IN ('revoke', 'drop') AND \"STATEMENT\" LIKE '%{V1}%' ORDER BY \"KIND\"")

    with open_target(copy, None, keep_servers=False) as t:
        apply_governed(t, build_plan(mesh, local=True, today=BEFORE).statements, reporter)
        cols = ", ".join(f'"{c}" VARCHAR' for c in versions_columns(mesh, p.contract))
        t.sql(f'CREATE TABLE "MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE" ({cols})')
        [view] = [s for s in publish_statements(mesh, p, local=True, today=BEFORE) if s.kind == Kind.VIEW and V1 in s.sql]
        t.sql(view.sql)
        _move_finance_to_v2(copy)
        after = load_mesh(copy)
        apply_governed(t, build_plan(after, local=True, today=AFTER).statements, reporter)
        assert retirement_rows(t) == [("drop", "EXECUTED"), ("revoke", "RECORDED")]
        assert not t.sql("SELECT TABLE_NAME FROM \"MARKETING_DB\".INFORMATION_SCHEMA.VIEWS "
                         "WHERE TABLE_NAME = 'CAMPAIGN_PERFORMANCE_V1'")
        apply_governed(t, build_plan(after, local=True, today=AFTER).statements, reporter)
        assert retirement_rows(t) == [("drop", "EXECUTED"), ("revoke", "RECORDED")]  # nothing new
        assert ("versions: MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1 already retired (view dropped): "
                "nothing to revoke or drop") in said


def versions_columns(mesh, contract: str) -> list[str]:
    from snowmesh.versions import columns

    return columns(mesh, contract)
