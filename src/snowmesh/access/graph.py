"""The privilege graph: roles, the roles they inherit, and the privileges each role holds.

Nodes are account roles, database roles and securables (database, schema, table, view,
procedure -- named with its argument types, one overload each --, warehouse ...). Edges are ``role -> role`` (GRANT ROLE / GRANT DATABASE ROLE: the grantee
inherits the granted role) and ``role -> privilege -> securable``. Every question the
verifier asks is "which privileges does this role reach, and through which chain of roles";
the answer carries that chain so a violation can print the path that causes it:

    FINANCE_ENGINEER -> MARKETING_DB.W -> INSERT on MARKETING_DB.RAW.* (future tables)

Pure data and graph walks: no SQL, no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# Securables that live in the account, not in a database.
ACCOUNT_LEVEL = frozenset({"WAREHOUSE", "INTEGRATION", "ROLE", "ACCOUNT", "RESOURCE_MONITOR", "USER"})
SCOPES = ("ALL", "FUTURE")

# Privileges that change data or structure. "CREATE <X>" is matched by prefix.
WRITE_PRIVILEGES = frozenset(
    {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "OWNERSHIP", "WRITE", "MODIFY", "ALL", "ALL PRIVILEGES",
     "APPLYBUDGET", "EVOLVE SCHEMA", "REBUILD"}
)  # fmt: skip
# Holding one of these implies holding any privilege on the same securable.
IMPLIES_ALL = frozenset({"OWNERSHIP", "ALL", "ALL PRIVILEGES"})


def is_write(privilege: str) -> bool:
    return privilege in WRITE_PRIVILEGES or privilege.startswith("CREATE ")


@dataclass(frozen=True, order=True)
class Role:
    """An account role (``database == ""``) or a database role ``<database>.<name>``."""

    name: str
    database: str = ""

    @property
    def is_database_role(self) -> bool:
        return bool(self.database)

    def __str__(self) -> str:
        return f"{self.database}.{self.name}" if self.database else self.name


def procedure_key(name: str, arg_types: Iterable[str]) -> str:
    """The last part of a procedure's securable name: ``NAME(TYPE, TYPE)``, one overload."""
    return f"{name}({', '.join(arg_types)})"


@dataclass(frozen=True, order=True)
class Securable:
    """What a privilege is on.

    ``scope == ""``: one named object (``type`` singular: TABLE, VIEW, SCHEMA ...).
    ``scope == "ALL" | "FUTURE"``: every ``type`` (TABLE or VIEW) in schema ``name``.
    """

    type: str
    name: tuple[str, ...]
    scope: str = ""

    @property
    def database(self) -> str | None:
        return None if self.type in ACCOUNT_LEVEL else self.name[0]

    @property
    def schema(self) -> tuple[str, str] | None:
        return (self.name[0], self.name[1]) if self.database and len(self.name) >= 2 else None

    def covers(self, type_: str, name: tuple[str, ...]) -> bool:
        """Does a privilege on this securable apply to the object ``type_ name``?

        ALL and FUTURE grants both count: the mesh renders the pair, so an object created
        before or after the grant is covered either way (docs/security.md).
        """
        if not self.scope:
            return self.type == type_ and self.name == name
        return self.type == type_ and len(name) == 3 and name[:2] == self.name

    def __str__(self) -> str:
        dotted = ".".join(self.name)
        if self.scope:
            return f"{dotted}.* ({self.scope.lower()} {self.type.lower()}s)"
        return dotted


@dataclass(frozen=True, order=True)
class PrivilegeGrant:
    privilege: str
    on: Securable
    to: Role
    source: str = "sql"

    @property
    def key(self) -> tuple[str, Securable, Role]:
        """Identity without provenance, for comparing two layers."""
        return (self.privilege, self.on, self.to)

    def __str__(self) -> str:
        return f"{self.privilege} on {self.on} to {self.to}"


@dataclass(frozen=True, order=True)
class RoleGrant:
    """``role`` is granted to ``to``: ``to`` inherits everything ``role`` holds."""

    role: Role
    to: Role
    source: str = "sql"

    @property
    def key(self) -> tuple[Role, Role]:
        return (self.role, self.to)

    def __str__(self) -> str:
        return f"{self.role} granted to {self.to}"


