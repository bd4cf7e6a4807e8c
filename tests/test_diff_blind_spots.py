"""``mesh contract diff``: the cases a corpus of real contract changes found wrong (issue 14).

Unreadable files, title changes, a renamed column's other changes, combined bounds, the
deprecation date, rename pairing, and the documented JSON output (validated against its schema).
Pure or CLI-only: no server starts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from contract_changes import V1, changed, kinds

from governance.diff import BREAKING, MINOR, PATCH, diff_contracts
from snowmesh.cli.main import run_app

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "procedures/governance/diff_output.schema.json").read_text())


def write(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def cli(*args: str) -> int:
    return run_app(["contract", "diff", *map(str, args)])


def rename(d: dict[str, Any], old: str, new: str) -> None:
    d["properties"] = {(new if k == old else k): v for k, v in d["properties"].items()}
    d["required"] = [(new if k == old else k) for k in d["required"]]


# --------------------------------------------------------------------------- unreadable files


@pytest.mark.parametrize(
    "content",
    [
        b'{"title": "CAF\xc9"}',  # Latin-1, not UTF-8
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",  # binary
    ],
    ids=["latin-1", "binary"],
)
def test_unreadable_contract_file_is_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    bad = tmp_path / "new.json"
    bad.write_bytes(content)
    good = write(tmp_path, "old.json", V1)
    assert cli(good, bad) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "UnicodeDecodeError" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and str(bad) in lines[0] and "UTF-8" in lines[0], err
    assert not any("hint" not in line and str(bad) in line for line in lines[1:]), err  # said once


def test_json_format_writes_an_error_object_on_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "new.json"
    bad.write_bytes(b"\xff\xfe{}")
    assert cli(write(tmp_path, "old.json", V1), bad, "--format", "json") == 2
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, SCHEMA)
    assert out["verdict"] == "bad input" and out["exit_code"] == 2 and str(bad) in out["error"]["message"]


# --------------------------------------------------------------------------- title


def test_title_change_is_bad_input_like_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = write(tmp_path, "new.json", changed(lambda d: d.update(title="CAMPAIGN_STATS"), "1.0.1"))
    assert cli(write(tmp_path, "old.json", V1), new) == 2
    err = capsys.readouterr().err
    assert f"{new}: $.title: title 'CAMPAIGN_STATS' is not the product name 'CAMPAIGN_PERFORMANCE'" in err


def test_title_renamed_with_the_product_is_breaking() -> None:
    def both(d: dict[str, Any]) -> None:
        d["title"] = d["x-product"]["name"] = "CAMPAIGN_STATS"

    diff = diff_contracts(V1, changed(both, "1.0.1"))
    assert ("title_changed", None, BREAKING) in kinds(diff)
    assert ("product_renamed", None, BREAKING) in kinds(diff)
    assert diff.required_bump == "major" and not diff.semver_ok


def test_title_change_alone_is_never_a_patch() -> None:
    diff = diff_contracts(V1, changed(lambda d: d.update(title="CAMPAIGN_STATS")))
    assert kinds(diff) == [("title_changed", None, BREAKING)]


# --------------------------------------------------------------------------- renamed columns


def test_renamed_column_reports_its_other_changes() -> None:
    def edit(d: dict[str, Any]) -> None:
        rename(d, "CHANNEL", "CHANNEL_NAME")
        d["required"].remove("CHANNEL_NAME")  # required -> optional
        d["properties"]["CHANNEL_NAME"]["type"] = ["string", "null"]
        d["properties"]["CHANNEL_NAME"]["enum"].append("tv")  # an added enum value
        d["properties"]["CHANNEL_NAME"]["x-classification"] = "confidential"  # raised
        rename(d, "SPEND_USD", "SPEND")
        d["properties"]["SPEND"]["x-snowflake-type"] = "NUMBER(12,2)"  # narrowed precision

    diff = diff_contracts(V1, changed(edit, "2.0.0"))
    got = {(c.kind, c.column, c.new_column, c.klass) for c in diff.changes}
    assert got == {
        ("column_renamed", "CHANNEL", "CHANNEL_NAME", BREAKING),
        ("not_null_dropped", "CHANNEL", "CHANNEL_NAME", BREAKING),
        ("enum_value_added", "CHANNEL", "CHANNEL_NAME", BREAKING),
        ("classification_changed", "CHANNEL", "CHANNEL_NAME", BREAKING),
        ("column_renamed", "SPEND_USD", "SPEND", BREAKING),
        ("type_changed", "SPEND_USD", "SPEND", BREAKING),
    }
    details = [c.detail for c in diff.changes]
    assert "CHANNEL (renamed to CHANNEL_NAME): enum value(s) ['tv'] added" in details
    assert "SPEND_USD (renamed to SPEND): type NUMBER(14,2) -> NUMBER(12,2)" in details


def test_rename_needs_a_similar_name_and_a_compatible_type() -> None:
    def unrelated(d: dict[str, Any]) -> None:  # same type, unrelated name: a removal and an addition
        rename(d, "CLICKS", "ORDER_LINES")

    assert kinds(diff_contracts(V1, changed(unrelated))) == [
        ("column_removed", "CLICKS", BREAKING),
        ("column_added", "ORDER_LINES", MINOR),
    ]

    def retyped(d: dict[str, Any]) -> None:  # similar name, incompatible type (integer -> string)
        rename(d, "CLICKS", "CLICK_COUNT")
        d["properties"]["CLICK_COUNT"] = {"type": "string"}

    assert [k for k, _, _ in kinds(diff_contracts(V1, changed(retyped)))] == [
        "column_removed",
        "column_added",
    ]


def test_two_added_columns_competing_for_one_removed_column_are_reported_as_ambiguous() -> None:
    def edit(d: dict[str, Any]) -> None:
        rename(d, "CLICKS", "CLICK_COUNT")
        d["properties"]["CLICKS_TOTAL"] = {"type": "integer", "minimum": 0}
        d["required"].append("CLICKS_TOTAL")

    diff = diff_contracts(V1, changed(edit, "2.0.0"))
    ambiguous = [c for c in diff.changes if c.kind == "column_rename_ambiguous"]
    assert len(ambiguous) == 1 and ambiguous[0].klass == BREAKING and ambiguous[0].column == "CLICKS"
    assert set(ambiguous[0].candidates) == {"CLICK_COUNT", "CLICKS_TOTAL"}
    assert not any(c.kind == "column_renamed" for c in diff.changes)  # no guess
    assert {c.column for c in diff.changes if c.kind == "column_added"} == {"CLICK_COUNT", "CLICKS_TOTAL"}


# --------------------------------------------------------------------------- combined bounds


@pytest.mark.parametrize(
    ("column", "old", "new", "expected"),
    [
        # CTR is a number: > 0 admits less than >= 0
        ("CTR", {"minimum": 0}, {"exclusiveMinimum": 0}, ("minimum_tightened", MINOR)),
        ("CTR", {"exclusiveMinimum": 0}, {"minimum": 0}, ("minimum_loosened", BREAKING)),
        ("CTR", {"maximum": 1}, {"exclusiveMaximum": 1}, ("maximum_tightened", MINOR)),
        ("CTR", {"exclusiveMaximum": 1}, {"maximum": 1.5}, ("maximum_loosened", BREAKING)),
        ("CTR", {"minimum": 0}, {"minimum": 0, "exclusiveMinimum": 0}, ("minimum_tightened", MINOR)),
        ("CTR", {"minimum": 0, "exclusiveMinimum": 0}, {"exclusiveMinimum": 0}, ("minimum_rewritten", PATCH)),
        ("CTR", {"exclusiveMinimum": 0}, {}, ("minimum_removed", BREAKING)),
        # CLICKS is an integer: > 0 is >= 1
        ("CLICKS", {"minimum": 0}, {"exclusiveMinimum": 0}, ("minimum_tightened", MINOR)),
        ("CLICKS", {"minimum": 1}, {"exclusiveMinimum": 0}, ("minimum_rewritten", PATCH)),
        ("CLICKS", {"minimum": 2}, {"exclusiveMinimum": 0}, ("minimum_loosened", BREAKING)),
        ("CLICKS", {"maximum": 10}, {"exclusiveMaximum": 10}, ("maximum_tightened", MINOR)),
    ],
)
def test_lower_and_upper_bounds_are_compared_combined(column, old, new, expected) -> None:
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")

    def base(d: dict[str, Any]) -> None:
        for k in keys:
            d["properties"][column].pop(k, None)
        d["properties"][column].update(old)

    def edit(d: dict[str, Any]) -> None:
        base(d)
        for k in keys:
            d["properties"][column].pop(k, None)
        d["properties"][column].update(new)

    diff = diff_contracts(changed(base), changed(edit))
    assert kinds(diff) == [(expected[0], column, expected[1])]


def test_bound_detail_names_both_combined_bounds() -> None:
    diff = diff_contracts(
        V1,
        changed(
            lambda d: (
                d["properties"]["CTR"].pop("minimum"),
                d["properties"]["CTR"].update(exclusiveMinimum=0),
            )
        ),
    )
    assert [c.detail for c in diff.changes] == ["CTR: lower bound >= 0 -> > 0"]
    assert diff.changes[0].verify_on_data


# --------------------------------------------------------------------------- deprecation date


def test_deprecation_date_change_is_a_patch_naming_the_date() -> None:
    old = changed(lambda d: d["x-product"].update(status="deprecated", deprecation_date="2027-01-31"))
    new = copy.deepcopy(old)
    new["x-product"].update(deprecation_date="2027-03-31", version="1.0.1")
    diff = diff_contracts(old, new)
    assert kinds(diff) == [("deprecation_date_changed", None, PATCH)]
    assert "2027-01-31" in diff.changes[0].detail and "2027-03-31" in diff.changes[0].detail
    assert diff.semver_ok
    assert not diff_contracts(old, {**new, "x-product": {**new["x-product"], "version": "1.0.0"}}).semver_ok


# --------------------------------------------------------------------------- JSON output


def test_json_output_validates_against_its_schema_and_names_the_new_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(d: dict[str, Any]) -> None:
        rename(d, "CLICKS", "CLICK_COUNT")
        d["properties"]["CLICK_COUNT"]["minimum"] = 1
        d["x-product"]["deprecation_date"] = "2027-01-31"

    old, new = write(tmp_path, "old.json", V1), write(tmp_path, "new.json", changed(edit, "2.0.0"))
    assert cli(old, new, "--format", "json") == 1  # breaking, not allowed
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, SCHEMA)
    rename_change = next(c for c in out["changes"] if c["kind"] == "column_renamed")
    assert rename_change["column"] == "CLICKS" and rename_change["new_column"] == "CLICK_COUNT"
    assert {c["kind"] for c in out["changes"]} == {
        "column_renamed",
        "minimum_tightened",
        "deprecation_date_changed",
    }
    assert out["verdict"] == "breaking" and out["exit_code"] == 1 and out["required_bump"] == "major"
    assert cli(old, new, "--format", "json", "--allow-breaking") == 0
    allowed = json.loads(capsys.readouterr().out)
    jsonschema.validate(allowed, SCHEMA)
    assert allowed["verdict"] == "compatible"


def test_every_change_kind_the_engine_emits_is_in_the_schema() -> None:
    """A corpus of edits: each kind the diff reports must be in the documented vocabulary."""
    vocabulary = set(SCHEMA["$defs"]["change"]["properties"]["kind"]["enum"])
    edits: list[Callable[[dict[str, Any]], Any]] = [
        lambda d: d["properties"]["CHANNEL"]["enum"].append("tv"),
        lambda d: d["properties"]["CHANNEL"].pop("enum"),
        lambda d: d["properties"]["CAMPAIGN_NAME"].update(maxLength=100),
        lambda d: d["properties"]["CAMPAIGN_NAME"].update(pattern="^[A-Z]"),
        lambda d: d["properties"]["CLICKS"].update({"x-unique": True, "x-tags": ["kpi"]}),
        lambda d: d.update({"x-tags": ["marketing"], "additionalProperties": True}),
        lambda d: d["x-product"].update(description="x", tags=["y"], status="deprecated"),
        lambda d: d["x-quality"].update(max_duplicate_pct={"CAMPAIGN_ID": 5}, row_count={"min": 2, "max": 9}),
        lambda d: d["x-quality"]["custom"][0].update(description="why"),
        lambda d: d["x-sla"].update(freshness_column="PERFORMANCE_DATE"),
        lambda d: d.pop("x-sla"),
        lambda d: d.update({"x-primary-key": ["PERFORMANCE_DATE", "CAMPAIGN_ID"]}),
    ]
    seen = {c.kind for edit in edits for c in diff_contracts(V1, changed(edit)).changes}
    assert len(seen) >= 15
    assert seen <= vocabulary, seen - vocabulary


def test_x_odcs_metadata_change_is_a_patch() -> None:
    old = changed(lambda d: d.update({"x-odcs": {"servers": [{"server": "a"}]}}))
    new = changed(lambda d: d.update({"x-odcs": {"servers": [{"server": "b"}]}}), "1.0.1")
    diff = diff_contracts(old, new)
    assert kinds(diff) == [("odcs_metadata_changed", None, PATCH)] and diff.semver_ok
    column = changed(lambda d: d["properties"]["CLICKS"].update({"x-odcs": {"businessName": "clicks"}}))
    assert kinds(diff_contracts(V1, column)) == [("odcs_metadata_changed", None, PATCH)]
