"""ODCS v3.1.0 export/import: lossless round trips, the official JSON Schema, and bad input (exit 2)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from governance.contract import parse_contract
from snowmesh.cli.main import run_app
from snowmesh.contracts.odcs import (
    API_VERSION,
    dump_yaml,
    duplicate_pct_query,
    export_warnings,
    odcs_errors,
    to_odcs,
)
from snowmesh.contracts.odcs_import import from_odcs, load_yaml
from snowmesh.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = sorted((ROOT / "contracts").glob("*/*/v*.json"))
PKG = ROOT / "src" / "snowmesh" / "contracts"


def _doc(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    text = dump_yaml(to_odcs(doc))
    result = from_odcs(load_yaml(text, "rt.odcs.yaml"), "rt.odcs.yaml")
    assert result.lossy == [] and result.notes == []
    return result.doc


def _every_field() -> dict[str, Any]:
    """A contract using every key our format supports (beyond the three real contracts)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "contracts/test/everything/v2.json",
        "$comment": "synthetic",
        "title": "EVERYTHING",
        "description": "All the features.",
        "type": "object",
        "additionalProperties": True,
        "x-product": {
            "domain": "TEST",
            "name": "EVERYTHING",
            "owner": "t@example.com",
            "version": "2.3.4",
            "status": "deprecated",
            "description": "product text",
            "tags": ["p1", "p2"],
        },
        "x-primary-key": ["B_ID", "A_ID"],
        "x-sla": {"freshness_column": "LOADED_AT", "max_age_hours": 1.5},
        "x-quality": {
            "row_count": {"min": 10, "max": 1000},
            "max_null_pct": {"NOTE": 12.5},
            "max_duplicate_pct": {"NOTE": 90},
            "custom": [
                {
                    "name": "at_least_one_big",
                    "sql": "SELECT COUNT(*) FROM {table} WHERE SCORE > 5",
                    "expect": 1,
                    "op": ">=",
                    "severity": "warn",
                    "description": "some big scores",
                },
                {
                    "name": "no_future",
                    "sql": "SELECT COUNT(*) FROM {table} WHERE DAY > CURRENT_DATE()",
                    "expect": 0,
                    "severity": "error",
                },
            ],
        },
        "x-tags": ["t1"],
        "required": ["A_ID", "B_ID", "DAY", "LOADED_AT"],
        "properties": {
            "A_ID": {
                "type": "integer",
                "exclusiveMinimum": 0,
                "exclusiveMaximum": 100,
                "x-unique": True,
                "description": "a",
                "x-tags": ["k"],
            },
            "B_ID": {
                "type": "string",
                "pattern": "^B[0-9]+$",
                "maxLength": 12,
                "x-classification": "restricted",
            },
            "SCORE": {
                "type": ["number", "null"],
                "x-snowflake-type": "FLOAT",
                "minimum": -1.5,
                "maximum": 9.5,
                "enum": [1, 2.5, 9],
            },
            "NOTE": {"type": ["string", "null"], "enum": ["x", "y"]},
            "FLAG": {"type": ["boolean", "null"]},
            "DAY": {"type": "string", "format": "date"},
            "LOADED_AT": {"type": "string", "format": "date-time", "x-classification": "public"},
        },
    }


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.parent.name)
def test_repo_contracts_round_trip_exactly(path: Path) -> None:
    original = _doc(path)
    back = _round_trip(original)
    assert back == original
    assert parse_contract(back) == parse_contract(original)


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.parent.name)
def test_export_validates_against_the_official_odcs_schema(path: Path) -> None:
    odcs = to_odcs(_doc(path))
    assert odcs["apiVersion"] == API_VERSION == "v3.1.0"
    assert odcs_errors(odcs) == []
    table = odcs["schema"][0]
    assert [p["name"] for p in table["properties"]] == list(_doc(path)["properties"])
    assert odcs["team"]["members"][0]["role"] == "owner"


def test_every_supported_field_survives_the_round_trip() -> None:
    original = _every_field()
    parse_contract(original)  # the fixture itself is a valid contract
    back = _round_trip(original)
    assert back == original
    assert parse_contract(back) == parse_contract(original)


def test_defaults_round_trip_to_the_same_contract() -> None:
    """Implicit defaults come back explicit (FLOAT, nullable type, active status): same promises."""
    doc = _every_field()
    del doc["x-product"]["status"], doc["properties"]["SCORE"]["x-snowflake-type"]
    doc["properties"]["FLAG"]["type"] = "boolean"  # optional because it is not in required
    back = _round_trip(doc)
    assert parse_contract(back) == parse_contract(doc)


