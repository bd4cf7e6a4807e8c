"""``mesh contract import`` of ODCS files written elsewhere (tests/fixtures/odcs/, the ecosystem's shapes).

Each file is checked against the schema of its own ODCS line, imported with the options a user
needs for it, and nothing it says disappears: it is mapped, kept under ``x-odcs``, or listed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from governance.contract import parse_contract
from snowmesh.cli.main import run_app
from snowmesh.contracts.odcs import dump_yaml, odcs_errors, to_odcs
from snowmesh.contracts.odcs_import import ImportOptions, from_odcs, load_yaml
from snowmesh.errors import InputError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "odcs"


def odcs(name: str) -> dict[str, Any]:
    return load_yaml((FIXTURES / name).read_text(), name)


def imported(name: str, **opts: Any):
    return from_odcs(odcs(name), name, ImportOptions(**opts))


def test_v3_0_document_is_checked_against_the_v3_0_schema() -> None:
    doc = odcs("invalid-v3.0.odcs.yaml")
    errors = odcs_errors(doc)
    assert any(e.startswith("team:") and "is not of type 'array'" in e for e in errors)  # v3.1's team object
    assert odcs_errors({**doc, "apiVersion": "v3.1.0"}) == [
        "schema[0].properties[0]: Unevaluated properties are not allowed ('requierd' was unexpected)"
    ]  # the v3.1.0 schema accepts the team object: each document is read by its own line's schema


def test_invalid_document_names_the_file_and_each_odcs_path_once(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "invalid-v3.0.odcs.yaml"
    assert run_app(["contract", "import", str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert captured.out == "" and "Traceback" not in err
    assert "not a valid ODCS v3.0.0 document" in err
    lines = [line for line in err.splitlines() if line.strip()]
    problem_lines = [line for line in lines if line.startswith(f"{path}: ") and "document" not in line]
    assert len(problem_lines) == 2 and len(set(problem_lines)) == 2, err
    assert any(": schema[0].properties[0]: " in line and "requierd" in line for line in problem_lines)
    assert any(": team: " in line for line in problem_lines)
    assert err.count("requierd") == 1  # once, not twice


def test_unsupported_api_version_is_bad_input() -> None:
    with pytest.raises(InputError, match=r"apiVersion: v2\.2\.2: only ODCS v3\.0\.x and v3\.1\.x are read"):
        from_odcs({**odcs("freshness-v3.0.odcs.yaml"), "apiVersion": "v2.2.2"}, "old.yaml")


def test_full_v3_0_document_keeps_everything_it_does_not_map() -> None:
    with pytest.raises(InputError) as exc:
        imported("full-v3.0.odcs.yaml")
    message = exc.value.message
    assert "domain: missing" in message and "--domain" in message
    assert "schema[0].name: 'daily_payments'" in message and "--normalize-names" in message

    res = imported("full-v3.0.odcs.yaml", domain="PAYMENTS", normalize_names=True)
    doc = res.doc
    c = parse_contract(doc)
    assert (c.title, c.product.domain, c.product.owner) == (
        "DAILY_PAYMENTS",
        "PAYMENTS",
        "pay-owner@example.com",
    )
    assert c.product.status == "active" and any("'current' read as active" in n for n in res.notes)
    assert c.column_names == ("PAY_DATE", "RECEIVER_ID", "COUNTRY_CODE", "AMOUNT")
    assert c.primary_key == ("PAY_DATE", "RECEIVER_ID")
    assert not c.column("RECEIVER_ID").nullable  # a primary key is NOT NULL, and the note says so
    assert any("RECEIVER_ID made required" in n for n in res.notes)
    assert not c.column("COUNTRY_CODE").nullable  # v3.0's `rule: nullValues, mustBe: 0`
    assert (
        c.quality.row_count_min == 11 and c.sla.max_age_hours == 48 and c.sla.freshness_column == "PAY_DATE"
    )
    assert c.column("AMOUNT").snowflake_type == "NUMBER(14,2)" and c.column("AMOUNT").minimum == 0
    # Every field we do not model is kept verbatim, at its level.
    table = doc["x-odcs"]["schema"]
    assert table["physicalName"] == "daily_payments_v2" and table["name"] == "daily_payments"
    assert table["description"] == "One row per receiver and day."
    assert table["dataGranularityDescription"].startswith("Aggregated")
    assert table["tags"] == ["finance", "daily"] and table["authoritativeDefinitions"][0]["type"]
    assert table["customProperties"] == [{"property": "business-key", "value": ["pay_date", "receiver_id"]}]
    assert doc["x-odcs"]["team"]["members"] == [
        {"username": "ann", "role": "Data Scientist", "dateIn": "2025-01-02"}
    ]
    assert doc["x-odcs"]["description"] == {"limitations": "Seller side only.", "usage": "Forecast payouts."}
    assert {"servers", "price", "roles", "support", "tenant", "dataProduct", "contractCreatedTs"} <= set(
        doc["x-odcs"]
    )
    col = doc["properties"]["PAY_DATE"]["x-odcs"]
    assert col == {
        "businessName": "payment date",
        "partitioned": True,
        "partitionKeyPosition": 1,
        "examples": ["2026-10-03"],
        "name": "pay_date",
    }
    assert doc["properties"]["RECEIVER_ID"]["x-odcs"]["customProperties"][0]["value"] == "hash"
    assert doc["properties"]["COUNTRY_CODE"]["x-odcs"]["encryptedName"] == "country_code_enc"
    # What has no place at all is listed, never dropped: the retention SLA.
    assert res.lossy == ["slaProperties[1]: SLA property retention is not supported"]


def test_multi_table_document_needs_table_domain_and_owner() -> None:
    with pytest.raises(InputError, match=r"schema: 2 objects \(department, employee\)"):
        imported("multi-table-v3.0.odcs.yaml")
    with pytest.raises(InputError, match="no table 'payroll'"):
        imported("multi-table-v3.0.odcs.yaml", table="payroll")
    with pytest.raises(InputError) as exc:
        imported("multi-table-v3.0.odcs.yaml", table="employee", normalize_names=True)
    assert "domain: missing" in exc.value.message and "team: no member with role: owner" in exc.value.message

    res = imported(
        "multi-table-v3.0.odcs.yaml",
        table="EMPLOYEE",
        normalize_names=True,
        domain="HR",
        owner="hr@example.com",
    )
    c = parse_contract(res.doc)
    assert (c.title, c.product.domain, c.product.owner, c.product.status) == (
        "EMPLOYEE",
        "HR",
        "hr@example.com",
        "draft",
    )
    assert c.column_names == ("BUSINESSENTITYID", "LOGINID", "HIREDATE", "VACATIONHOURS")
    assert c.column("BUSINESSENTITYID").snowflake_type == "NUMBER(38,0)"  # int4
    assert c.column("LOGINID").snowflake_type == "VARCHAR"  # varchar[256]
    # logicalType object: accepted only as a listed loss (the column is not in the contract).
    assert res.lossy == [
        (
            "schema[1].properties[3]: column salariedflag (logicalType object) not imported: "
            "columns are string, date, timestamp, integer, number, boolean"
        )
    ]
    assert any("only table employee imported; not: department" in n for n in res.notes)


def test_types_are_inferred_from_physical_type_when_logical_type_is_missing() -> None:
    res = imported("physical-only-v3.1.odcs.yaml")
    c = parse_contract(res.doc)
    assert {col.name: col.snowflake_type for col in c.columns} == {
        "ORDER_ID": "VARCHAR",
        "LINE_COUNT": "NUMBER(38,0)",
        "TOTAL": "NUMBER(12,2)",
        "SHIPPED": "BOOLEAN",
        "ORDERED_AT": "TIMESTAMP_NTZ",
        "ORDER_DAY": "DATE",
    }
    assert sum("inferred from physicalType" in n for n in res.notes) == 7
    assert any("PAYLOAD (logicalType object) not imported" in m for m in res.lossy)
    assert res.doc["x-odcs"]["team"] == {"name": "sales-data"}  # team.name is kept


def test_v3_0_date_with_a_timestamp_physical_type_is_a_timestamp_and_freshness_in_minutes() -> None:
    res = imported("freshness-v3.0.odcs.yaml", normalize_names=True)
    c = parse_contract(res.doc)
    assert c.product.domain == "IOT_TEAM" and res.doc["x-odcs"]["domain"] == "iot-team"
    assert c.column("READ_AT").snowflake_type == "TIMESTAMP_NTZ"
    assert (c.sla.freshness_column, c.sla.max_age_hours) == ("READ_AT", 1.5)  # 90 minutes
    assert c.column("SENSOR_CODE").pattern == "^[A-Z]{2}-[0-9]{3}$" and c.column("READING").minimum == 10
    assert res.lossy == []


def test_every_quality_rule_gets_a_valid_derived_name() -> None:
    res = imported("quality-rules-v3.1.odcs.yaml")
    c = parse_contract(res.doc)  # names match ^[a-z][a-z0-9_]*$ or this raises
    assert [(cc.name, cc.op, cc.expect, cc.severity) for cc in c.quality.custom] == [
        ("weight_kg_sql", "==", 0, "error"),  # a column-level SQL rule, {property} filled in
        ("shipments_rule_2", "<", 10, "error"),  # no name, no id: named by its position
        ("negative_weights", "==", 0, "warn"),
    ]
    assert "WEIGHT_KG > 1000" in c.quality.custom[0].sql and "{table}" in c.quality.custom[0].sql
    assert c.column("SHIPMENT_ID").unique and c.column("CARRIER").enum == ("dhl", "ups", "fedex")
    assert c.quality.max_null_pct == {"CARRIER": 5} and c.quality.row_count_min == 1


@pytest.mark.parametrize(
    ("name", "opts"),
    [
        ("full-v3.0.odcs.yaml", {"domain": "PAYMENTS", "normalize_names": True}),
        (
            "multi-table-v3.0.odcs.yaml",
            {"table": "employee", "normalize_names": True, "domain": "HR", "owner": "o"},
        ),
        ("physical-only-v3.1.odcs.yaml", {}),
        ("freshness-v3.0.odcs.yaml", {"normalize_names": True}),
        ("quality-rules-v3.1.odcs.yaml", {}),
    ],
)
def test_export_writes_the_kept_fields_back_as_valid_odcs_v3_1(name: str, opts: dict[str, Any]) -> None:
    first = from_odcs(odcs(name), name, ImportOptions(**opts)).doc
    out = to_odcs(copy.deepcopy(first), name)
    assert odcs_errors(out) == []
    again = from_odcs(load_yaml(dump_yaml(out), "again.yaml"), "again.yaml", ImportOptions(**opts))
    assert replace(parse_contract(again.doc), odcs_metadata="") == replace(
        parse_contract(first), odcs_metadata=""
    )
    third = from_odcs(load_yaml(dump_yaml(to_odcs(again.doc)), "3.yaml"), "3.yaml", ImportOptions(**opts))
    assert third.doc == again.doc  # and a fixed point: nothing is lost on the way
    if name.startswith("full"):
        table = out["schema"][0]
        assert table["physicalName"] == "daily_payments_v2" and out["id"].startswith("7d1c2f0e")
        assert {"property": "sourceName", "value": "daily_payments"} in table["customProperties"]


def test_cli_import_with_options_writes_a_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "v1.json"
    args = ["contract", "import", str(FIXTURES / "multi-table-v3.0.odcs.yaml"), "-o", str(out)]
    opts = ["--table", "employee", "--normalize-names", "--domain", "HR", "--owner", "hr@example.com"]
    assert run_app([*args, *opts]) == 2 and not out.exists()  # an object column: lossy
    assert "cannot be represented" in capsys.readouterr().err
    assert run_app([*args, *opts, "--allow-lossy"]) == 0
    err = capsys.readouterr().err
    assert "lost: schema[1].properties[3]: column salariedflag" in err
    assert json.loads(out.read_text())["x-product"]["domain"] == "HR"
