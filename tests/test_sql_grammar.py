"""Guards tests/sql_grammar.py itself: each grammar takes its documented form and rejects junk, so
"every statement fits a grammar" in the other tests can fail."""

from __future__ import annotations

import pytest
from sql_grammar import GRAMMARS, GrammarError, check, match

# One statement per grammar, in the form of the syntax section of the page the grammar cites.
DOCUMENTED = {
    "grant privileges": 'GRANT SELECT ON VIEW "D"."PRODUCTS"."V_V1" TO DATABASE ROLE "D"."CONSUMER_X"',
    "revoke privileges": 'REVOKE SELECT ON VIEW "D"."PRODUCTS"."V_V1" FROM DATABASE ROLE "D"."CONSUMER_X"',
    "grant ownership": 'GRANT OWNERSHIP ON PROCEDURE "D"."STAGING"."BUILD_P"() TO ROLE "D_ENGINEER"',
    "grant role": 'GRANT ROLE "ANALYST" TO ROLE "SYSADMIN"',
    "grant database role": 'GRANT DATABASE ROLE "D"."R" TO ROLE "ENGINEER"',
    "revoke database role": 'REVOKE DATABASE ROLE "D"."R" FROM ROLE "ENGINEER"',
    "create role": "CREATE ROLE IF NOT EXISTS \"ANALYST\" COMMENT = 'reads D'",
    "create database role": 'CREATE DATABASE ROLE IF NOT EXISTS "D"."R"',
    "create resource monitor": ('CREATE RESOURCE MONITOR IF NOT EXISTS "M" WITH CREDIT_QUOTA = 50 FREQUENCY = MONTHLY '
                                "START_TIMESTAMP = IMMEDIATELY TRIGGERS ON 80 PERCENT DO NOTIFY ON 100 PERCENT DO SUSPEND"),
    "alter warehouse set monitor": 'ALTER WAREHOUSE "WH" SET RESOURCE_MONITOR = "M"',
    "alter schema managed access": 'ALTER SCHEMA "D"."S" ENABLE MANAGED ACCESS',
    "create masking policy": ('CREATE MASKING POLICY IF NOT EXISTS "G"."C"."MASK_VARCHAR" AS (VAL VARCHAR) RETURNS VARCHAR '
                              "-> CASE WHEN IS_ROLE_IN_SESSION('ADMIN') THEN VAL ELSE NULL END"),
    "alter masking policy body": ('ALTER MASKING POLICY "G"."C"."MASK_NUMBER" SET BODY -> '
                                  "CASE WHEN CURRENT_ROLE() = 'ADMIN' THEN VAL ELSE NULL END"),
    "alter tag masking policy": 'ALTER TAG "G"."C"."T" SET MASKING POLICY "G"."C"."MASK_VARCHAR"',
    "alter view column tag": "ALTER VIEW \"D\".\"P\".\"V\" MODIFY COLUMN \"C\" SET TAG \"G\".\"C\".\"T\" = 'pii'",
    "create stream on view": "CREATE STREAM IF NOT EXISTS \"D\".\"S\".\"T\" ON VIEW \"D\".\"P\".\"V\" COMMENT = 'x'",
    "show tags": "SHOW TAGS LIKE 'CLASSIFICATION' IN ACCOUNT",
    "show grants": 'SHOW GRANTS ON SCHEMA "D"."PRODUCTS"',
    "show roles": "SHOW ROLES",
    "show database roles": 'SHOW DATABASE ROLES IN DATABASE "D"',
    "create table clone": 'CREATE OR REPLACE TABLE "D"."P"."T" CLONE "D"."S"."T" COPY GRANTS',
    "call": "CALL \"G\".\"C\".\"VALIDATE_PRODUCT\"('MARKETING.AD_CLICKS')",
}

JUNK = [
    "GRANT FOO BAR TO nowhere",  # the example: sqlglot makes it a Command
    'GRANT FOO ON TABLE "D"."S"."T" TO ROLE "R"',  # sqlglot's exp.Grant takes any privilege word
    'GRANT SELECT ON TABLE "D"."S"."T" TO "R"',  # no ROLE / DATABASE ROLE before the grantee
    'GRANT SELECT ON VIEW "D"."V" TO ROLE "R"',  # a view is a three-part name
    'GRANT SELECT ON VIEW "D"."P"."V" FROM ROLE "R"',  # GRANT ... FROM
    "GRANT ROLE analyst TO ROLE \"SYSADMIN\"",  # unquoted: the renderer never sends it
    'CREATE ROLE "A" "B"',
    'CREATE RESOURCE MONITOR "M" WITH CREDIT_QUOTA = fifty',
    'CREATE RESOURCE MONITOR "M" WITH CREDIT_QUOTA = 5 TRIGGERS ON 80 PERCENT DO EXPLODE',
    'ALTER WAREHOUSE "WH" SET RESOURCE_MONITOR "M"',
    'ALTER SCHEMA "D"."S" ENABLE MANAGED',
    'CREATE MASKING POLICY "G"."C"."M" AS (VAL VARCHAR) RETURNS NUMBER -> VAL',  # returns another type
    'CREATE MASKING POLICY "G"."C"."M" AS (VAL VARCHAR) RETURNS VARCHAR -> GRANT ALL',  # body not an expression
    'ALTER MASKING POLICY "G"."C"."M" SET BODY -> CASE WHEN THEN',
    'ALTER TAG "G"."C"."T" SET MASKING "G"."C"."M"',
    "ALTER VIEW \"D\".\"P\".\"V\" MODIFY COLUMN \"C\" SET TAG \"T\" = 'pii'",
    "SHOW TAGS LIKE CLASSIFICATION",
    "SHOW GRANTS ON NOTHING",
    'CREATE TABLE "D"."S"."T" CLONE',
    'CALL "P"(',
    "DROP EVERYTHING NOW",
]


def test_every_grammar_cites_a_snowflake_reference_page() -> None:
    assert {g.name for g in GRAMMARS} == set(DOCUMENTED)
    assert all(g.doc.startswith("https://docs.snowflake.com/en/sql-reference/sql/") for g in GRAMMARS)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_each_grammar_takes_its_documented_form(name: str) -> None:
    assert match(DOCUMENTED[name]) == name


@pytest.mark.parametrize("sql", JUNK)
def test_junk_fits_no_grammar(sql: str) -> None:
    assert match(sql) is None
    with pytest.raises(GrammarError):
        check(sql)


def test_statements_sqlglot_models_are_trees() -> None:
    assert check('CREATE TABLE IF NOT EXISTS "D"."S"."T" ("A" VARCHAR NOT NULL)') == "sqlglot:Create"
    assert check('SELECT COUNT(*) FROM "D"."S"."T"') == "sqlglot:Select"
    assert check('SHOW SCHEMAS IN DATABASE "D"') == "sqlglot:Show"
    assert match("CREATE TABLE FOO BAR BAZ") is None  # sqlglot's Command, and no grammar for it