@dataclass(frozen=True)
class Reach:
    """A privilege a role holds, and the chain of roles it holds it through."""

    chain: tuple[Role, ...]
    grant: PrivilegeGrant

    def render(self) -> str:
        hops = [str(r) for r in self.chain]
        layer = " [terraform]" if self.grant.source == "terraform" else ""  # the SQL plan is the default layer
        return " -> ".join([*hops, f"{self.grant.privilege} on {self.grant.on}{layer}"])


@dataclass
class Graph:
    roles: set[Role] = field(default_factory=set)
    role_grants: set[RoleGrant] = field(default_factory=set)
    privilege_grants: set[PrivilegeGrant] = field(default_factory=set)
    # Schemas whose grants only the schema owner can make (ALTER SCHEMA ... ENABLE MANAGED ACCESS).
    managed_schemas: set[tuple[str, str]] = field(default_factory=set)

    def add(self, item: Role | RoleGrant | PrivilegeGrant) -> None:
        if isinstance(item, Role):
            self.roles.add(item)
        elif isinstance(item, RoleGrant):
            self.role_grants.add(item)
        else:
            self.privilege_grants.add(item)

    def extend(self, items: Iterable[Role | RoleGrant | PrivilegeGrant]) -> None:
        for item in items:
            self.add(item)

    def merged(self, other: Graph) -> Graph:
        return Graph(
            self.roles | other.roles,
            self.role_grants | other.role_grants,
            self.privilege_grants | other.privilege_grants,
            self.managed_schemas | other.managed_schemas,
        )

    @property
    def referenced_roles(self) -> set[Role]:
        out = {g.to for g in self.privilege_grants}
        for g in self.role_grants:
            out |= {g.role, g.to}
        return out

    def _children(self) -> dict[Role, list[Role]]:
        children: dict[Role, list[Role]] = {}
        for g in sorted(self.role_grants):
            children.setdefault(g.to, []).append(g.role)
        return children

    def inherited(self, role: Role) -> dict[Role, tuple[Role, ...]]:
        """Every role ``role`` holds (itself included), each with its shortest chain."""
        children = self._children()
        chains = {role: (role,)}
        queue = deque([role])
        while queue:
            current = queue.popleft()
            for child in children.get(current, ()):
                if child not in chains:  # BFS: the first chain found is a shortest one
                    chains[child] = (*chains[current], child)
                    queue.append(child)
        return chains

    def reach(self, role: Role) -> Iterator[Reach]:
        """Every privilege ``role`` holds, directly or inherited, in a stable order."""
        by_grantee: dict[Role, list[PrivilegeGrant]] = {}
        for g in sorted(self.privilege_grants):
            by_grantee.setdefault(g.to, []).append(g)
        for held, chain in sorted(self.inherited(role).items(), key=lambda kv: (len(kv[1]), kv[0])):
            for g in by_grantee.get(held, ()):
                yield Reach(chain, g)

    def find(self, role: Role, privilege: str, type_: str, name: tuple[str, ...]) -> Reach | None:
        """The shortest way ``role`` holds ``privilege`` on object ``type_ name``, if any."""
        for r in self.reach(role):
            held = r.grant.privilege
            if (held == privilege or held in IMPLIES_ALL) and r.grant.on.covers(type_, name):
                return r
        return None

    def holders(self, role: Role) -> set[Role]:
        """Every role that inherits ``role`` (itself included)."""
        parents: dict[Role, set[Role]] = {}
        for g in self.role_grants:
            parents.setdefault(g.role, set()).add(g.to)
        seen = {role}
        queue = deque([role])
        while queue:
            for p in parents.get(queue.popleft(), ()):
                if p not in seen:
                    seen.add(p)
                    queue.append(p)
        return seen


__all__ = [
    "ACCOUNT_LEVEL", "Graph", "PrivilegeGrant", "Reach", "Role", "RoleGrant", "Securable", "is_write", "procedure_key",
]  # fmt: skip
