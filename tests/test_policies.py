"""Contract classification -> tags and tag-based masking policies, and proof 5 over them."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import pytest
import sqlglot
from fake_accounts import EnterpriseAccount
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


# --- compare, then apply: a second deploy sets nothing; a changed policy is UNSET, then SET -----

TAG = '"GOVERNANCE_DB"."CATALOG"."CLASSIFICATION"'
TYPES = ("VARCHAR", "NUMBER", "FLOAT", "BOOLEAN", "DATE", "TIMESTAMP_NTZ")



def _deploy(mesh, account, monkeypatch) -> tuple[list, list[str]]:
    import snowmesh.deploy.apply as apply_mod

    applied, said = [], []
    monkeypatch.setattr(apply_mod, "apply", lambda t, s, r, description="": applied.append(list(s)))
    reporter = SimpleNamespace(info=said.append, warn=lambda m: said.append("WARN " + m))
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    apply_governed(account, build_plan(mesh, local=False).statements, reporter)
    return applied[-1], said


def _tag_sql(stmts) -> list[str]:
    return [s.sql for s in stmts if s.sql.startswith("ALTER TAG ")]


def test_first_deploy_sets_every_tag_policy(mesh, monkeypatch) -> None:
    sent, said = _deploy(mesh, EnterpriseAccount([], []), monkeypatch)  # no tag yet: nothing is asked of it
    assert _tag_sql(sent) == [f'ALTER TAG {TAG} SET MASKING POLICY "GOVERNANCE_DB"."CATALOG"."MASK_{t}"'
                              for t in TYPES]
    assert said[-1] == "policies: Enterprise edition: 20 tag/masking statement(s) applied"  # 2 tags, 6 x 3


def test_second_deploy_sets_no_tag_policy(mesh, monkeypatch) -> None:
    account = EnterpriseAccount([("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION")],
                          [("GOVERNANCE_DB", "CATALOG", f"MASK_{t}") for t in TYPES])
    sent, said = _deploy(mesh, account, monkeypatch)
    assert _tag_sql(sent) == []
    asked = [q for q in account.ran if "POLICY_REFERENCES" in q]
    assert asked and all("REF_ENTITY_NAME => 'GOVERNANCE_DB.CATALOG.CLASSIFICATION', REF_ENTITY_DOMAIN => 'TAG'" in q
                         for q in asked)
    assert said[-1] == "policies: Enterprise edition: 14 tag/masking statement(s) applied, 6 tag policy(ies) already set"
    # The policies themselves still converge: CREATE IF NOT EXISTS, then SET BODY to the rendered body.
    bodies = [s.sql for s in sent if s.sql.startswith("ALTER MASKING POLICY")]
    assert len(bodies) == len(TYPES)


def test_a_changed_policy_is_unset_then_set(mesh, monkeypatch) -> None:
    # The account's tag holds an older VARCHAR policy (MASK_STRING) and the current other five.
    held = [("GOVERNANCE_DB", "CATALOG", "MASK_STRING")] + [("GOVERNANCE_DB", "CATALOG", f"MASK_{t}")
                                                            for t in TYPES if t != "VARCHAR"]
    sent, _ = _deploy(mesh, EnterpriseAccount([("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION")], held), monkeypatch)
    assert _tag_sql(sent) == [
        f'ALTER TAG {TAG} UNSET MASKING POLICY "GOVERNANCE_DB"."CATALOG"."MASK_STRING"',
        f'ALTER TAG {TAG} SET MASKING POLICY "GOVERNANCE_DB"."CATALOG"."MASK_VARCHAR"',
    ]
    sql = [s.sql for s in sent]
    last_policy = max(i for i, q in enumerate(sql) if q.startswith(("CREATE MASKING POLICY", "ALTER MASKING POLICY")))
    assert sql.index(_tag_sql(sent)[0]) > last_policy  # the policy exists before a tag points at it
    for q in _tag_sql(sent):
        assert sqlglot.parse_one(q, read="snowflake") is not None


def test_policy_body_is_set_on_every_deploy_and_matches_the_create(mesh) -> None:
    sql = [s.sql for s in build_plan(mesh, local=True).statements if s.kind == Kind.MASKING_POLICY]
    creates = {re.search(r'"(MASK_\w+)"', s).group(1): s for s in sql if s.startswith("CREATE MASKING POLICY")}
    alters = {re.search(r'"(MASK_\w+)"', s).group(1): s for s in sql if s.startswith("ALTER MASKING POLICY")}
    assert creates.keys() == alters.keys() == {f"MASK_{t}" for t in TYPES}
    for name, alter in alters.items():
        assert alter.startswith(f'ALTER MASKING POLICY "GOVERNANCE_DB"."CATALOG"."{name}" SET BODY -> CASE ')
        body = alter.split(" SET BODY -> ", 1)[1]
        assert body == creates[name].split(" -> ", 1)[1].split(" COMMENT = ")[0]
        assert isinstance(sqlglot.parse_one(body, read="snowflake"), exp.Case)
        assert sql.index(alter) == sql.index(creates[name]) + 1
