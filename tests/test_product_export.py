"""``mesh product export PRODUCT --format parquet -o FILE`` on the session run's local account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from governance.contract import load_contract, parse_contract
from governance.sql import fqn, ident
from governance.validate import validate_table
from snowmesh.cli.main import run_app
from snowmesh.contracts.odcs import dump_yaml, to_odcs
from snowmesh.errors import StepFailed
from snowmesh.product_export import export_parquet

ROOT = Path(__file__).resolve().parents[1]
MESH = Path(sys.executable).parent / "mesh"
VIEW = "MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1"


def test_export_writes_the_published_view_as_parquet(mesh_run, tmp_path: Path) -> None:
    out = tmp_path / "cp.parquet"
    # A separate process, as a user runs it: it adopts the session's running account and, not
    # owning it, leaves it running for the other tests (an in-process command would stop it).
    proc = subprocess.run(
        [str(MESH), "product", "export", "MARKETING.CAMPAIGN_PERFORMANCE", "-o", str(out), "-p", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows, clicks, spend = mesh_run.target.sql(f"SELECT COUNT(*), SUM(CLICKS), SUM(SPEND_USD) FROM {VIEW}")[0]
    assert f"wrote {out}: {rows:,} rows, 11 columns from {VIEW}" in proc.stdout
    table = pq.read_table(out)
    contract = load_contract(ROOT / "contracts/marketing/campaign_performance/v1.json")
    assert tuple(table.column_names) == contract.column_names  # the view's explicit column list
    assert table.num_rows == rows > 0
    assert pc.sum(table["CLICKS"]).as_py() == clicks
    assert float(pc.sum(table["SPEND_USD"]).as_py()) == pytest.approx(float(spend))
    assert str(table.schema.field("PERFORMANCE_DATE").type) == "date32[day]"


def test_export_streams_batches_to_the_same_rows(mesh_run, tmp_path: Path) -> None:
    out = tmp_path / "clicks.parquet"
    done = export_parquet(mesh_run.target, "MARKETING_DB.PRODUCTS.AD_CLICKS_V1", out)
    (rows,) = mesh_run.target.sql("SELECT COUNT(*) FROM MARKETING_DB.PRODUCTS.AD_CLICKS_V1")[0]
    assert done.rows == rows == pq.read_metadata(out).num_rows > 0


def test_export_of_a_missing_view_fails_and_leaves_the_file_alone(mesh_run, tmp_path: Path) -> None:
    out = tmp_path / "keep.parquet"
    out.write_bytes(b"old")
    with pytest.raises(StepFailed, match="cannot read MARKETING_DB.PRODUCTS.NOPE_V1"):
        export_parquet(mesh_run.target, "MARKETING_DB.PRODUCTS.NOPE_V1", out)
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["keep.parquet"]


def test_export_bad_input_exits_2(tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.parquet"
    assert run_app(["product", "export", "NOPE", "-o", str(out), "-p", str(ROOT)]) == 2
    assert "unknown product" in capsys.readouterr().err
    assert (
        run_app(["product", "export", "AD_CLICKS", "-o", str(out), "--format", "csv", "-p", str(ROOT)]) == 2
    )
    assert "--format must be parquet" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- the same verdicts as datacontract-cli

# .ci/datacontract-check installs datacontract-cli (it pins another duckdb) in its own virtualenv
# and points DATACONTRACT_BIN at it; without it this comparison is skipped.
DATACONTRACT = os.environ.get("DATACONTRACT_BIN")
# Our checks with no datacontract-cli counterpart, and why (docs/contracts.md, "Interoperability"):
NO_COUNTERPART = {
    "type",  # it reports "Checking types in parquet files is not supported yet" (a warning)
    "nullable",  # metadata only here too: NOT NULL is enforced by the not_null data check
    "unexpected_column",  # additionalProperties: false has no ODCS field
}


def _their_key(check: str, column: str | None, contract: Any) -> tuple[str, str | None]:
    """The datacontract-cli check that tests the same promise: by type and field, or by our rule id."""
    if check == "primary_key":  # composite: one check; one column: its unique check (or the key's own)
        if len(contract.primary_key) > 1:
            return "primary_key_unique", None
        unique = contract.column(contract.primary_key[0]).unique
        return ("field_unique" if unique else "field_primary_key_unique"), contract.primary_key[0]
    by_type = {
        "not_null": "field_required",
        "unique": "field_unique",
        "pattern": "field_regex",
        "minimum": "field_minimum",
        "maximum": "field_maximum",
        "max_length": "field_max_length",
    }
    if check in by_type:
        return by_type[check], column
    rule_ids = {
        "enum": f"{(column or '').lower()}_enum",
        "null_pct": f"{(column or '').lower()}_max_null_pct",
        "duplicate_pct": f"{(column or '').lower()}_max_duplicate_pct",
        "row_count": "row_count_min",
        "row_count_max": "row_count_max",
        "freshness": "freshness",  # the SLA's id
    }
    return "rule", rule_ids.get(check, check)  # a custom check: its name is the rule id


def _inject(target: Any, table: str, contract: Any) -> list[str]:
    """Break the copy on purpose, in ways both tools check; returns what was injected."""
    cols = {c.name: c for c in contract.columns}
    key = contract.primary_key[0] if contract.primary_key else contract.columns[0].name
    done = []

    def some(n: int, order: str) -> str:
        return f"{ident(key)} IN (SELECT {ident(key)} FROM {table} ORDER BY {ident(key)} {order} LIMIT {n})"

    enum = next((c for c in contract.columns if c.enum and c.json_type == "string"), None)
    if enum:
        target.sql(f"UPDATE {table} SET {ident(enum.name)} = 'not-a-value' WHERE {some(2, 'ASC')}")
        done.append(f"enum {enum.name}")
    low = next(
        (c for c in contract.columns if c.minimum is not None and c.name not in contract.primary_key), None
    )
    if low:
        target.sql(f"UPDATE {table} SET {ident(low.name)} = {low.minimum - 1} WHERE {some(3, 'DESC')}")
        done.append(f"minimum {low.name}")
    if contract.sla:
        col = ident(contract.sla.freshness_column)
        target.sql(f"UPDATE {table} SET {col} = DATEADD(day, -30, {col})")
        done.append("freshness")
    for name, pct in contract.quality.max_null_pct.items():
        target.sql(f"UPDATE {table} SET {ident(name)} = NULL")  # every row: above any threshold < 100
        done.append(f"null_pct {name} > {pct}")
    unique = [c.name for c in contract.columns if c.unique] or list(contract.primary_key[:1])
    if unique or contract.quality.max_duplicate_pct:
        target.sql(f"INSERT INTO {table} SELECT * FROM {table} ORDER BY {ident(key)} LIMIT 4")
        done.append("duplicates")
    required = [c for c in contract.columns if not c.nullable and c.name not in (*contract.primary_key, key)]
    victim = next((c for c in required if cols[c.name] not in (enum, low) and c.format != "date-time"), None)
    if victim:
        target.sql(f"UPDATE {table} SET {ident(victim.name)} = NULL WHERE {some(1, 'DESC')}")
        done.append(f"not_null {victim.name}")
    return done


@pytest.mark.skipif(not DATACONTRACT, reason="DATACONTRACT_BIN not set: run .ci/datacontract-check")
@pytest.mark.parametrize(
    "contract_path", sorted((ROOT / "contracts").glob("*/*/v1.json")), ids=lambda p: p.parent.name
)
def test_same_verdicts_as_datacontract_cli(mesh_run, tmp_path: Path, contract_path: Path) -> None:
    doc = json.loads(contract_path.read_text())
    contract = parse_contract(doc)
    p = mesh_run.mesh.product(f"{contract.product.domain}.{contract.product.name}")
    db = mesh_run.mesh.domain(p.domain).database
    table = fqn(db, "STAGING", f"DC_{contract.title}")
    mesh_run.target.sql(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {fqn(db, 'PRODUCTS', p.view)}")
    injected = _inject(mesh_run.target, table, contract)
    assert len(injected) >= 3, injected
    ours = validate_table(mesh_run.target.session, doc, f"{db}.STAGING.DC_{contract.title}")
    data = tmp_path / f"{contract.title}.parquet"
    export_parquet(mesh_run.target, f"{db}.STAGING.DC_{contract.title}", data)
    odcs = to_odcs(doc)
    odcs["servers"] = [{"server": "local", "type": "local", "format": "parquet", "path": str(data)}]
    (tmp_path / "c.odcs.yaml").write_text(dump_yaml(odcs))
    result = tmp_path / "result.json"
    proc = subprocess.run(
        [
            DATACONTRACT,
            "test",
            str(tmp_path / "c.odcs.yaml"),
            "--output-format",
            "json",
            "--output",
            str(result),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.exists(), proc.stdout + proc.stderr
    theirs: dict[tuple[str, str | None], bool] = {}
    for c in json.loads(result.read_text())["checks"]:
        violated = c["result"] in ("failed", "warning", "error")
        theirs[("rule", c["qualityId"]) if c.get("qualityId") else (c["type"], c.get("field"))] = violated
    compared, unmatched = [], []
    for r in ours.results:
        key = _their_key(r.check, r.column, contract)
        if key not in theirs:
            unmatched.append(r.check)
            continue
        compared.append((r.check, r.column, not r.passed, theirs[key]))
    print(
        f"{contract.title}: {len(compared)} checks compared, {sum(c[2] for c in compared)} violated in both; "
        f"injected {injected}; no counterpart: {sorted(set(unmatched))}"
    )
    assert set(unmatched) <= NO_COUNTERPART, unmatched
    differ = [c for c in compared if c[2] != c[3]]
    assert differ == [], f"injected {injected}; (check, column, ours violated, theirs violated): {differ}"
    assert sum(1 for c in compared if c[2]) >= len(injected) - 1  # the injections were seen by both
    assert len(compared) >= 10
