"""A fake Enterprise account for the real-account code paths (policies, dry runs, the registry
refresh): one place that knows how Snowflake answers SHOW TAGS, POLICY_REFERENCES and SHOW GRANTS ON.
Imported by tests, not a test; tests/test_policies.py checks it against the documented answers.

It answers from state, with the documented columns, and what it answers depends on the arguments:

- ``SHOW TAGS [LIKE '<pattern>'] [IN ACCOUNT]`` -- https://docs.snowflake.com/en/sql-reference/sql/show-tags:
  columns created_on, name, database_name, schema_name, owner, comment, allowed_values,
  owner_role_type; LIKE is case-insensitive with ``%`` and ``_``.
- ``TABLE(<db>.INFORMATION_SCHEMA.POLICY_REFERENCES(REF_ENTITY_NAME => '<name>', REF_ENTITY_DOMAIN
  => '<domain>'))`` -- https://docs.snowflake.com/en/sql-reference/functions/policy_references: one row
  per policy set on that entity, columns POLICY_DB ... POLICY_STATUS (``COLUMNS`` below); the
  projection and an AND of ``column = 'value'`` filters are applied, anything else is refused.
- ``SHOW GRANTS ON <kind> <name>`` -- https://docs.snowflake.com/en/sql-reference/sql/show-grants:
  created_on, privilege, granted_on, name, granted_to, grantee_name, grant_option, granted_by; rows
  of the grants the account holds on that object (given, or sent as GRANT while not read-only).

Every statement sent must fit Snowflake's grammar (tests/sql_grammar.py). With ``read_only``
anything but SHOW/SELECT fails the test, through ``sql`` or the connection's cursor (a dry run
must change nothing); otherwise writes are kept in ``writes`` and applied to the state above when
they are ALTER TAG ... SET/UNSET MASKING POLICY or GRANT.
"""

from __future__ import annotations

import re
from typing import Any, Self

import sqlglot
from sql_grammar import check
from sqlglot import exp

Name = tuple[str, str, str]

# POLICY_REFERENCES' documented columns, in order.
COLUMNS = ("POLICY_DB", "POLICY_SCHEMA", "POLICY_NAME", "POLICY_KIND", "REF_DATABASE_NAME", "REF_SCHEMA_NAME",
           "REF_ENTITY_NAME", "REF_ENTITY_DOMAIN", "REF_COLUMN_NAME", "REF_ARG_COLUMN_NAMES", "TAG_DATABASE",
           "TAG_SCHEMA", "TAG_NAME", "POLICY_STATUS")
DOMAINS = ("ACCOUNT", "INTEGRATION", "TABLE", "TAG", "USER", "VIEW")  # REF_ENTITY_DOMAIN's documented values

_Q = r'"([A-Z_][A-Z0-9_$]*)"'
_ATTACH = re.compile(rf"ALTER TAG {_Q}\.{_Q}\.{_Q} (SET|UNSET) MASKING POLICY {_Q}\.{_Q}\.{_Q}")
_GRANT = re.compile(r"GRANT (.+?) ON (DATABASE|SCHEMA|TABLE|VIEW|STAGE|WAREHOUSE) (\S+) TO (ROLE|DATABASE ROLE) (\S+)")
_SHOW_GRANTS_ON = re.compile(r"SHOW GRANTS ON (DATABASE|SCHEMA|TABLE|VIEW|STAGE|WAREHOUSE) (\S+)")


