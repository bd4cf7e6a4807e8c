"""``mesh contract validate`` and ``mesh contract diff [--verify]`` on a scratch local account; bad input exits 2.

Guards: one-query validation (counted at the Snowpark Session, not the engine's own counter), the audit write."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import close_sessions_on, stop_servers

from snowmesh.cli.main import run_app
from snowmesh.console import SilentReporter
from snowmesh.landing import LandOptions, land_mesh
from snowmesh.manifest import load_mesh
from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
from snowmesh.target import open_target as target_for

ROOT = Path(__file__).resolve().parents[1]
AD_CLICKS = ROOT / "contracts/marketing/ad_clicks/v1.json"
AUDIT = '"GOVERNANCE_DB"."AUDIT"."VALIDATION_RESULTS"'


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SNOWMESH_STATE_DIR", str(tmp_path_factory.mktemp("contract-cli-state")))
        mesh = load_mesh(ROOT)
        try:  # kept as `mesh up` keeps them: the in-process CLI commands below must not stop them
            with target_for(ROOT, None, keep_servers=True) as t:
                report = RunReport(run_id="setup")
                deploy(t, mesh, SilentReporter())
                land_mesh(t, mesh, LandOptions(clicks=2000, days=3), SilentReporter())
                walk_mesh(t, mesh, SilentReporter(), report)
                assert report.ok, report.tasks
                try:
                    yield t
                finally:
                    close_sessions_on(t.conn.port)
        finally:
            stop_servers()


def _audit_rows(t: Any) -> int:
    return int(t.sql(f"SELECT COUNT(*) FROM {AUDIT}")[0][0])


def variant(tmp_path: Path, name: str, version: str, edit: Callable[[dict[str, Any]], Any]) -> Path:
    doc = copy.deepcopy(json.loads(AD_CLICKS.read_text()))
    doc["x-product"]["version"] = version
    edit(doc)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


class SentSQL:
    """Every SQL text sent through any Snowpark Session while installed (the CLI opens its own)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from snowflake.snowpark import Session

        self.sent: list[str] = []
        inner = Session.sql

        def sql(session: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            self.sent.append(query)
            return inner(session, query, *args, **kwargs)

        monkeypatch.setattr(Session, "sql", sql)

    def data_queries(self, table: str) -> list[str]:
        """Statements that read ``table`` (``DB.SCHEMA.NAME``): not metadata, not the audit insert."""
        quoted = ".".join(f'"{p}"' for p in table.split("."))
        return [q for q in self.sent if (quoted in q or table in q) and "INFORMATION_SCHEMA" not in q
                and not q.lstrip().upper().startswith("INSERT")]


@pytest.fixture()
def sent(monkeypatch: pytest.MonkeyPatch) -> SentSQL:
    return SentSQL(monkeypatch)


def mesh(*args: str) -> int:
    return run_app([*args, "-p", str(ROOT)]) if args[1] in ("validate", "diff") else run_app(list(args))


# --------------------------------------------------------------------------- validate


def test_validate_the_published_table_writes_the_audit(target, sent, capsys: pytest.CaptureFixture[str]) -> None:
    before = _audit_rows(target)
    assert mesh("contract", "validate", "MARKETING.CAMPAIGN_PERFORMANCE") == 0
    out = capsys.readouterr().out
    for header in ("check", "column", "observed", "expected", "passed", "severity"):
        assert header in out
    assert "1 data query" in out and "0 error" in out
    assert len(sent.data_queries("MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE")) == 1, sent.sent
    assert _audit_rows(target) > before


def test_validate_staged_as_json_without_audit(target, sent, capsys: pytest.CaptureFixture[str]) -> None:
    before = _audit_rows(target)
    assert mesh("contract", "validate", "AD_CLICKS", "--staged", "--format", "json", "--no-audit") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["table"] == "MARKETING_DB.STAGING.AD_CLICKS" and report["passed"] is True
    assert report["data_queries"] == 1
    assert len(sent.data_queries("MARKETING_DB.STAGING.AD_CLICKS")) == 1, sent.sent
    assert {"check", "column", "observed", "expected", "passed", "severity"} == set(report["results"][0])
    assert _audit_rows(target) == before


def test_validate_exits_1_when_an_error_check_fails(target, tmp_path: Path, capsys) -> None:
    strict = variant(tmp_path, "strict", "1.1.0", lambda d: d["properties"]["COST_USD"].update(maximum=0.01))
    assert mesh("contract", "validate", "AD_CLICKS", "--contract", str(strict), "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    failed = [r for r in report["results"] if not r["passed"] and r["severity"] == "error"]
    assert [(r["check"], r["column"]) for r in failed] == [("maximum", "COST_USD")]
    rows = target.sql(
        f'SELECT "PASSED" FROM {AUDIT} WHERE "RUN_ID" = %s AND "CHECK_NAME" = \'maximum\'',
        (report["run_id"],),
    )
    assert rows == [(False,)]


BAD_CONTRACTS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "unknown-type": (
        lambda d: d["properties"]["COST_USD"].update(type="money"),
        "$.properties.COST_USD.type",
    ),
    "writing-sql": (
        lambda d: d["x-quality"].update(
            custom=[{"name": "sneaky", "sql": "DELETE FROM {table}", "expect": 0}]
        ),
        "must be a read-only SELECT, found DELETE",
    ),
    "two-statements": (
        lambda d: d["x-quality"].update(
            custom=[{"name": "two", "sql": "SELECT 1; DROP TABLE {table}", "expect": 0}]
        ),
        "exactly one statement",
    ),
    "typo": (lambda d: d["properties"]["COST_USD"].update(minimun=0), "minimun"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTRACTS))
def test_bad_contracts_exit_2_and_change_nothing(target, tmp_path: Path, capsys, case: str) -> None:
    edit, message = BAD_CONTRACTS[case]
    bad = variant(tmp_path, case, "1.1.0", edit)
    before = _audit_rows(target)
    assert mesh("contract", "validate", "AD_CLICKS", "--contract", str(bad)) == 2
    assert mesh("contract", "diff", str(AD_CLICKS), str(bad)) == 2
    err = capsys.readouterr().err
    assert err.count(message) == 2 and "Traceback" not in err
    assert _audit_rows(target) == before


def test_other_bad_input_exits_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "broken.json").write_text('{"title": ')
    assert mesh("contract", "validate", "NO_SUCH_PRODUCT") == 2
    assert mesh("contract", "diff", str(AD_CLICKS), str(tmp_path / "broken.json")) == 2
    assert mesh("contract", "diff", str(AD_CLICKS), str(tmp_path / "missing.json")) == 2
    other = ROOT / "contracts/marketing/campaign_performance/v1.json"
    assert (
        mesh("contract", "validate", "AD_CLICKS", "--contract", str(other)) == 2
    )  # another product's contract
    err = capsys.readouterr().err
    assert "unknown product 'NO_SUCH_PRODUCT'" in err and "not valid JSON" in err and "cannot read" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- diff