def test_the_schema_check_is_real() -> None:
    """The vendored schema rejects what ODCS forbids: wrong enum values, unknown keys, bad types."""
    odcs = to_odcs(_doc(CONTRACTS[0]))
    for mutate in (
        lambda o: o.update(apiVersion="v9.9.9"),
        lambda o: o.update(surprise=1),
        lambda o: o["schema"][0]["properties"][0].update(logicalType="datetime"),
        lambda o: o["schema"][0]["properties"][0].update(requierd=True),
        lambda o: o["schema"][0]["quality"][0].update(metric="rowCounts"),
    ):
        bad = copy.deepcopy(odcs)
        mutate(bad)
        assert odcs_errors(bad), mutate


def test_vendored_schema_keeps_its_licence_notice() -> None:
    notice = (PKG / "ODCS-NOTICE.md").read_text()
    assert "Apache License, Version 2.0" in notice and "unmodified" in notice
    assert "Apache License" in (PKG / "ODCS-LICENSE.txt").read_text()


FOREIGN = """
apiVersion: v3.1.0
kind: DataContract
id: 53581432-6c55-4ba2-a65f-72344a91553a
version: 1.2.0
status: active
domain: SELLER
name: PAYMENTS
contractCreatedTs: 2024-05-01T10:00:00Z
servers: [{server: prod, type: snowflake, account: acme, database: SELLER_DB, schema: PRODUCTS}]
team: {name: payments, members: [{username: ann@example.com, role: steward}, {username: bob@example.com, role: Owner}]}
schema:
  - name: PAYMENTS
    properties:
      - {name: PAYMENT_ID, logicalType: string, physicalType: VARCHAR(36), required: true, primaryKey: true}
      - {name: AMOUNT, logicalType: number, physicalType: "NUMBER(12,2)", required: true,
         quality: [{metric: nullValues, mustBe: 0}, {metric: invalidValues, arguments: {validValues: [1, 2]},
                    mustBeLessThan: 5}]}
    quality:
      - {type: text, description: amounts are in EUR}
      - {metric: rowCount, mustBeGreaterThan: 0}
"""


def test_import_of_a_foreign_contract_reports_what_it_cannot_keep() -> None:
    result = from_odcs(load_yaml(FOREIGN, "f.yaml"), "f.yaml")
    doc = result.doc
    assert doc["x-product"] == {
        "domain": "SELLER",
        "name": "PAYMENTS",
        "owner": "bob@example.com",
        "version": "1.2.0",
        "status": "active",
    }
    assert doc["x-primary-key"] == ["PAYMENT_ID"] and doc["required"] == ["PAYMENT_ID", "AMOUNT"]
    assert doc["x-quality"] == {"row_count": {"min": 1}}  # > 0 rows is >= 1
    assert doc["properties"]["AMOUNT"]["x-snowflake-type"] == "NUMBER(12,2)"
    assert any("quality[1]" in m for m in result.lossy)  # invalidValues < 5: no such promise in our format
    assert any("quality[0]" in m for m in result.lossy)  # a text rule
    kept = doc["x-odcs"]  # nothing disappears: what has no field of ours is kept verbatim
    assert (
        kept["servers"][0]["account"] == "acme" and kept["contractCreatedTs"] == "2024-05-01T10:00:00+00:00"
    )
    assert kept["id"] == "53581432-6c55-4ba2-a65f-72344a91553a"
    assert kept["team"] == {
        "name": "payments",
        "members": [{"username": "ann@example.com", "role": "steward"}],
    }


def test_import_rejects_unsupported_types_and_several_tables() -> None:
    odcs = to_odcs(_doc(CONTRACTS[0]))
    two = copy.deepcopy(odcs)
    two["schema"].append(copy.deepcopy(two["schema"][0]))
    with pytest.raises(InputError, match="schema: 2 objects .*a contract is one table") as exc:
        from_odcs(two)
    assert "--table" in (exc.value.hint or "")
    arr = copy.deepcopy(odcs)
    arr["schema"][0]["properties"][0]["logicalType"] = "time"
    arr["schema"][0]["properties"][0].pop("logicalTypeOptions")
    lossy = from_odcs(arr).lossy  # a time column has no type here: listed, never silently dropped
    assert any(
        "properties[0]: column" in m and "logicalType time" in m and "not imported" in m for m in lossy
    )


