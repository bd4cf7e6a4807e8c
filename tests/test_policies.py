"""Contract classification -> tags and tag-based masking policies, and proof 5 over them.

Guards: masking tags on every protected column, compare-then-apply of tag policies, and the fake
Enterprise account (tests/fake_accounts.py) answering as Snowflake documents."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import pytest
import sqlglot
from fake_accounts import COLUMNS, EnterpriseAccount, like
from sql_grammar import check_all
from sqlglot import exp

from snowmesh.access.policies import check_policies, served_statements
from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.procedure_rights import publish_statements
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
    fitted = check_all(sql)
    assert fitted == {"sqlglot:Create": 3, "create masking policy": 6, "alter masking policy body": 6,
                      "alter tag masking policy": 6}, fitted
    for s in policies:  # the policy body itself is a real expression tree
        body = s.split(" -> ", 1)[1].split(" COMMENT = ")[0]
        assert isinstance(sqlglot.parse_one(body, read="snowflake"), exp.Case), body
        # The role name as stored, no embedded quotes (docs.snowflake.com/en/sql-reference/functions/is_role_in_session).
        assert "IS_ROLE_IN_SESSION('GOVERNANCE_UNMASK')" in body and "'\"" not in body
        assert ("SYSTEM$GET_TAG_ON_CURRENT_COLUMN('GOVERNANCE_DB.CATALOG.DATA_DOMAIN') = 'MARKETING' "
                "AND IS_ROLE_IN_SESSION('MARKETING_ENGINEER') THEN VAL") in body


def test_confidential_columns_of_published_views_are_tagged(mesh) -> None:
    p = mesh.product("CAMPAIGN_PERFORMANCE")
    tags = [s.sql for s in publish_statements(mesh, p) if s.kind == Kind.TAG]
    assert ('ALTER VIEW "MARKETING_DB"."PRODUCTS"."CAMPAIGN_PERFORMANCE_V1" MODIFY COLUMN "SPEND_USD" SET TAG '
            "\"GOVERNANCE_DB\".\"CATALOG\".\"CLASSIFICATION\" = 'confidential', "
            "\"GOVERNANCE_DB\".\"CATALOG\".\"DATA_DOMAIN\" = 'MARKETING', "
            "\"GOVERNANCE_DB\".\"CATALOG\".\"UNMASK_FOR\" = ',FINANCE,'") in tags  # the contract's allow-list
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
    assert said[-1] == "policies: Enterprise edition: 21 tag/masking statement(s) applied"  # 3 tags, 6 x 3


def test_second_deploy_sets_no_tag_policy(mesh, monkeypatch) -> None:
    account = EnterpriseAccount([("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION")],
                          [("GOVERNANCE_DB", "CATALOG", f"MASK_{t}") for t in TYPES])
    sent, said = _deploy(mesh, account, monkeypatch)
    assert _tag_sql(sent) == []
    asked = [q for q in account.ran if "POLICY_REFERENCES" in q]
    assert asked and all("REF_ENTITY_NAME => 'GOVERNANCE_DB.CATALOG.CLASSIFICATION', REF_ENTITY_DOMAIN => 'TAG'" in q
                         for q in asked)
    assert said[-1] == "policies: Enterprise edition: 15 tag/masking statement(s) applied, 6 tag policy(ies) already set"
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
    assert check_all(_tag_sql(sent)) == {"alter tag masking policy": 2}


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


# --- the fake account answers as Snowflake documents (tests/fake_accounts.py) -------------------


def test_fake_policy_references_depends_on_its_arguments() -> None:
    """POLICY_REFERENCES(REF_ENTITY_NAME, REF_ENTITY_DOMAIN => 'TAG'): the policies on *that* tag
    only, in the documented columns (docs.snowflake.com/en/sql-reference/functions/policy_references)."""
    from snowmesh.policies import attached_policies_sql

    cls, other = ("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION"), ("GOVERNANCE_DB", "CATALOG", "DATA_DOMAIN")
    account = EnterpriseAccount([cls, other], {cls: [("GOVERNANCE_DB", "CATALOG", "MASK_VARCHAR")], other: []})
    assert account.sql(attached_policies_sql(cls)) == [("GOVERNANCE_DB", "CATALOG", "MASK_VARCHAR")]
    assert account.sql(attached_policies_sql(other)) == []
    assert account.sql(attached_policies_sql(("GOVERNANCE_DB", "CATALOG", "NOPE"))) == []
    everything = account.sql(attached_policies_sql(cls).replace("SELECT POLICY_DB, POLICY_SCHEMA, POLICY_NAME",
                                                                "SELECT " + ", ".join(COLUMNS)))
    assert len(everything) == 1 and dict(zip(COLUMNS, everything[0], strict=True))["TAG_NAME"] == "CLASSIFICATION"
    # A filter on another kind finds nothing; an undocumented column or domain is refused, not guessed.
    assert account.sql(attached_policies_sql(cls).replace("'MASKING_POLICY'", "'ROW_ACCESS_POLICY'")) == []
    with pytest.raises(AssertionError):
        account.sql(attached_policies_sql(cls).replace("POLICY_NAME FROM", "POLICY_OWNER FROM"))
    with pytest.raises(AssertionError):
        account.sql(attached_policies_sql(cls).replace("=> 'TAG'", "=> 'BUCKET'"))


def test_fake_show_tags_applies_like_as_documented() -> None:
    """SHOW TAGS LIKE: case-insensitive, % and _ (docs.snowflake.com/en/sql-reference/sql/show-tags);
    columns created_on, name, database_name, schema_name, owner, comment, allowed_values, owner_role_type."""
    assert like("class%", "CLASSIFICATION") and like("CLASSIFICATIO_", "CLASSIFICATION")
    assert not like("CLASS", "CLASSIFICATION") and not like("DATA%", "CLASSIFICATION")
    account = EnterpriseAccount([("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION"), ("OTHER_DB", "S", "CLASSIFIER")], [])
    rows = account.sql("SHOW TAGS LIKE 'CLASSIFICATION' IN ACCOUNT")
    assert [(r[1], r[2], r[3]) for r in rows] == [("CLASSIFICATION", "GOVERNANCE_DB", "CATALOG")]
    assert len(account.sql("SHOW TAGS LIKE 'class%' IN ACCOUNT")) == 2 and len(rows[0]) == 8


def test_fake_applies_tag_policies_and_grants_it_is_sent() -> None:
    """SET then UNSET changes what POLICY_REFERENCES answers; a GRANT shows in SHOW GRANTS ON its object
    (docs.snowflake.com/en/sql-reference/sql/show-grants: created_on, privilege, granted_on, name,
    granted_to, grantee_name, grant_option, granted_by); read_only refuses both, through any path."""
    from snowmesh.policies import attached_policies_sql

    cls = ("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION")
    account = EnterpriseAccount([cls], [])
    account.sql(f'ALTER TAG {TAG} SET MASKING POLICY "GOVERNANCE_DB"."CATALOG"."MASK_DATE"')
    assert account.sql(attached_policies_sql(cls)) == [("GOVERNANCE_DB", "CATALOG", "MASK_DATE")]
    account.sql(f'ALTER TAG {TAG} UNSET MASKING POLICY "GOVERNANCE_DB"."CATALOG"."MASK_DATE"')
    assert account.sql(attached_policies_sql(cls)) == []
    view = '"D"."PRODUCTS"."V_V1"'
    assert account.sql(f"SHOW GRANTS ON VIEW {view}") == []
    account.sql(f'GRANT SELECT ON VIEW {view} TO DATABASE ROLE "D"."CONSUMER_X"')
    assert [r[1:6] for r in account.sql(f"SHOW GRANTS ON VIEW {view}")] == [
        ("SELECT", "VIEW", "D.PRODUCTS.V_V1", "DATABASE_ROLE", "D.CONSUMER_X")]
    assert account.sql('SHOW GRANTS ON VIEW "D"."PRODUCTS"."OTHER"') == []
    frozen = EnterpriseAccount([cls], [], read_only=True)
    before = frozen.snapshot()
    for attempt in (lambda: frozen.sql(f'GRANT SELECT ON VIEW {view} TO ROLE "R"'),
                    lambda: frozen.conn.cursor().executemany('INSERT INTO "D"."S"."T" ("A") VALUES (%s)', [(1,)])):
        with pytest.raises(AssertionError, match="a dry run sent a change"):
            attempt()
    assert frozen.snapshot() == before
    with pytest.raises(AssertionError, match="fits no Snowflake grammar"):
        account.sql("GRANT FOO BAR TO nowhere")
