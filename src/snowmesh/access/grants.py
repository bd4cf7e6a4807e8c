"""A small, strict parser for exactly the access-control SQL ``snowmesh.deploy.render`` emits.

sqlglot's Snowflake dialect parses GRANT into an opaque ``exp.Command``, so it cannot tell
us who gets what. The grammar here is the renderer's, nothing more:

    GRANT <privs> ON <TYPE> <fqn> TO ROLE <id> | TO DATABASE ROLE <db>.<id>
    GRANT <privs> ON PROCEDURE <db>.<s>.<id>(<type>, ...) TO ROLE <id> | TO DATABASE ROLE <db>.<id>
    GRANT <privs> ON ALL|FUTURE TABLES|VIEWS IN SCHEMA <db>.<s> TO DATABASE ROLE <db>.<id>
    GRANT DATABASE ROLE <db>.<id> TO ROLE <id> | TO DATABASE ROLE <db>.<id>
    GRANT ROLE <id> TO ROLE <id>
    CREATE ROLE IF NOT EXISTS <id> [COMMENT = '<text>']
    CREATE DATABASE ROLE IF NOT EXISTS <db>.<id>
    ALTER SCHEMA <db>.<s> ENABLE MANAGED ACCESS

Strictness is by round trip: a parsed statement is rendered again with the very renderer
functions, and must come out byte for byte the same. Anything else -- another statement,
extra clauses, odd spacing, an unquoted or hostile identifier, an unknown privilege --
raises :class:`GrantSyntaxError`; nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from governance.sql import IdentifierError, check_ident
from snowmesh.access.graph import Graph, PrivilegeGrant, Role, RoleGrant, Securable, procedure_key
from snowmesh.deploy import render as r
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.errors import InputError

# Words may hold `_` (TIMESTAMP_NTZ in a procedure signature) and numbers appear in type
# precision; anything the renderer would not emit still fails the round trip.
_TOKEN = re.compile(r'\s*(?:"(?P<q>[^"]*)"|(?P<w>[A-Z][A-Z_]*)|(?P<n>[0-9]+)|(?P<p>[,.=()])|'
                    r'(?P<lit>\'(?:[^\'\\]|\'\'|\\\\)*\'))')
# Identifiers are matched whole: check_ident's `$` also accepts a trailing newline.
_PLAIN = re.compile(r"[A-Z_][A-Z0-9_$]{0,254}")
_GRANTISH = re.compile(r"\s*(GRANT|REVOKE)\b", re.IGNORECASE)
_NAME_PARTS = {"DATABASE": 1, "WAREHOUSE": 1, "INTEGRATION": 1, "SCHEMA": 2, "TABLE": 3, "VIEW": 3, "STAGE": 3,
               "PROCEDURE": 3, "TAG": 3}


class GrantSyntaxError(InputError):
    """Access-control SQL outside the renderer's grammar: the verifier refuses to guess."""


def strict_ident(value: object) -> str:
    """``check_ident``, but matched whole: its ``$`` anchor also accepts a trailing newline."""
    if not isinstance(value, str) or not _PLAIN.fullmatch(value):
        raise IdentifierError(f"{value!r} is not a plain Snowflake identifier")
    return check_ident(value)


