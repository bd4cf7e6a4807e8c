"""Contract version diff: consumer-side classification and the semver gate (pure, no server)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from contract_changes import V1, changed, kinds

from governance.diff import BREAKING, MINOR, PATCH, SemverError, bump_kind, diff_contracts

ROOT = Path(__file__).resolve().parents[1]


def rename_clicks(d: dict[str, Any]) -> None:
    d["properties"] = {("CLICK_COUNT" if k == "CLICKS" else k): v for k, v in d["properties"].items()}
    d["required"] = [("CLICK_COUNT" if k == "CLICKS" else k) for k in d["required"]]


def test_identical_contract_has_no_changes():
    diff = diff_contracts(V1, copy.deepcopy(V1))
    assert diff.changes == () and diff.required_bump == "none" and diff.semver_ok


def test_rename_is_one_breaking_change():
    diff = diff_contracts(V1, changed(rename_clicks, "2.0.0"))
    assert kinds(diff) == [("column_renamed", "CLICKS", BREAKING)]
    assert diff.changes[0].detail == "column CLICKS renamed to CLICK_COUNT"
    assert diff.required_bump == "major" and diff.semver_ok


def test_removed_column_is_breaking_and_added_optional_is_minor():
    def drop_ctr(d):
        del d["properties"]["CTR"]

    assert kinds(diff_contracts(V1, changed(drop_ctr))) == [("column_removed", "CTR", BREAKING)]

    def add_optional(d):
        d["properties"]["VIDEO_VIEWS"] = {"type": ["integer", "null"], "minimum": 0}

    diff = diff_contracts(V1, changed(add_optional, "1.1.0"))
    assert kinds(diff) == [("column_added", "VIDEO_VIEWS", MINOR)]
    assert diff.required_bump == "minor" and diff.semver_ok


def test_enum_value_added_is_breaking_removed_is_minor():
    def add_value(d):
        d["properties"]["CHANNEL"]["enum"].append("tv")

    def remove_value(d):
        d["properties"]["CHANNEL"]["enum"].remove("video")

    assert kinds(diff_contracts(V1, changed(add_value))) == [("enum_value_added", "CHANNEL", BREAKING)]
    diff = diff_contracts(V1, changed(remove_value))
    assert kinds(diff) == [("enum_value_removed", "CHANNEL", MINOR)]
    assert diff.changes[0].verify_on_data  # only if current data already meets it


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["required"].remove("CAMPAIGN_NAME"), ("not_null_dropped", "CAMPAIGN_NAME", BREAKING)),
        (
            lambda d: (d["required"].append("CTR"), d["properties"]["CTR"].update(type="number")),
            ("not_null_added", "CTR", MINOR),
        ),
        (lambda d: d["properties"]["CLICKS"].update(minimum=-10), ("minimum_loosened", "CLICKS", BREAKING)),
        (lambda d: d["properties"]["CLICKS"].update(minimum=1), ("minimum_tightened", "CLICKS", MINOR)),
        (lambda d: d["properties"]["CTR"].pop("maximum"), ("maximum_removed", "CTR", BREAKING)),
        (lambda d: d["properties"]["CTR"].update(maximum=0.5), ("maximum_tightened", "CTR", MINOR)),
        (
            lambda d: d["properties"]["CAMPAIGN_NAME"].update(maxLength=500),
            ("maxLength_loosened", "CAMPAIGN_NAME", BREAKING),
        ),
        (
            lambda d: d["properties"]["CAMPAIGN_ID"].pop("pattern"),
            ("pattern_changed", "CAMPAIGN_ID", BREAKING),
        ),
        (
            lambda d: d["properties"]["CAMPAIGN_ID"].update(pattern="^CMP-[0-9]+$"),
            ("pattern_changed", "CAMPAIGN_ID", BREAKING),
        ),
        (
            lambda d: d["properties"]["CAMPAIGN_NAME"].update(pattern="^[A-Z]"),
            ("pattern_added", "CAMPAIGN_NAME", MINOR),
        ),
        (
            lambda d: d["properties"]["SPEND_USD"].update({"x-snowflake-type": "NUMBER(18,2)"}),
            ("type_widened", "SPEND_USD", MINOR),
        ),
        (
            lambda d: d["properties"]["SPEND_USD"].update({"x-snowflake-type": "NUMBER(12,2)"}),
            ("type_changed", "SPEND_USD", BREAKING),
        ),
        (
            lambda d: d["properties"]["SPEND_USD"].update({"x-snowflake-type": "NUMBER(14,4)"}),
            ("type_changed", "SPEND_USD", BREAKING),
        ),
        (
            lambda d: d["properties"]["PERFORMANCE_DATE"].update(format="date-time"),
            ("type_changed", "PERFORMANCE_DATE", BREAKING),
        ),
        (
            lambda d: d["properties"]["CHANNEL"].update({"x-classification": "confidential"}),
            ("classification_changed", "CHANNEL", BREAKING),
        ),
        (lambda d: d["x-sla"].update(max_age_hours=48), ("max_age_hours_loosened", None, BREAKING)),
        (lambda d: d["x-sla"].update(max_age_hours=12), ("max_age_hours_tightened", None, MINOR)),
        (lambda d: d["x-sla"].update(schedule="0 3 * * *"), ("schedule_changed", None, PATCH)),
        (
            lambda d: d.update({"x-primary-key": ["CAMPAIGN_ID", "PERFORMANCE_DATE", "CHANNEL"]}),
            ("primary_key_changed", None, BREAKING),
        ),
        (lambda d: d.pop("x-primary-key"), ("primary_key_dropped", None, BREAKING)),
        (lambda d: d.update({"x-primary-key": ["CAMPAIGN_ID"]}), ("primary_key_tightened", None, MINOR)),
        (
            lambda d: d["properties"]["CAMPAIGN_ID"].update({"x-unique": True}),
            ("unique_added", "CAMPAIGN_ID", MINOR),
        ),
        (
            lambda d: d["x-quality"]["max_null_pct"].update(CPC_USD=80),
            ("max_null_pct_loosened", "CPC_USD", BREAKING),
        ),
        (lambda d: d["x-quality"].pop("row_count"), ("row_count_min_removed", None, BREAKING)),
        (
            lambda d: d["x-quality"].pop("custom"),
            ("custom_check_removed", None, PATCH),
        ),  # it was severity warn
        (
            lambda d: d["x-quality"]["custom"][0].update(severity="error"),
            ("custom_check_changed", None, MINOR),
        ),
        (lambda d: d.update(additionalProperties=True), ("closed_schema_dropped", None, BREAKING)),
        (lambda d: d["x-product"].update(owner="growth@example.com"), ("owner_changed", None, PATCH)),
        (
            lambda d: d["properties"]["CLICKS"].update(description="Paid clicks."),
            ("description_changed", "CLICKS", PATCH),
        ),
        (lambda d: d.update(description="Per campaign and day."), ("description_changed", None, PATCH)),
    ],
)
def test_classification(mutate, expected):
    assert kinds(diff_contracts(V1, changed(mutate))) == [expected]


def test_unique_dropped_is_breaking():
    ad_clicks = json.loads((ROOT / "contracts/marketing/ad_clicks/v1.json").read_text())
    new = copy.deepcopy(ad_clicks)
    del new["properties"]["CLICK_ID"]["x-unique"]
    assert kinds(diff_contracts(ad_clicks, new)) == [("unique_dropped", "CLICK_ID", BREAKING)]


def test_wrong_semver_bump_fails_with_the_reason():
    diff = diff_contracts(V1, changed(rename_clicks, "1.1.0"))
    assert not diff.semver_ok and diff.actual_bump == "minor" and diff.required_bump == "major"
    with pytest.raises(
        SemverError, match=r"1\.0\.0 -> 1\.1\.0 is a minor bump, but the changes need a major bump"
    ):
        diff.check_semver()
    with pytest.raises(SemverError, match="renamed to CLICK_COUNT"):
        diff.check_semver()


def test_owner_change_is_patch_and_needs_a_bump():
    def new_owner(d):
        d["x-product"]["owner"] = "growth@example.com"

    assert diff_contracts(V1, changed(new_owner, "1.0.1")).semver_ok
    unbumped = diff_contracts(V1, changed(new_owner))
    assert unbumped.required_bump == "patch" and not unbumped.semver_ok
    assert diff_contracts(V1, changed(new_owner, "2.0.0")).semver_ok  # a bigger bump is allowed


def test_minor_change_with_patch_bump_fails_and_downgrade_fails():
    def add_optional(d):
        d["properties"]["NOTE"] = {"type": ["string", "null"]}

    assert not diff_contracts(V1, changed(add_optional, "1.0.1")).semver_ok
    assert not diff_contracts(V1, changed(lambda d: None, "0.9.0")).semver_ok


def test_breaking_change_dominates_mixed_changes():
    def mixed(d):
        rename_clicks(d)
        d["x-product"]["owner"] = "x@example.com"
        d["properties"]["NOTE"] = {"type": ["string", "null"]}

    diff = diff_contracts(V1, changed(mixed, "2.0.0"))
    assert {c.klass for c in diff.changes} == {BREAKING, MINOR, PATCH}
    assert [c.kind for c in diff.breaking] == ["column_renamed"]
    assert diff.required_bump == "major" and diff.semver_ok


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("1.0.0", "2.0.0", "major"),
        ("1.2.3", "1.3.0", "minor"),
        ("1.2.3", "1.2.4", "patch"),
        ("1.2.3", "1.2.3", "none"),
        ("1.2.3", "1.2.2", "downgrade"),
        ("1.9.0", "1.10.0", "minor"),
    ],
)
def test_bump_kind(old, new, kind):
    assert bump_kind(old, new) == kind
