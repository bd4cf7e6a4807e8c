"""Contract classification -> tags and tag-based masking policies, and proof 5 over them."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import pytest
import sqlglot
from sqlglot import exp

from snowmesh.access.policies import check_policies, served_statements
from snowmesh.deploy.plan import build_plan, publish_statements
from snowmesh.deploy.statements import Kind
from snowmesh.manifest import load_mesh
from snowmesh.policies import apply_governed, detect_edition, split_governed


@pytest.fixture(scope="module")
def mesh():
    return load_mesh(".")


def test_account_policies_are_rendered_and_parse(mesh) -> None:
    plan = build_plan(mesh, local=True)
    gov = [s for s in plan.statements if s.kind in (Kind.TAG, Kind.MASKING_POLICY)]
    sql = [s.sql for s in gov]
    assert sql[0].startswith('CREATE TAG IF NOT EXISTS "GOVERNANCE_DB"."CATALOG"."CLASSIFICATION" ALLOWED_VALUES '
                             "'confidential', 'restricted', 'pii'")
    policies = [s for s in sql if s.startswith("CREATE MASKING POLICY")]
    assert {re.search(r"AS \(VAL (\w+)\)", s).group(1) for s in policies} == {
        "VARCHAR", "NUMBER", "FLOAT", "BOOLEAN", "DATE", "TIMESTAMP_NTZ"}
    assert all(not s.locally_executable for s in gov)  # recorded on the local account, never pretended
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    for s in sql:
        assert sqlglot.parse_one(s, read="snowflake") is not None
    for s in policies:  # the policy body itself is a real expression tree
        body = s.split(" -> ", 1)[1].split(" COMMENT = ")[0]
        assert isinstance(sqlglot.parse_one(body, read="snowflake"), exp.Case), body
        assert "IS_ROLE_IN_SESSION('\"GOVERNANCE_UNMASK\"')" in body
        assert ("SYSTEM$GET_TAG_ON_CURRENT_COLUMN('GOVERNANCE_DB.CATALOG.DATA_DOMAIN') = 'MARKETING' "
                "AND IS_ROLE_IN_SESSION('\"MARKETING_ENGINEER\"') THEN VAL") in body


def test_confidential_columns_of_published_views_are_tagged(mesh) -> None:
    p = mesh.product("CAMPAIGN_PERFORMANCE")
    tags = [s.sql for s in publish_statements(mesh, p) if s.kind == Kind.TAG]
    assert ('ALTER VIEW "MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE_V1" MODIFY COLUMN "SPEND_USD" SET TAG '
            "\"GOVERNANCE_DB\".\"CATALOG\".\"CLASSIFICATION\" = 'confidential', "
            "\"GOVERNANCE_DB\".\"CATALOG\".\"DATA_DOMAIN\" = 'MARKETING'") in tags
    assert len(tags) == 3  # SPEND_USD, CLICK_COST_USD, CPC_USD; internal and public columns stay clear


def test_proof_5_holds_for_the_real_mesh(mesh) -> None:
    result = check_policies(mesh)
    assert result.ok, [v.message for v in result.violations]
    assert any("FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1.REVENUE_USD" in f for f in result.proven)


def test_proof_5_catches_an_untagged_column_and_a_missing_type(mesh) -> None:
    stmts = served_statements(mesh)
    untagged = [s for s in stmts if '"COST_USD" SET TAG' not in s.sql]
    r = check_policies(mesh, untagged)
    assert not r.ok and any("AD_CLICKS_V1.COST_USD is confidential" in v.message for v in r.violations)
    no_number = [s for s in stmts if not s.sql.endswith('"MASK_NUMBER"')]
    r = check_policies(mesh, no_number)
    assert any("has no masking policy for NUMBER" in v.message for v in r.violations)


class _Target:
    def __init__(self, error: str | None) -> None:
        self.is_local, self.error, self.ran = False, error, []

    def sql(self, text: str):
        self.ran.append(text)
        if self.error and text.startswith("SHOW TAGS"):
            raise RuntimeError(self.error)
        return []


def test_edition_detection_and_what_is_applied(mesh) -> None:
    assert detect_edition(SimpleNamespace(is_local=True)) == "local"
    assert detect_edition(_Target(None)) == "enterprise"
    assert detect_edition(_Target("002003: Unsupported feature 'TAG'")) == "standard"
    with pytest.raises(RuntimeError):
        detect_edition(_Target("Insufficient privileges"))
    stmts = build_plan(mesh, local=False).statements
    keep, skipped = split_governed(stmts, "standard")
    assert skipped and not [s for s in keep if s.kind in (Kind.TAG, Kind.MASKING_POLICY)]
    assert split_governed(stmts, "enterprise") == (stmts, [])


def test_apply_governed_says_what_happened(monkeypatch, mesh) -> None:
    import snowmesh.deploy.apply as apply_mod

    applied, said = [], []
    monkeypatch.setattr(apply_mod, "apply", lambda t, s, r, description="": applied.append(list(s)))
    reporter = SimpleNamespace(info=said.append, warn=lambda m: said.append("WARN " + m))
    stmts = build_plan(mesh, local=False).statements
    apply_governed(_Target("Unsupported feature"), stmts, reporter)
    assert said[-1].startswith("WARN policies: Standard edition") and len(applied[-1]) < len(stmts)
    apply_governed(_Target(None), stmts, reporter)
    assert "Enterprise edition" in said[-1] and len(applied[-1]) == len(stmts)