class _Tokens:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.items: list[tuple[str, str]] = []
        pos = 0
        while pos < len(sql):
            m = _TOKEN.match(sql, pos)
            if not m or m.end() == pos:
                raise self.error(f"unexpected text at offset {pos}: {sql[pos:pos + 20]!r}")
            kind = m.lastgroup or ""
            self.items.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def error(self, why: str) -> GrantSyntaxError:
        return GrantSyntaxError(f"cannot verify {self.sql!r}: {why}", hint="the access verifier reads only "
                                "the GRANT/CREATE ROLE forms snowmesh.deploy.render emits")

    def peek(self, n: int = 0) -> tuple[str, str]:
        j = self.i + n
        return self.items[j] if j < len(self.items) else ("end", "")

    def word(self, *expected: str) -> str:
        kind, value = self.peek()
        if kind != "w" or (expected and value not in expected):
            want = " or ".join(expected) if expected else "a keyword"
            raise self.error(f"expected {want}, found {value or 'the end'!r}")
        self.i += 1
        return value

    def words(self, *seq: str) -> None:
        for w in seq:
            self.word(w)

    def punct(self, p: str) -> bool:
        if self.peek() == ("p", p):
            self.i += 1
            return True
        return False

    def ident(self) -> str:
        kind, value = self.peek()
        if kind != "q":
            raise self.error(f"expected a quoted identifier, found {value or 'the end'!r}")
        try:
            strict_ident(value)
        except IdentifierError as exc:
            raise self.error(str(exc)) from None
        self.i += 1
        return value

    def name(self, parts: int) -> tuple[str, ...]:
        out = [self.ident()]
        while self.punct("."):
            out.append(self.ident())
        if len(out) != parts:
            raise self.error(f"expected a {parts}-part name, found {'.'.join(out)}")
        return tuple(out)

    def literal(self) -> str:
        kind, value = self.peek()
        if kind != "lit":
            raise self.error("expected a string literal")
        self.i += 1
        return value[1:-1].replace("''", "'").replace("\\\\", "\\")

    def signature(self) -> tuple[str, ...]:
        """``(<type>[(<n>[,<n>])], ...)`` after a procedure's name; the renderer re-checks each type."""
        if not self.punct("("):
            raise self.error("expected the argument types of the procedure, in parentheses")
        types: list[str] = []
        while not self.punct(")"):
            if types and not self.punct(","):
                raise self.error(f"expected , or ) in the argument types, found {self.peek()[1] or 'the end'!r}")
            type_ = self.word()
            if self.punct("("):
                digits = [self.number()]
                while self.punct(","):
                    digits.append(self.number())
                if not self.punct(")"):
                    raise self.error("expected ) after the type's precision")
                type_ += f"({','.join(digits)})"
            types.append(type_)
        return tuple(types)

    def number(self) -> str:
        kind, value = self.peek()
        if kind != "n":
            raise self.error(f"expected a number, found {value or 'the end'!r}")
        self.i += 1
        return value

    def end(self) -> None:
        if self.peek()[0] != "end":
            raise self.error(f"unexpected trailing {self.peek()[1]!r}")


def _roundtrip(tok: _Tokens, render: Callable[[], Statement]) -> None:
    """The statement must be exactly what the renderer produces for what we parsed."""
    try:
        expected = render().sql
    except (ValueError, IdentifierError) as exc:  # unknown privilege or object type
        raise tok.error(str(exc)) from None
    if expected != tok.sql:
        raise tok.error(f"not in the renderer's exact form (expected {expected!r})")


def _grantee(tok: _Tokens) -> Role:
    tok.word("TO")
    if tok.word("ROLE", "DATABASE") == "ROLE":
        return Role(tok.ident())
    tok.word("ROLE")
    db, name = tok.name(2)
    return Role(name, db)


def _privileges(tok: _Tokens) -> list[str]:
    privs: list[str] = []
    current: list[str] = []
    while tok.peek() != ("w", "ON"):
        if tok.punct(","):
            privs.append(" ".join(current))
            current = []
            continue
        current.append(tok.word())
    privs.append(" ".join(current))
    if not all(privs):
        raise tok.error("empty privilege in the list")
    return privs