def like(pattern: str, value: str) -> bool:
    """SQL LIKE as SHOW ... LIKE applies it: case-insensitive, % any run, _ one character."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.IGNORECASE | re.DOTALL) is not None


def _unquote(name: str) -> str:
    return name.replace('"', "")


class _Cursor:
    def __init__(self, account: EnterpriseAccount) -> None:
        self.account = account

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def execute(self, text: str, params: Any = None) -> _Cursor:
        self.account.sql(text, params)
        return self

    def executemany(self, text: str, rows: list) -> None:
        self.account.sql(text, ("executemany", list(rows)))


class _Connection:
    def __init__(self, account: EnterpriseAccount) -> None:
        self.account = account

    def cursor(self) -> _Cursor:
        return _Cursor(self.account)


class EnterpriseAccount:
    is_local = False

    def __init__(self, tags: list[Name], attached: list[Name] | dict[Name, list[Name]], *,
                 grants: list[tuple[str, str, str, str, str]] | None = None,
                 read_only: bool = False, name: str = "prod") -> None:
        """``tags``: (db, schema, tag) existing. ``attached``: masking policies (db, schema, name) set
        on each tag; a list means "on every tag given". ``grants``: (privilege, granted_on, name,
        granted_to, grantee_name) rows already on the account."""
        self.tags, self.read_only, self.name = list(tags), read_only, name
        if isinstance(attached, dict):
            self.attached = {t: list(p) for t, p in attached.items()}
        else:
            self.attached = {t: list(attached) for t in self.tags}
        self.grants = list(grants or [])
        self.conn = _Connection(self)
        self.ran: list[str] = []
        self.writes: list[tuple[str, Any]] = []

    # --- the one entry point -------------------------------------------------------------------

    def sql(self, text: str, params: Any = None) -> list[tuple]:
        self.ran.append(text)
        if not text.startswith(("SHOW ", "SELECT ")):
            assert not self.read_only, f"a dry run sent a change: {text}"
        check(text.replace("%s", "NULL"))  # a bound placeholder stands for a value
        if not text.startswith(("SHOW ", "SELECT ")):
            self.writes.append((text, params))
            self._apply(text)
            return []
        if text.startswith("SHOW TAGS"):
            return self._show_tags(text)
        if text.startswith("SHOW GRANTS ON"):
            return self._show_grants_on(text)
        if "POLICY_REFERENCES" in text:
            return self._policy_references(text)
        return []  # any other read: the account holds nothing else the fake knows of

    def snapshot(self) -> tuple:
        """The account's state, to compare before and after."""
        return (tuple(self.tags), tuple((t, tuple(p)) for t, p in sorted(self.attached.items())),
                tuple(self.grants), len(self.writes))

    # --- writes ----------------------------------------------------------------------------------

    def _apply(self, text: str) -> None:
        if m := _ATTACH.fullmatch(text):
            tag, verb, policy = m.group(1, 2, 3), m.group(4), m.group(5, 6, 7)
            held = self.attached.setdefault(tag, [])
            if verb == "SET" and policy not in held:
                held.append(policy)
            elif verb == "UNSET" and policy in held:
                held.remove(policy)
        elif m := _GRANT.fullmatch(text):
            privs, kind, obj, to, grantee = m.groups()
            for p in privs.split(", "):
                self.grants.append((p, kind, _unquote(obj), to, _unquote(grantee)))

    # --- reads -----------------------------------------------------------------------------------

    def _show_tags(self, text: str) -> list[tuple]:
        m = re.fullmatch(r"SHOW TAGS(?: LIKE '((?:[^']|'')*)')?(?: IN ACCOUNT)?", text)
        assert m, f"the fake answers SHOW TAGS [LIKE ...] [IN ACCOUNT] only: {text}"
        pattern = (m.group(1) or "%").replace("''", "'")
        return [("2030-01-01 00:00:00.000 -0800", n, db, s, "SYSADMIN", "", None, "ROLE")
                for db, s, n in self.tags if like(pattern, n)]

    def _show_grants_on(self, text: str) -> list[tuple]:
        m = _SHOW_GRANTS_ON.fullmatch(text)
        assert m, f"the fake answers SHOW GRANTS ON <kind> <name> only: {text}"
        kind, obj = m.group(1), _unquote(m.group(2))
        return [("2030-01-01 00:00:00.000 -0800", p, k, n, to.replace("DATABASE ROLE", "DATABASE_ROLE"), g,
                 "false", "SYSADMIN")
                for p, k, n, to, g in self.grants if (k, n) == (kind, obj)]

    def _references(self, entity: str, domain: str) -> list[dict[str, Any]]:
        assert domain in DOMAINS, f"REF_ENTITY_DOMAIN {domain!r} is not one Snowflake documents"
        if domain != "TAG":
            return []
        parts = tuple(entity.split("."))
        out = []
        for tag, policies in self.attached.items():
            if tag != parts or tag not in self.tags:
                continue
            for db, schema, name in policies:
                out.append(dict(zip(COLUMNS, (db, schema, name, "MASKING_POLICY", None, None, tag[2], "TAG", None,
                                              None, tag[0], tag[1], tag[2], None), strict=True)))
        return out

    def _policy_references(self, text: str) -> list[tuple]:
        tree = sqlglot.parse_one(text, read="snowflake")
        assert isinstance(tree, exp.Select), text
        args = {k.this.name.upper(): k.expression.name for k in tree.find_all(exp.Kwarg)}
        assert set(args) == {"REF_ENTITY_NAME", "REF_ENTITY_DOMAIN"}, f"unsupported arguments: {text}"
        rows = self._references(args["REF_ENTITY_NAME"], args["REF_ENTITY_DOMAIN"].upper())
        where = tree.args.get("where")
        if where is not None:
            conds = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
            for c in conds:
                assert isinstance(c, exp.EQ) and c.this.name.upper() in COLUMNS, f"unsupported filter: {c.sql()}"
                rows = [r for r in rows if r[c.this.name.upper()] == c.expression.name]
        cols = [e.name.upper() for e in tree.expressions]
        assert all(c in COLUMNS for c in cols), f"not a documented POLICY_REFERENCES column: {cols}"
        return [tuple(r[c] for c in cols) for r in rows]
