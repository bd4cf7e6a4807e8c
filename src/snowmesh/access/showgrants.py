"""The privilege graph of a real account, read with SHOW GRANTS, and its drift from the manifests.

Rows are parsed by column name, as Snowflake returns them:

* ``SHOW GRANTS TO ROLE r`` / ``TO DATABASE ROLE db.r`` / ``ON <object>``: created_on,
  privilege, granted_on, name, granted_to, grantee_name, grant_option, granted_by.
  ``granted_on = ROLE | DATABASE_ROLE`` rows are role grants (privilege USAGE).
* ``SHOW FUTURE GRANTS TO DATABASE ROLE db.r``: the same with grant_on / grant_to, and
  ``name = DB.SCHEMA.<TABLE>``.
* ``SHOW GRANTS OF DATABASE ROLE db.r`` / ``OF ROLE r``: created_on, role, granted_to,
  grantee_name, granted_by -- who holds the role.

Grants to users and shares are outside the role graph and skipped. Only ``target_query`` talks
to the connector; everything else takes rows, so it is unit-tested on fixture rows.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from governance.sql import IdentifierError, fqn, ident
from snowmesh.access.graph import Graph, PrivilegeGrant, Role, RoleGrant, Securable, procedure_key
from snowmesh.access.report import CheckResult
from snowmesh.access.verify import PLATFORM_ROLES
from snowmesh.deploy.plan import GOVERNANCE_DB, GOVERNANCE_SCHEMAS
from snowmesh.errors import ConnectionConfigError
from snowmesh.manifest.model import SCHEMAS, Mesh

Row = Mapping[str, Any]
Query = Callable[[str], list[dict[str, Any]]]
SOURCE = "account"
MAX_ROLES = 500  # a walk of the account's role graph stops here rather than run away
_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


def split_name(text: str, max_parts: int = 3) -> tuple[str, ...]:
    """``DB.S."odd name"`` -> ``("DB", "S", "odd name")``; the tail after ``max_parts - 1`` dots
    is kept whole (procedure names carry signatures)."""
    parts: list[str] = []
    pos = 0
    while pos < len(text):
        if len(parts) == max_parts - 1:
            tail = text[pos:]
            whole = re.fullmatch(r'"((?:[^"]|"")*)"', tail)
            parts.append(whole.group(1).replace('""', '"') if whole else tail)
            break
        m = _PART.match(text, pos)
        if not m:
            raise ValueError(f"cannot split object name {text!r}")
        parts.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ".":
                raise ValueError(f"cannot split object name {text!r}")
            pos += 1
    return tuple(parts)


_VARCHAR = re.compile(r"(VARCHAR|TEXT|STRING)(\(\d+\))?")


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses: ``A NUMBER(12,2), B VARCHAR`` -> two arguments."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def callable_key(text: str) -> str:
    """SHOW GRANTS' name of a procedure, ``P(START_DATE VARCHAR, END_DATE VARCHAR):TABLE (...)``
    (older accounts: ``P(VARCHAR, VARCHAR):...``) -> the renderer's ``P(VARCHAR, VARCHAR)``.

    Argument names and the return type are dropped; VARCHAR's length and its synonyms are not
    part of the identity.
    """
    open_ = text.find("(")
    if open_ <= 0:
        raise ValueError(f"procedure name without argument types: {text!r}")
    depth = 0
    for close, ch in enumerate(text[open_:], open_):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            break
    else:
        raise ValueError(f"unbalanced parentheses in {text!r}")
    types = []
    for arg in _split_top(text[open_ + 1:close]):
        words = arg.split(None, 1)
        # "NAME TYPE" unless the whole argument is one type ("NUMBER(38, 0)" has its space inside)
        type_ = words[1] if len(words) == 2 and "(" not in words[0] else arg
        type_ = re.sub(r"\s+", "", type_.upper())
        types.append("VARCHAR" if _VARCHAR.fullmatch(type_) else type_)
    return procedure_key(text[:open_], types)


def _role(kind: str, name: str, context_db: str = "") -> Role | None:
    if kind == "ROLE":
        return Role(split_name(name, 1)[0])
    if kind == "DATABASE_ROLE":
        parts = split_name(name, 2)
        # Some outputs name a database role relative to the database being shown.
        return Role(parts[-1], parts[0] if len(parts) == 2 else context_db)
    return None  # USER, SHARE, APPLICATION_ROLE ...: not part of the role graph


def grant_row(row: Row, *, context_db: str = "") -> PrivilegeGrant | RoleGrant | None:
    """One row of SHOW [FUTURE] GRANTS TO/ON -> one edge (or None when it is outside the graph)."""
    future = "grant_on" in row and "granted_on" not in row
    on_type = str(row["grant_on" if future else "granted_on"]).upper()
    grantee = _role(str(row["grant_to" if future else "granted_to"]).upper(), str(row["grantee_name"]), context_db)
    if grantee is None:
        return None
    name = str(row["name"])
    if on_type in ("ROLE", "DATABASE_ROLE") and not future:
        granted = _role(on_type, name, context_db)
        return RoleGrant(granted, grantee, SOURCE) if granted else None
    if future:
        parts = split_name(name)
        if not (len(parts) == 3 and parts[2].startswith("<")):
            raise ValueError(f"future grant on {name!r}: expected DB.SCHEMA.<{on_type}>")
        on = Securable(on_type, parts[:2], "FUTURE")
    elif on_type in ("PROCEDURE", "FUNCTION"):
        parts = split_name(name)
        on = Securable(on_type, (*parts[:2], callable_key(parts[2])))
    else:
        on = Securable(on_type, split_name(name, 1 if on_type in ("DATABASE", "WAREHOUSE", "INTEGRATION") else 3))
    return PrivilegeGrant(str(row["privilege"]).upper(), on, grantee, SOURCE)


def holder_row(row: Row, granted: Role) -> RoleGrant | None:
    """One row of SHOW GRANTS OF [DATABASE] ROLE: who holds ``granted``."""
    grantee = _role(str(row["granted_to"]).upper(), str(row["grantee_name"]), granted.database)
    return RoleGrant(granted, grantee, SOURCE) if grantee else None


def _show(role: Role) -> tuple[list[str], str]:
    """(the SHOW commands listing what ``role`` holds, the one listing who holds ``role``)."""
    if role.is_database_role:
        name = fqn(role.database, role.name)
        return ([f"SHOW GRANTS TO DATABASE ROLE {name}", f"SHOW FUTURE GRANTS TO DATABASE ROLE {name}"],
                f"SHOW GRANTS OF DATABASE ROLE {name}")
    name = ident(role.name)
    return [f"SHOW GRANTS TO ROLE {name}", f"SHOW FUTURE GRANTS TO ROLE {name}"], f"SHOW GRANTS OF ROLE {name}"


def declared_roles(mesh: Mesh) -> set[Role]:
    from snowmesh.deploy.plan import GOVERNANCE_ROLE, PRODUCT_READER

    out = {Role(n) for d in mesh.domains for n in (d.engineer_role, d.analyst_role, d.wh_usage_role)}
    out.add(Role(GOVERNANCE_ROLE))
    return out | {Role(n, d.database) for d in mesh.domains for n in ("R", "W", "C", PRODUCT_READER)}


def collect(mesh: Mesh, query: Query) -> Graph:
    """Walk the account from the domains' roles, every database role in a domain database or
    GOVERNANCE_DB, and every role granted anything on one of those databases or their schemas.

    Roles found holding one of those are recorded as holders but not expanded, and platform
    roles never are: their grants are the account's, not the mesh's.
    """
    g = Graph()
    existing = {Role(str(r["name"])) for r in query("SHOW ROLES")}
    queue: deque[Role] = deque(sorted(r for r in declared_roles(mesh) if not r.is_database_role and r in existing))
    # GOVERNANCE_DB too: proof 6 needs whoever can write the audit, not only the domains' roles.
    for db, schemas in [*((d.database, SCHEMAS) for d in mesh.domains), (GOVERNANCE_DB, GOVERNANCE_SCHEMAS)]:
        queue.extend(Role(str(r["name"]), db) for r in query(f"SHOW DATABASE ROLES IN DATABASE {ident(db)}"))
        for r in query(f"SHOW SCHEMAS IN DATABASE {ident(db)}"):
            if "MANAGED ACCESS" in str(r.get("options", "")).upper():
                g.managed_schemas.add((db, str(r["name"])))
        for q in [f"SHOW GRANTS ON DATABASE {ident(db)}", *(f"SHOW GRANTS ON SCHEMA {fqn(db, s)}" for s in schemas)]:
            for row in query(q):
                edge = grant_row(row, context_db=db)
                if edge is not None:
                    g.add(edge)
                    queue.append(edge.to)
    seen: set[Role] = set(PLATFORM_ROLES)
    while queue and len(seen) < MAX_ROLES:
        role = queue.popleft()
        if role in seen:
            continue
        seen.add(role)
        g.add(role)
        try:
            holds, held_by = _show(role)
        except IdentifierError:
            continue  # a name governance.sql will not quote is no mesh role: it stays an edge only
        for q in holds:
            for row in query(q):
                edge = grant_row(row, context_db=role.database)
                if edge is not None:
                    g.add(edge)
                    if isinstance(edge, RoleGrant):
                        queue.append(edge.role)
        for row in query(held_by):
            holder = holder_row(row, role)
            if holder is not None:
                g.add(holder)
    return g


def _covered(grant: PrivilegeGrant, expected: Iterable[PrivilegeGrant]) -> bool:
    """An object-level grant on the account is declared when a declared ALL/FUTURE grant covers it."""
    return any(e.privilege == grant.privilege and e.to == grant.to and e.on.scope
               and e.on.covers(grant.on.type, grant.on.name) for e in expected)


def account_drift(mesh: Mesh, expected: Graph, actual: Graph) -> CheckResult:
    """Grants the manifests declare that the account lacks, and grants on the mesh's databases and
    warehouses (or of its roles) that the account holds and no manifest declares."""
    out = CheckResult("account-drift")
    dbs = {d.database for d in mesh.domains}
    scope = dbs | {GOVERNANCE_DB}  # the analysts' USAGE on GOVERNANCE_DB and PRODUCT_HEALTH is declared too
    warehouses = {d.warehouse.name for d in mesh.domains}
    from snowmesh.deploy.plan import GOVERNANCE_ROLE

    own = {Role(n): d.database for d in mesh.domains for n in (d.engineer_role, d.analyst_role)}
    own[Role(GOVERNANCE_ROLE)] = GOVERNANCE_DB  # it owns the registries, audit, tags, policies, procedures
    ours = declared_roles(mesh) | expected.roles

    def in_scope(g: PrivilegeGrant) -> bool:
        return g.on.database in scope or (g.on.type == "WAREHOUSE" and g.on.name[0] in warehouses)

    def expected_owner(g: PrivilegeGrant) -> bool:
        # Platform roles own the databases and schemas; a domain's engineer owns what its
        # procedures build in its own database.
        return g.privilege == "OWNERSHIP" and (g.to in PLATFORM_ROLES or own.get(g.to) == g.on.database)

    want = {g.key: g for g in expected.privilege_grants}
    have = {g.key: g for g in actual.privilege_grants if in_scope(g)}
    for k, g in sorted(want.items(), key=lambda kv: str(kv[1])):
        if k not in have and g.on.scope != "ALL":  # ALL expands to per-object rows, or none in an empty schema
            out.fail(f"GRANT {g}: declared, missing from the account")
    for k, g in sorted(have.items(), key=lambda kv: str(kv[1])):
        if not (k in want or _covered(g, want.values()) or expected_owner(g)):
            out.fail(f"GRANT {g}: on the account, declared by no manifest")
    want_roles = {g.key for g in expected.role_grants}
    have_roles = {g.key for g in actual.role_grants if g.role in ours or g.to in ours}
    for role, to in sorted(want_roles - have_roles):
        out.fail(f"GRANT {role} to {to}: declared, missing from the account")
    for role, to in sorted(have_roles - want_roles):
        out.fail(f"GRANT {role} to {to}: on the account, declared by no manifest")
    for role in sorted(expected.roles - actual.roles):
        out.fail(f"role {role}: declared, missing from the account")
    for role in sorted(r for r in actual.roles - expected.roles if r.database in scope):
        out.fail(f"database role {role}: on the account, declared by no manifest")
    out.proven.append(f"{len(want.keys() & have.keys()) + len(want_roles & have_roles)} grants agree")
    return out


def target_query(target: Any) -> Query:
    """Run SHOW commands on a snowmesh.target.Target, rows as dicts keyed by lower-case column."""
    import snowflake.connector

    def run(sql: str) -> list[dict[str, Any]]:
        try:
            with target.conn.cursor() as cur:
                cur.execute(sql)
                cols = [c[0].lower() for c in cur.description or ()]
                return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        except snowflake.connector.errors.ProgrammingError as exc:
            raise ConnectionConfigError(
                f"{sql}: {exc.msg or exc}",
                hint="the connection's role must see every domain role's grants (MANAGE GRANTS, or SECURITYADMIN)",
            ) from None

    return run


__all__ = ["Query", "account_drift", "callable_key", "collect", "grant_row", "holder_row", "split_name", "target_query"]