def parse_grant(sql: str) -> list[PrivilegeGrant | RoleGrant]:
    """One rendered GRANT -> its edges in the graph (one per privilege)."""
    tok = _Tokens(sql)
    tok.word("GRANT")
    if tok.peek() == ("w", "ROLE"):
        tok.word("ROLE")
        role = tok.ident()
        to = _grantee(tok)
        tok.end()
        if to.is_database_role:
            raise tok.error("an account role cannot be granted to a database role")
        _roundtrip(tok, lambda: r.grant_role(role, to.name))
        return [RoleGrant(Role(role), to)]
    if tok.peek() == ("w", "DATABASE") and tok.peek(1) == ("w", "ROLE"):
        tok.words("DATABASE", "ROLE")
        db, name = tok.name(2)
        to = _grantee(tok)
        tok.end()
        _roundtrip(tok, lambda: r.grant_database_role(
            db, name, to_role=None if to.is_database_role else to.name,
            to_db_role=to.name if to.is_database_role else None,
        ))
        return [RoleGrant(Role(name, db), to)]
    privs = _privileges(tok)
    tok.word("ON")
    if tok.peek()[1] in ("ALL", "FUTURE"):
        scope = tok.word()
        plural = tok.word("TABLES", "VIEWS")
        tok.words("IN", "SCHEMA")
        schema = tok.name(2)
        to = _grantee(tok)
        tok.end()
        if not to.is_database_role:
            raise tok.error("the renderer grants ALL/FUTURE objects to database roles only")
        _roundtrip(tok, lambda: r.grant_on_all(privs, plural, schema[0], schema[1], to.name,
                                               future=scope == "FUTURE"))
        on = Securable(plural[:-1], schema, scope)
    else:
        type_ = tok.word(*_NAME_PARTS)
        name = tok.name(_NAME_PARTS[type_])
        args = tok.signature() if type_ == "PROCEDURE" else None
        to = _grantee(tok)
        if privs == ["OWNERSHIP"] and type_ == "SCHEMA":  # a domain's PRODUCTS schema, handed to its engineer
            tok.words("COPY", "CURRENT", "GRANTS")
            tok.end()
            _roundtrip(tok, lambda: r.schema_ownership(name[0], name[1], to.name))
            return [PrivilegeGrant("OWNERSHIP", Securable("SCHEMA", name), to)]
        tok.end()
        _roundtrip(tok, lambda: r.grant_on(privs, type_, name, to.name, database_role_of=to.database or None,
                                           arg_types=args))
        # A procedure is one overload: its name carries the argument types, as SHOW GRANTS does.
        on = Securable(type_, name if args is None else (*name[:2], procedure_key(name[2], args)))
    return [PrivilegeGrant(p, on, to) for p in privs]


def parse_create_role(sql: str) -> Role:
    tok = _Tokens(sql)
    tok.words("CREATE", "ROLE", "IF", "NOT", "EXISTS")
    name = tok.ident()
    comment = ""
    if tok.peek() == ("w", "COMMENT"):
        tok.word("COMMENT")
        if not tok.punct("="):
            raise tok.error("expected = after COMMENT")
        comment = tok.literal()
    tok.end()
    _roundtrip(tok, lambda: r.account_role(name, comment))
    return Role(name)


def parse_create_database_role(sql: str) -> Role:
    tok = _Tokens(sql)
    tok.words("CREATE", "DATABASE", "ROLE", "IF", "NOT", "EXISTS")
    db, name = tok.name(2)
    tok.end()
    _roundtrip(tok, lambda: r.database_role(db, name))
    return Role(name, db)


def parse_managed_access(sql: str) -> tuple[str, str]:
    tok = _Tokens(sql)
    tok.words("ALTER", "SCHEMA")
    db, schema = tok.name(2)
    tok.words("ENABLE", "MANAGED", "ACCESS")
    tok.end()
    _roundtrip(tok, lambda: r.managed_access(db, schema))
    return (db, schema)


def plan_graph(statements: Iterable[Statement]) -> Graph:
    """The graph the rendered plan would create. Every access-control statement must parse."""
    g = Graph()
    for s in statements:
        if s.kind == Kind.GRANT:
            g.extend(parse_grant(s.sql))
        elif s.kind == Kind.ACCOUNT_ROLE:
            g.add(parse_create_role(s.sql))
        elif s.kind == Kind.DATABASE_ROLE:
            g.add(parse_create_database_role(s.sql))
        elif s.kind == Kind.ACCESS_CONTROL:
            g.managed_schemas.add(parse_managed_access(s.sql))
        elif s.kind == Kind.REVOKE:
            continue  # retiring an old view: the plan no longer grants it, so the graph has no edge to drop
        elif _GRANTISH.match(s.sql):
            # A privilege change filed under another kind would bypass the proofs.
            raise GrantSyntaxError(f"a {s.kind.value} statement changes privileges: {s.sql!r}",
                                   hint="render grants with snowmesh.deploy.render (Kind.GRANT)")
    return g


__all__ = [
    "GrantSyntaxError",
    "parse_create_database_role",
    "parse_create_role",
    "parse_grant",
    "parse_managed_access",
    "plan_graph",
    "strict_ident",
]
