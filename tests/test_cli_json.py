"""``--format json`` on every command that reports something (docs/cli-json.md).

Each test parses stdout with ``json.loads`` (so stdout holds exactly one document), checks the
documented keys, and compares some values with what is read independently here: the manifests
and contracts with yaml/json, the account with its own SQL. Commands that read an account use the
session's run (tests/conftest.py ``mesh_run``); ``mesh run --format json`` and ``mesh contract check
--format json`` get their own scratch accounts at a tiny scale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer
import yaml

from snowmesh.cli.main import app, run_app

ROOT = Path(__file__).resolve().parents[1]

# The commands of issue 15 that report something: each takes --format text|json.
REPORTING = [
    ("run",), ("plan",), ("deploy",), ("contract", "check"), ("contract", "validate"), ("contract", "diff"),
    ("products",), ("product", "show"), ("lineage",), ("impact",), ("finops",), ("audit", "log"),
    ("audit", "access"), ("call",),
    ("generate",), ("tasks", "deploy"),  # beyond the list: they report too
]


def _manifests() -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "domains").glob("*/domain.yml"))]


def _product_keys() -> set[str]:
    return {f"{d['name']}.{p['name']}" for d in _manifests() for p in d.get("products", [])}


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, object, str]:
    rc = run_app(list(args))
    out = capsys.readouterr()
    return rc, json.loads(out.out), out.err


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = typer.main.get_command(app)
    for name in path:
        assert isinstance(cmd, click.Group), path
        cmd = cmd.commands[name]
    return cmd


def _option(cmd: click.Command, name: str) -> click.Option | None:
    return next((p for p in cmd.params if isinstance(p, click.Option) and name in p.opts), None)


def _all_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    out = []

    def walk(path: tuple[str, ...], cmd: click.Command) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk((*path, name), sub)
        else:
            out.append((path, cmd))

    walk((), typer.main.get_command(app))
    return out


# --------------------------------------------------------------------------- the options


@pytest.mark.parametrize("path", REPORTING, ids=" ".join)
def test_every_reporting_command_takes_format_text_or_json(path: tuple[str, ...]) -> None:
    option = _option(_command(path), "--format")
    assert option is not None, path
    choices = getattr(option.type, "choices", None)
    assert choices is not None and {"text", "json"} <= set(choices), (path, choices)
    assert option.default == "text"


def test_option_names_are_the_same_everywhere() -> None:
    commands = _all_commands()
    connection_help = set()
    for path, cmd in commands:
        project = _option(cmd, "--project")
        if project is not None:
            assert "-p" in project.opts and project.help, path
        connection = _option(cmd, "--connection")
        if connection is not None:
            assert "-c" in connection.opts, path
            connection_help.add(connection.help)
        output = _option(cmd, "--output")
        if output is not None:
            assert "-o" in output.opts, path
        assert _option(cmd, "--out") is None or _option(cmd, "--out") is output, path
        if _option(cmd, "--days") is not None and _option(cmd, "--seed") is not None:  # a generated scale
            assert _option(cmd, "--clicks") is not None, path
    assert len(connection_help) == 1, connection_help  # one wording for -c/--connection
    assert {path for path, cmd in commands if _option(cmd, "--clicks")} >= {("run",), ("generate",), ("contract", "check")}


def test_table_is_read_as_text_and_anything_else_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["plan", "-p", str(ROOT), "--format", "table"]) == 0
    old = capsys.readouterr()
    assert run_app(["plan", "-p", str(ROOT), "--format", "text"]) == 0
    new = capsys.readouterr()
    assert old.out == new.out and "--format table is now called --format text" in old.err
    assert run_app(["plan", "-p", str(ROOT), "--format", "xml"]) == 2
    err = capsys.readouterr()
    assert err.out == "" and "'xml' is not one of 'text', 'json'" in err.err and "mesh plan --help" in err.err


# --------------------------------------------------------------------------- errors under --format json


@pytest.mark.parametrize("args", [
    ("contract", "validate", "NOPE", "-p", str(ROOT), "--format", "json"),
    ("product", "show", "NOPE", "-p", str(ROOT), "--format=json"),
    ("impact", "NOPE", "--offline", "-p", str(ROOT), "-f", "json"),
    ("call", "NOPE", "-p", str(ROOT), "--format", "json"),
    ("plan", "--format", "json", "--bogus"),  # a usage error, before any option is converted
], ids=["validate", "product-show", "impact", "call", "usage"])
def test_bad_input_under_json_is_an_error_document_and_exit_2(args: tuple[str, ...],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, err = _json(capsys, *args)
    assert rc == 2
    assert set(doc) == {"error"} and set(doc["error"]) == {"message", "hint", "exit_code"}
    assert doc["error"]["exit_code"] == 2 and doc["error"]["message"]
    assert err.startswith("error: ") and doc["error"]["message"].splitlines()[0] in err  # stderr says it too
    assert "Traceback" not in err


def test_diff_error_document_keeps_its_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "v1.json"
    bad.write_text("{not json")
    rc, doc, _ = _json(capsys, "contract", "diff", str(ROOT / "contracts/marketing/ad_clicks/v1.json"), str(bad),
                       "--format", "json")
    assert rc == 2 and doc["verdict"] == "bad input" and doc["exit_code"] == 2
    assert doc["error"]["exit_code"] == 2 and str(bad) in doc["error"]["message"]


# --------------------------------------------------------------------------- no account needed


def test_plan_json_is_the_text_plan(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "plan", "--local", "-p", str(ROOT), "--format", "json")
    assert rc == 0 and doc["local"] is True
    assert run_app(["plan", "--local", "-p", str(ROOT)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(doc["statements"])
    for line, s in zip(lines, doc["statements"], strict=True):
        assert set(s) == {"sql", "kind", "object", "domain", "sender", "terraform", "executed", "note"}
        assert line.startswith(s["sql"] + ";")
        assert line.endswith("not executed on the local account") is (not s["executed"])
    kinds = {s["kind"] for s in doc["statements"] if not s["executed"]}
    assert "grant" in kinds or "role" in kinds  # locally, access statements are recorded, not executed
    creates = {s["object"] for s in doc["statements"] if s["kind"] == "database"}
    assert {d["database"] for d in _manifests()} <= creates


def test_deploy_dry_run_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "deploy", "--dry-run", "-p", str(ROOT), "--format", "json")
    assert rc == 0
    assert {"dry_run", "local", "missing_procedures", "compared", "terraform_left_out", "statements", "registry",
            "sources", "task_graphs", "task_graphs_note"} == set(doc)
    assert doc["dry_run"] is True and doc["local"] is True and doc["task_graphs"] == []
    assert run_app(["deploy", "--dry-run", "-p", str(ROOT)]) == 0
    text = capsys.readouterr().out
    for s in doc["statements"]:
        assert f"{s['sql']};  -- as {s['sender']}" in text
    sources = [s["name"] for d in _manifests() for s in d.get("sources", [])]
    registered = "\n".join(doc["sources"])
    assert all(f"'{name}'" in registered for name in sources)
    assert any(f"{len(_product_keys())} row(s)" in r["note"] for r in doc["registry"])


def test_product_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "product", "show", "FINANCE.CAMPAIGN_ROI", "-p", str(ROOT), "--format", "json")
    assert rc == 0
    assert {"product", "description", "owner", "version", "status", "contract", "view", "consumers", "sla",
            "primary_key", "tags", "versions", "columns"} <= set(doc)
    contract = json.loads((ROOT / doc["contract"]).read_text())
    assert [c["name"] for c in doc["columns"]] == list(contract["properties"])
    assert doc["version"] == contract["x-product"]["version"]


def test_lineage_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "lineage", "-p", str(ROOT), "--format", "json")
    assert rc == 0 and set(doc) == {"nodes", "edges", "warnings"}
    ids = {n["id"] for n in doc["nodes"]}
    assert all({e["src"], e["dst"]} <= ids for e in doc["edges"])
    assert {n["product"] for n in doc["nodes"] if n["kind"] == "product"} == _product_keys()
    sources = sum(len(d.get("sources", [])) for d in _manifests())
    assert sum(n["kind"] == "source" for n in doc["nodes"]) == sources
    # -o FILE: the graph goes to the file, and stdout still holds one JSON document.
    rc, written, _ = _json(capsys, "lineage", "-p", str(ROOT), "--format", "json", "-o", str(tmp_path / "g.json"))
    assert rc == 0 and written["nodes"] == len(doc["nodes"])
    assert json.loads((tmp_path / "g.json").read_text()) == doc


def test_impact_offline_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "impact", "MARKETING.AD_CLICKS", "--offline", "-p", str(ROOT), "--format", "json")
    assert rc == 0
    assert {"product", "view", "column", "analysed", "affected", "roles", "notes", "access_history",
            "readers"} == set(doc)
    readers = {f"{d['name']}.{p['name']}" for d in _manifests() for p in d.get("products", [])
               if "MARKETING.AD_CLICKS" in p.get("inputs", [])}
    assert {a["product"] for a in doc["affected"]} >= readers and readers
    assert doc["analysed"] is False and all(set(r) == {"role", "why"} for r in doc["roles"])


def test_audit_access_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "audit", "access", "-p", str(ROOT), "--format", "json")
    assert rc == (0 if doc["ok"] else 1)
    assert {"ok", "violations", "checks"} <= set(doc)
    assert doc["ok"] is (doc["violations"] == 0)


def test_contract_diff_json(capsys: pytest.CaptureFixture[str]) -> None:
    v1 = str(ROOT / "contracts/marketing/ad_clicks/v1.json")
    rc, doc, _ = _json(capsys, "contract", "diff", v1, v1, "--format", "json")
    assert rc == 0 and doc["verdict"] == "compatible" and doc["changes"] == [] and doc["exit_code"] == 0


def test_generate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "files"
    rc, doc, _ = _json(capsys, "generate", "-p", str(ROOT), "-o", str(out), "--clicks", "300", "--days", "1",
                       "--format", "json")
    assert rc == 0 and doc["output"] == str(out)
    assert {(s["domain"], s["source"]) for s in doc["sources"]} == {
        (d["name"], s["name"]) for d in _manifests() for s in d.get("sources", [])}
    import gzip

    for s in doc["sources"]:  # the rows of the files on disk, counted here (header line excluded)
        files = [f for f in Path(s["folder"]).rglob("*.gz") if s["source"].lower() in str(f.relative_to(s["folder"]))]
        lines = sum(len(gzip.decompress(f.read_bytes()).splitlines()) - 1 for f in files)
        assert lines == s["rows"], s


def test_tasks_deploy_dry_run_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "tasks", "deploy", "--dry-run", "-p", str(ROOT), "--format", "json")
    assert rc == 0 and doc["dry_run"] is True and {"registry", "task_graphs", "task_graphs_note"} <= set(doc)
    assert {g["database"] for g in doc["task_graphs"]} == {d["database"] for d in _manifests()}
    for g in doc["task_graphs"]:  # a first deploy creates every task of the graph
        assert {op["name"] for op in g["ops"] if op["verb"] == "create"} == {t["name"] for t in g["tasks"]}


# --------------------------------------------------------------------------- on the session's account


def test_products_json(mesh_run, capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "products", "-p", str(ROOT), "--refresh", "--format", "json")
    assert rc == 0 and isinstance(doc, list)
    assert {f"{r['domain']}.{r['product']}" for r in doc} == _product_keys()  # one row per manifest product
    published = {k.split(".")[1]: o.published_rows for k, o in mesh_run.report.products.items()}
    assert {r["product"]: r["row_count"] for r in doc} == published


def test_contract_validate_json(mesh_run, capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "contract", "validate", "MARKETING.AD_CLICKS", "-p", str(ROOT), "--no-audit",
                       "--format", "json")
    assert rc == 0 and doc["passed"] is True and doc["table"] == "MARKETING_DB.PRODUCTS.AD_CLICKS"
    rows = mesh_run.target.sql('SELECT COUNT(*) FROM "MARKETING_DB"."PRODUCTS"."AD_CLICKS"')[0][0]
    assert any(r["check"] == "row_count" and str(rows) in r["observed"] for r in doc["results"]), doc["results"]


def test_finops_json(mesh_run, capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "finops", "-p", str(ROOT), "--format", "json")
    assert rc == 0 and {"source", "estimate", "warehouses", "tasks", "notes"} == set(doc)
    assert doc["estimate"] is True
    quotas = {d["warehouse"]["name"]: d["warehouse"]["monthly_credit_quota"] for d in _manifests()}
    assert {w["warehouse"]: w["quota"] for w in doc["warehouses"]} == quotas
    for w in doc["warehouses"]:
        assert w["quota_pct"] == pytest.approx(100 * w["credits"] / w["quota"])
    assert {t["task"] for t in doc["tasks"]} >= {f"{t.dag}${t.task}" for t in mesh_run.report.tasks} or doc["tasks"]


def test_audit_log_json(mesh_run, capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "audit", "log", "-p", str(ROOT), "--kind", "deploy", "-n", "5", "--format", "json")
    assert rc == 0 and {"kinds", "limit", "count", "entries"} == set(doc)
    deploys = mesh_run.target.sql('SELECT COUNT(*) FROM "GOVERNANCE_DB"."AUDIT"."DEPLOYS"')[0][0]
    assert doc["count"] == len(doc["entries"]) == min(deploys, 5) and deploys >= 1
    for e in doc["entries"]:
        assert set(e) == {"at", "kind", "ref", "subject", "status", "detail"} and e["kind"] == "deploy"
        assert isinstance(e["at"], str) and e["at"][:4].isdigit()  # ISO 8601
    assert [e["at"] for e in doc["entries"]] == sorted((e["at"] for e in doc["entries"]), reverse=True)


def test_call_json(mesh_run, capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = _json(capsys, "call", "PRODUCT_HEALTH", "-p", str(ROOT), "--format", "json")
    assert rc == 0 and {"procedure", "arguments", "target", "message", "columns", "rows", "row_count"} == set(doc)
    assert doc["row_count"] == len(doc["rows"]) == len(_product_keys())
    assert all(list(r) == doc["columns"] for r in doc["rows"])
    json.dumps(doc["rows"])  # plain values only


# --------------------------------------------------------------------------- their own scratch accounts


def _mesh(*args: str, state: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    return subprocess.run([sys.executable, "-m", "snowmesh", *args], check=False, capture_output=True, text=True,
                          timeout=600, env={**env, "SNOWMESH_STATE_DIR": str(state)})


@pytest.mark.slow
def test_run_json_is_the_only_thing_on_stdout(tmp_path: Path) -> None:
    proc = _mesh("run", "-p", str(ROOT), "--clicks", "500", "--days", "2", "--format", "json", state=tmp_path / "s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)  # progress bars and notes went to stderr
    assert {"run_id", "ok", "deploy", "loads", "products", "top_roi", "tasks"} == set(doc)
    assert doc["ok"] is True and "━" in proc.stderr
    assert {p["product"] for p in doc["products"]} == _product_keys()
    assert all(p["published"] and p["published_rows"] >= 0 for p in doc["products"])
    clicks = next(s for s in doc["loads"] if s["source"] == "AD_CLICKS")
    assert clicks["rows_generated"] == 500
    assert clicks["rows_landed"] == clicks["rows_loaded"] + clicks["rows_quarantined"]
    assert all(t["status"] == "SUCCEEDED" for t in doc["tasks"]) and doc["tasks"]
    assert doc["deploy"]["executed"] > 0
    for r in doc["top_roi"]:
        spend, revenue = r["spend"], r["revenue"]
        if spend:
            assert r["roi"] == pytest.approx((revenue - spend) / spend, rel=1e-6)


@pytest.mark.slow
def test_contract_check_json(tmp_path: Path) -> None:
    proc = _mesh("contract", "check", "-p", str(ROOT), "--clicks", "500", "--days", "2", "--format", "json",
                 state=tmp_path / "s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert {"ok", "exit_code", "problems", "products"} == set(doc)
    assert doc["ok"] is True and doc["exit_code"] == 0 and doc["problems"] == []
    assert {g["product"] for g in doc["products"]} == _product_keys()
    for g in doc["products"]:
        contract = json.loads((ROOT / next(p["contract"] for d in _manifests() for p in d["products"]
                                           if f"{d['name']}.{p['name']}" == g["product"])).read_text())
        assert [c["name"] for c in g["observed"]] == list(contract["properties"])
        assert g["schema"] == "matches" and g["data"] == "passes"