def _add_optional(d: dict[str, Any]) -> None:
    d["properties"]["UTM_TERM"] = {"type": ["string", "null"]}


def _rename(d: dict[str, Any]) -> None:
    d["properties"] = {("COST_MICROS" if k == "COST_USD" else k): v for k, v in d["properties"].items()}
    d["required"] = [("COST_MICROS" if k == "COST_USD" else k) for k in d["required"]]


@pytest.mark.parametrize(
    "version, edit, extra, code, says",
    [
        ("1.0.0", lambda d: None, [], 0, "result: compatible"),
        ("1.1.0", _add_optional, [], 0, "[minor] optional column UTM_TERM VARCHAR added"),
        ("1.0.1", _add_optional, [], 1, "result: wrong version bump"),
        ("1.0.1", _rename, [], 1, "[breaking] column COST_USD renamed to COST_MICROS"),
        ("2.0.0", _rename, [], 1, "result: breaking"),
        ("2.0.0", _rename, ["--allow-breaking"], 0, "result: compatible"),
        (
            "1.0.1",
            lambda d: d["properties"]["CHANNEL"]["enum"].append("tv"),
            [],
            1,
            "enum value(s) ['tv'] added",
        ),
        ("0.9.0", lambda d: None, [], 1, "the version goes backwards"),
    ],
    ids=["same", "minor", "too-small-bump", "rename", "major", "allowed-major", "enum-added", "downgrade"],
)
def test_diff_exit_codes(
    tmp_path: Path, capsys, version: str, edit, extra: list[str], code: int, says: str
) -> None:
    new = variant(tmp_path, "new", version, edit)
    assert mesh("contract", "diff", str(AD_CLICKS), str(new), *extra) == code
    assert says in capsys.readouterr().out


def test_diff_json(tmp_path: Path, capsys) -> None:
    new = variant(tmp_path, "new", "1.0.1", _rename)
    assert mesh("contract", "diff", str(AD_CLICKS), str(new), "--format", "json") == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "breaking" and out["exit_code"] == 1 and out["required_bump"] == "major"
    assert out["changes"][0] == {
        "kind": "column_renamed",
        "column": "COST_USD",
        "detail": "column COST_USD renamed to COST_MICROS",
        "class": "breaking",
        "verify_on_data": False,
        "new_column": "COST_MICROS",  # the rename's target, as the JSON output schema names it
        "candidates": [],
    }


def test_diff_verify_checks_tightened_guarantees_on_current_data(target, sent, tmp_path: Path, capsys) -> None:
    before = _audit_rows(target)
    met = variant(tmp_path, "met", "1.1.0", lambda d: d["properties"]["COST_USD"].update(maximum=1000))
    assert mesh("contract", "diff", str(AD_CLICKS), str(met), "--verify") == 0
    out = capsys.readouterr().out
    assert "verified on MARKETING_DB.PRODUCTS.AD_CLICKS: current data meets the new contract" in out

    unmet = variant(tmp_path, "unmet", "1.1.0", lambda d: d["properties"]["CHANNEL"].update(enum=["search"]))
    assert mesh("contract", "diff", str(AD_CLICKS), str(unmet)) == 0  # the promise itself is compatible ...
    assert "run with --verify" in capsys.readouterr().out
    sent.sent.clear()
    assert (
        mesh("contract", "diff", str(AD_CLICKS), str(unmet), "--verify", "--format", "json") == 1
    )  # ... the data is not
    assert len(sent.data_queries("MARKETING_DB.PRODUCTS.AD_CLICKS")) == 1, sent.sent
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "not met by current data"
    v = out["verification"]
    assert v["passed"] is False and v["data_queries"] == 1
    assert any(r["check"] == "enum" and r["column"] == "CHANNEL" and not r["passed"] for r in v["results"])
    assert _audit_rows(target) == before  # verifying a proposal writes no audit rows