# --------------------------------------------------------------------------- CLI


def test_cli_export_and_import_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in CONTRACTS:
        product = f"{_doc(path)['x-product']['domain']}.{_doc(path)['title']}"
        odcs_file = tmp_path / f"{path.parent.name}.odcs.yaml"
        assert (
            run_app(
                ["contract", "export", "--format", "odcs", product, "-o", str(odcs_file), "-p", str(ROOT)]
            )
            == 0
        )
        assert odcs_errors(yaml.safe_load(odcs_file.read_text())) == []
        out = tmp_path / path.parent.name / "v1.json"
        assert run_app(["contract", "import", str(odcs_file), "-o", str(out)]) == 0
        assert json.loads(out.read_text()) == _doc(path)
    assert run_app(["contract", "export", str(CONTRACTS[0])]) == 0  # to stdout, by path
    assert capsys.readouterr().out.count("apiVersion: v3.1.0") == 1


def test_cli_import_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "v1.json"
    cases = {
        "syntax.yaml": "apiVersion: [v3.1.0\n",
        "not_odcs.yaml": "kind: DataContract\nschema: 3\n",
        "lossy.yaml": FOREIGN,
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert run_app(["contract", "import", str(tmp_path / name), "-o", str(out)]) == 2, name
        assert not out.exists()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        "not valid YAML" in err
        and "not a valid ODCS v3.1.0 document" in err
        and "cannot be represented" in err
    )
    # Accepting the loss imports what can be kept, with warnings for the rest.
    assert run_app(["contract", "import", str(tmp_path / "lossy.yaml"), "-o", str(out), "--allow-lossy"]) == 0
    assert json.loads(out.read_text())["title"] == "PAYMENTS"
    assert "warning:" in capsys.readouterr().err
    assert (
        run_app(
            [
                "contract",
                "import",
                str(tmp_path / "lossy.yaml"),
                "-o",
                str(tmp_path / "v3.json"),
                "--allow-lossy",
            ]
        )
        == 2
    )  # version 1.2.0 belongs in v1.json


# --------------------------------------------------------------------------- forms datacontract-cli tests


def test_export_uses_the_forms_datacontract_cli_tests(capsys: pytest.CaptureFixture[str]) -> None:
    ad_clicks = _doc(ROOT / "contracts/marketing/ad_clicks/v1.json")
    odcs = to_odcs(ad_clicks)
    sla = odcs["slaProperties"][0]
    assert (sla["property"], sla["value"], sla["unit"], sla["element"]) == (
        "freshness",
        26,
        "h",
        "AD_CLICKS.UPDATED_AT",
    )
    rule = next(r for r in odcs["schema"][0]["quality"] if r["id"] == "click_id_max_duplicate_pct")
    assert rule["type"] == "sql" and rule["mustBeLessOrEqualTo"] == 0 and "{object}" in rule["query"]
    assert not any(
        q.get("metric") == "duplicateValues" and q.get("unit") == "percent"
        for p in odcs["schema"][0]["properties"]
        for q in p.get("quality", ())
    )
    half = copy.deepcopy(ad_clicks)
    half["x-sla"]["max_age_hours"] = 1.5
    sla = to_odcs(half)["slaProperties"][0]
    assert (sla["value"], sla["unit"]) == (90, "m")  # whole units: datacontract-cli truncates 1.5 h
    assert _round_trip(half)["x-sla"]["max_age_hours"] == 1.5
    assert any("additionalProperties: false" in w for w in export_warnings(ad_clicks))
    assert run_app(["contract", "export", str(ROOT / "contracts/marketing/ad_clicks/v1.json")]) == 0
    assert "warning:" in capsys.readouterr().err  # said at every export


def test_duplicate_pct_query_computes_the_same_figure_as_the_check() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE T (C VARCHAR)")
    con.execute("INSERT INTO T VALUES ('a'), ('a'), ('a'), ('b'), (NULL)")
    # 4 non-null values, 2 distinct: 2 duplicates of 5 rows = 40 %, as governance.checks counts them
    assert con.execute(duplicate_pct_query("C").replace("{object}", "T")).fetchone()[0] == 40.0
    con.execute("DELETE FROM T")
    assert con.execute(duplicate_pct_query("C").replace("{object}", "T")).fetchone()[0] == 0  # empty: 0
