"""The one place where names and values become SQL text.

Every identifier that comes from a manifest or a contract goes through :func:`ident`
(or :func:`fqn`), and every string value through :func:`literal`. Nothing else in the
project formats user text into SQL.

This module is stdlib-only: it runs inside Snowflake as part of the procedures zip and
on the client side.
"""

from __future__ import annotations

import re

# A "plain" Snowflake identifier: unquoted-legal, and we keep it upper case so that the
# quoted form is the same object as the unquoted one (Snowflake folds unquoted names up).
_PLAIN = re.compile(r"^[A-Z_][A-Z0-9_$]{0,254}\Z")  # \Z: "$" would accept a trailing newline

# Words Snowflake reserves (docs: "Reserved & limited keywords"). A manifest may not name
# an object with one of these: it would work only quoted and confuse everyone reading SQL.
RESERVED = frozenset(
    ["ACCOUNT", "ALL", "ALTER", "AND", "ANY", "AS", "BETWEEN", "BY", "CASE", "CAST", "CHECK", "COLUMN", "CONNECT", "CONNECTION", "CONSTRAINT", "CREATE", "CROSS", "CURRENT", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "DATABASE", "DELETE", "DISTINCT", "DROP", "ELSE", "EXISTS", "FALSE", "FOLLOWING", "FOR", "FROM", "FULL", "GRANT", "GROUP", "GSCLUSTER", "HAVING", "ILIKE", "IN", "INCREMENT", "INNER", "INSERT", "INTERSECT", "INTO", "IS", "ISSUE", "JOIN", "LATERAL", "LEFT", "LIKE", "LOCALTIME", "LOCALTIMESTAMP", "MINUS", "NATURAL", "NOT", "NULL", "OF", "ON", "OR", "ORDER", "ORGANIZATION", "QUALIFY", "REGEXP", "REVOKE", "RIGHT", "RLIKE", "ROW", "ROWS", "SAMPLE", "SCHEMA", "SELECT", "SET", "SOME", "START", "TABLE", "TABLESAMPLE", "THEN", "TO", "TRIGGER", "TRUE", "TRY_CAST", "UNION", "UNIQUE", "UPDATE", "USING", "VALUES", "VIEW", "WHEN", "WHENEVER", "WHERE", "WITH"]
)


class IdentifierError(ValueError):
    """A name that is not a plain Snowflake identifier."""


def check_ident(name: object) -> str:
    """Return ``name`` if it is a plain, non-reserved, upper-case Snowflake identifier."""
    if not isinstance(name, str) or not _PLAIN.match(name):
        raise IdentifierError(
            f"{name!r} is not a plain Snowflake identifier "
            "(upper-case letters, digits, _ and $; starting with a letter or _)"
        )
    if name in RESERVED:
        raise IdentifierError(f"{name!r} is a reserved word in Snowflake")
    return name


def ident(name: object) -> str:
    """Validate and quote one identifier part: ``CLICKS`` -> ``"CLICKS"``."""
    return f'"{check_ident(name)}"'


def fqn(*parts: object) -> str:
    """Validate and quote a dotted name: ``fqn("DB", "S", "T")`` -> ``"DB"."S"."T"``."""
    if not parts:
        raise IdentifierError("empty object name")
    return ".".join(ident(p) for p in parts)


def split_fqn(name: str) -> tuple[str, ...]:
    """Split ``DB.SCHEMA.OBJECT`` (unquoted) into validated parts."""
    parts = tuple(name.split("."))
    for p in parts:
        check_ident(p)
    return parts


def literal(value: object) -> str:
    """A SQL string literal, with quotes and backslashes escaped (Snowflake escapes both)."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
