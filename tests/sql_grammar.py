"""Does a statement fit Snowflake's grammar? One check for every statement the tests see sent.

sqlglot's Snowflake dialect models tables, views, schemas, warehouses, COPY and queries as real
syntax trees, but turns any GRANT, REVOKE, CREATE ROLE, MASKING POLICY, RESOURCE MONITOR, ALTER
or SHOW text it does not know into an opaque ``exp.Command`` -- ``'GRANT FOO BAR TO nowhere'``
"parses". So :func:`check` accepts a statement only if

1. it is not a GRANT/REVOKE and sqlglot builds a tree that is not a ``Command`` (sqlglot's own
   ``exp.Grant`` takes any word as a privilege, so grants never take this path), or
2. it fits one of the small grammars below, each written from the syntax section of the
   Snowflake SQL reference page cited next to it (only the forms the project renders, with
   the project's always-quoted identifiers; a form we do not send is not accepted).

A statement fitting neither fails with :class:`GrammarError`. Imported by tests, not a test;
tests/test_sql_grammar.py shows each grammar accepting its documented form and rejecting junk.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

DOCS = "https://docs.snowflake.com/en/sql-reference/sql/"

# Tokens. The renderer quotes every identifier (governance.sql.ident): plain upper-case names only.
Q = r'"[A-Z_][A-Z0-9_$]*"'
N2 = rf"{Q}\.{Q}"
N3 = rf"{Q}\.{Q}\.{Q}"
STR = r"'(?:[^']|'')*'"
COMMENT = rf"(?: COMMENT = {STR})?"
INE = r"(?:IF NOT EXISTS )?"
IE = r"(?:IF EXISTS )?"
TYPE = r"(?:VARCHAR|NUMBER|FLOAT|BOOLEAN|DATE|TIMESTAMP_NTZ|TIMESTAMP_LTZ|TIMESTAMP_TZ|VARIANT)"

# GRANT <privileges> ... TO ROLE: privileges by object kind, from the page's privilege lists.
_CREATE_OBJ = (r"CREATE (?:SCHEMA|TABLE|VIEW|STAGE|FILE FORMAT|PROCEDURE|FUNCTION|TASK|SEQUENCE|PIPE|STREAM"
               r"|TAG|MASKING POLICY|DATABASE ROLE)")
_PRIV = rf"(?:USAGE|OPERATE|MONITOR|MODIFY|SELECT|INSERT|UPDATE|DELETE|TRUNCATE|REFERENCES|READ|WRITE|APPLY|{_CREATE_OBJ})"
_PRIVS = rf"{_PRIV}(?:, {_PRIV})*"
_PROC_ARGS = rf"\((?:{TYPE}(?:, {TYPE})*)?\)"
_ON_OBJECT = (
    rf"(?:(?:DATABASE|WAREHOUSE|INTEGRATION|RESOURCE MONITOR) {Q}"
    rf"|SCHEMA {N2}"
    rf"|(?:TABLE|VIEW|STAGE|FILE FORMAT|TAG|MASKING POLICY) {N3}"
    rf"|(?:PROCEDURE|FUNCTION) {N3}{_PROC_ARGS}"
    rf"|(?:ALL|FUTURE) (?:TABLES|VIEWS|SCHEMAS|STAGES|PROCEDURES|FUNCTIONS) IN (?:SCHEMA {N2}|DATABASE {Q}))"
)
_GRANTEE = rf"(?:ROLE {Q}|DATABASE ROLE {N2})"


@dataclass(frozen=True)
class Grammar:
    name: str
    doc: str  # the Snowflake SQL reference page the pattern is written from
    pattern: re.Pattern[str]


def _g(name: str, page: str, pattern: str) -> Grammar:
    return Grammar(name, DOCS + page, re.compile(pattern))


GRAMMARS: tuple[Grammar, ...] = (
    # GRANT { schemaPrivileges | schemaObjectPrivileges ... } ON { <object> | ALL | FUTURE ... } TO { ROLE | DATABASE ROLE }
    _g("grant privileges", "grant-privilege",
       rf"GRANT {_PRIVS} ON {_ON_OBJECT} TO {_GRANTEE}(?: WITH GRANT OPTION)?"),
    # REVOKE [ GRANT OPTION FOR ] <privileges> ON ... FROM { ROLE | DATABASE ROLE } [ RESTRICT | CASCADE ]
    _g("revoke privileges", "revoke-privilege",
       rf"REVOKE {_PRIVS} ON {_ON_OBJECT} FROM {_GRANTEE}(?: (?:RESTRICT|CASCADE))?"),
    # GRANT OWNERSHIP ON <object_type> <object_name> TO { ROLE <role_name> | DATABASE ROLE <name> }
    #   [ { REVOKE | COPY } CURRENT GRANTS ]   (the plan transfers shipped procedures to their owners)
    _g("grant ownership", "grant-ownership",
       rf"GRANT OWNERSHIP ON {_ON_OBJECT} TO {_GRANTEE}(?: (?:REVOKE|COPY) CURRENT GRANTS)?"),
    # GRANT ROLE <name> TO { ROLE <parent_role_name> | USER <user_name> }
    _g("grant role", "grant-role", rf"GRANT ROLE {Q} TO (?:ROLE|USER) {Q}"),
    # GRANT DATABASE ROLE <name> TO { DATABASE ROLE <parent> | ROLE <parent> }
    _g("grant database role", "grant-database-role", rf"GRANT DATABASE ROLE {N2} TO {_GRANTEE}"),
    # REVOKE DATABASE ROLE <name> FROM { DATABASE ROLE <parent> | ROLE <parent> }
    _g("revoke database role", "revoke-database-role", rf"REVOKE DATABASE ROLE {N2} FROM {_GRANTEE}"),
    # CREATE [ OR REPLACE ] ROLE [ IF NOT EXISTS ] <name> [ COMMENT = '<string_literal>' ]
    _g("create role", "create-role", rf"CREATE ROLE {INE}{Q}{COMMENT}"),
    # CREATE [ OR REPLACE ] DATABASE ROLE [ IF NOT EXISTS ] <name> [ COMMENT = '<string_literal>' ]
    _g("create database role", "create-database-role", rf"CREATE DATABASE ROLE {INE}{N2}{COMMENT}"),
    # CREATE [ OR REPLACE ] RESOURCE MONITOR [ IF NOT EXISTS ] <name> WITH [ CREDIT_QUOTA = <number> ]
    #   [ FREQUENCY = { MONTHLY | DAILY | WEEKLY | YEARLY | NEVER } ] [ START_TIMESTAMP = { <timestamp> | IMMEDIATELY } ]
    #   [ TRIGGERS triggerDefinition [ triggerDefinition ... ] ];  ON <threshold> PERCENT DO { SUSPEND | SUSPEND_IMMEDIATE | NOTIFY }
    _g("create resource monitor", "create-resource-monitor",
       rf"CREATE RESOURCE MONITOR {INE}{Q} WITH CREDIT_QUOTA = \d+"
       r"(?: FREQUENCY = (?:MONTHLY|DAILY|WEEKLY|YEARLY|NEVER))?"
       rf"(?: START_TIMESTAMP = (?:IMMEDIATELY|{STR}))?"
       r"(?: TRIGGERS(?: ON \d+ PERCENT DO (?:SUSPEND_IMMEDIATE|SUSPEND|NOTIFY))+)?"),
    # ALTER WAREHOUSE [ IF EXISTS ] <name> SET [ objectProperties ]   (RESOURCE_MONITOR = <monitor_name>)
    _g("alter warehouse set monitor", "alter-warehouse", rf"ALTER WAREHOUSE {IE}{Q} SET RESOURCE_MONITOR = {Q}"),
    # ALTER SCHEMA [ IF EXISTS ] <name> { ENABLE | DISABLE } MANAGED ACCESS
    _g("alter schema managed access", "alter-schema", rf"ALTER SCHEMA {IE}{N2} (?:ENABLE|DISABLE) MANAGED ACCESS"),
    # CREATE [ OR REPLACE ] MASKING POLICY [ IF NOT EXISTS ] <name> AS ( <arg_name> <arg_type> [ , ... ] )
    #   RETURNS <arg_type> -> <body> [ COMMENT = '<string_literal>' ]      (the body is checked as an expression)
    _g("create masking policy", "create-masking-policy",
       rf"CREATE (?:OR REPLACE )?MASKING POLICY {INE}{N3} AS \(VAL (?P<arg>{TYPE})\) RETURNS (?P<ret>{TYPE}) -> "
       rf"(?P<body>.+?){COMMENT}"),
    # ALTER MASKING POLICY [ IF EXISTS ] <name> SET BODY -> <expression_on_arg_name_to_mask>
    _g("alter masking policy body", "alter-masking-policy", rf"ALTER MASKING POLICY {IE}{N3} SET BODY -> (?P<body>.+)"),
    # ALTER TAG [ IF EXISTS ] <name> SET MASKING POLICY <masking_policy_name> [ , MASKING POLICY <name> ... ]
    # ALTER TAG [ IF EXISTS ] <name> UNSET MASKING POLICY <masking_policy_name> [ , ... ]
    _g("alter tag masking policy", "alter-tag",
       rf"ALTER TAG {IE}{N3} (?:SET|UNSET) MASKING POLICY {N3}(?:, MASKING POLICY {N3})*"),
    # ALTER VIEW <name> { ALTER | MODIFY } [ COLUMN ] <col_name> SET TAG <tag_name> = '<tag_value>' [ , ... ]
    # ALTER VIEW <name> { ALTER | MODIFY } COLUMN <col_name> UNSET TAG <tag_name> [ , <tag_name> ... ]
    _g("alter view column tag", "alter-view",
       rf"ALTER VIEW {N3} (?:ALTER|MODIFY) COLUMN {Q} "
       rf"(?:SET TAG {N3} = {STR}(?:, {N3} = {STR})*|UNSET TAG {N3}(?:, {N3})*)"),
    # CREATE [ OR REPLACE ] STREAM [ IF NOT EXISTS ] <name> [ COPY GRANTS ] ON VIEW <view_name>
    #   [ { AT | BEFORE } ( ... ) ] [ APPEND_ONLY = TRUE | FALSE ] [ SHOW_INITIAL_ROWS = TRUE | FALSE ] [ COMMENT = '...' ]
    _g("create stream on view", "create-stream", rf"CREATE STREAM {INE}{N3} ON VIEW {N3}{COMMENT}"),
    # SHOW TAGS [ LIKE '<pattern>' ] [ IN { ACCOUNT | DATABASE [ <name> ] | SCHEMA [ <name> ] } ]
    _g("show tags", "show-tags", rf"SHOW TAGS(?: LIKE {STR})?(?: IN (?:ACCOUNT|DATABASE {Q}|SCHEMA {N2}))?"),
    # SHOW GRANTS ON <object_type> <name> | TO { ROLE | DATABASE ROLE } <name> | OF { ROLE | DATABASE ROLE } <name>
    # SHOW FUTURE GRANTS { IN SCHEMA | IN DATABASE | TO ROLE | TO DATABASE ROLE } <name>
    _g("show grants", "show-grants",
       rf"SHOW GRANTS (?:ON (?:ACCOUNT|DATABASE {Q}|SCHEMA {N2}|(?:TABLE|VIEW|STAGE) {N3})|(?:TO|OF) {_GRANTEE})"
       rf"|SHOW FUTURE GRANTS (?:IN SCHEMA {N2}|IN DATABASE {Q}|TO {_GRANTEE})"),
    # SHOW ROLES [ LIKE '<pattern>' ]; SHOW DATABASE ROLES IN DATABASE <name> (sqlglot models SHOW SCHEMAS)
    _g("show roles", "show-roles", r"SHOW ROLES(?: LIKE '(?:[^']|'')*')?"),
    _g("show database roles", "show-database-roles", rf"SHOW DATABASE ROLES IN DATABASE {Q}"),
    # CREATE [ OR REPLACE ] TABLE [ IF NOT EXISTS ] <object_name> CLONE <source_object_name> ... [ COPY GRANTS ]
    _g("create table clone", "create-clone",
       rf"CREATE (?:OR REPLACE )?TABLE {INE}{N3} CLONE {N3}(?: COPY GRANTS)?"),
    # CALL <procedure_name> ( [ [ <arg_name> => ] <arg> , ... ] )
    _g("call", "call", rf"CALL {N3}\((?:(?:{STR}|\d+|NULL)(?:, (?:{STR}|\d+|NULL))*)?\)"),
)

# COPY INTO <location> (an unload). sqlglot builds an ``exp.Copy`` tree for it but keeps the stage
# reference as opaque text, so the federated export is held to this grammar too (check_unload):
#   COPY INTO externalStage FROM ( <query> ) [ FILE_FORMAT = ( TYPE = { CSV | JSON | PARQUET } ) ]
#     [ copyOptions ] [ HEADER ]       externalStage ::= @[<namespace>.]<ext_stage_name>[/<path>]
#   copyOptions: OVERWRITE = TRUE | FALSE, SINGLE = TRUE | FALSE, MAX_FILE_SIZE = <num>; HEADER = TRUE | FALSE
UNLOAD = _g("copy into location", "copy-into-location",
            rf"COPY INTO @{N3}(?:/[A-Za-z0-9_.-]+)*/? FROM \((?P<query>SELECT .+?)\)"
            r"(?: FILE_FORMAT = \(TYPE = (?:CSV|JSON|PARQUET)\))?"
            r"(?: (?:HEADER|OVERWRITE|SINGLE) = (?:TRUE|FALSE)| MAX_FILE_SIZE = \d+)*")


def check_unload(sql: str) -> exp.Select:
    """Assert ``sql`` is a documented COPY INTO @stage unload whose query is a real SELECT; return it."""
    m = UNLOAD.pattern.fullmatch(" ".join(sql.split()).rstrip(";"))
    query = _sqlglot_tree(m.group("query")) if m else None
    if not isinstance(query, exp.Select):
        raise GrammarError(f"not a COPY INTO <location> FROM (SELECT ...) unload ({UNLOAD.doc}): {sql}")
    return query


_MASKING_BODY = {"create masking policy", "alter masking policy body"}


class GrammarError(AssertionError):
    """The statement fits no grammar: neither a sqlglot tree nor a documented form."""


def _sqlglot_tree(sql: str) -> exp.Expression | None:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # the Command fallback warns; we decide here
    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.ParseError:
        return None
    return None if tree is None or isinstance(tree, exp.Command) else tree


def _body_ok(body: str) -> bool:
    """A masking policy body is an expression on VAL: sqlglot models CASE fully."""
    tree = _sqlglot_tree(f"SELECT {body}")
    return isinstance(tree, exp.Select) and not tree.find(exp.Command)


def match(sql: str) -> str | None:
    """The name of the grammar ``sql`` fits ("sqlglot:<Tree>" for a modelled statement), else None."""
    text = " ".join(sql.split()).rstrip(";")
    if not re.match(r"(GRANT|REVOKE)\b", text):
        tree = _sqlglot_tree(text)
        if tree is not None:
            return f"sqlglot:{type(tree).__name__}"
    for g in GRAMMARS:
        m = g.pattern.fullmatch(text)
        if m and (g.name not in _MASKING_BODY or _body_ok(m.group("body"))):
            if g.name == "create masking policy" and m.group("arg") != m.group("ret"):
                continue  # a masking policy returns its argument's type (create-masking-policy, Usage notes)
            return g.name
    return None


def check(sql: str) -> str:
    """Assert ``sql`` fits a grammar; returns which one."""
    found = match(sql)
    if found is None:
        raise GrammarError(f"fits no Snowflake grammar (sqlglot gives only a Command): {sql}")
    return found


def check_all(statements: object) -> dict[str, int]:
    """Check every statement (str or anything with ``.sql``); how many fit each grammar."""
    counts: dict[str, int] = {}
    for s in statements:  # type: ignore[attr-defined]
        name = check(s if isinstance(s, str) else s.sql)
        counts[name] = counts.get(name, 0) + 1
    return counts
