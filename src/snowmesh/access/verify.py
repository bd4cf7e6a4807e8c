"""The proofs over a privilege graph, and the comparison of two layers of grants.

Each check walks every role a domain owns through every role it inherits, and judges every
privilege it reaches; a violation carries the chain that causes it. The graph is the whole
truth here only because schemas use managed access (object owners cannot grant around it),
which the ``graph`` check asserts for the rendered plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snowmesh.access.graph import Graph, PrivilegeGrant, Reach, Role, RoleGrant, is_write, procedure_key
from snowmesh.access.procs import ProcedureDecl, manifest_inputs
from snowmesh.access.report import CheckResult
from snowmesh.deploy.plan import GOVERNANCE_DB, GOVERNANCE_SCHEMAS, PLATFORM_ROLE
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.manifest.model import PRODUCTS, SCHEMAS, Domain, Mesh

if TYPE_CHECKING:
    from snowmesh.deploy.project_file import ProcedureSpec

# Administrative roles above the functional roles by design; they are not "someone else".
PLATFORM_ROLES = frozenset({Role(PLATFORM_ROLE), Role("ACCOUNTADMIN")})
Name = tuple[str, ...]


@dataclass
class Context:
    mesh: Mesh
    graph: Graph
    procedures: list[ProcedureDecl]
    objects: dict[Name, str] = field(default_factory=dict)  # every table/view the mesh creates -> its type
    # Every procedure snowflake.yml ships, with who may CALL it (project_file.procedure_specs).
    callables: list[ProcedureSpec] = field(default_factory=list)

    def callable_names(self, caller: Domain, database: str) -> set[Name]:
        """The procedures in ``database`` that ``caller``'s analysts are declared to CALL."""
        return {procedure_securable(s) for s in self.callables if s.database == database and caller.name in s.callers}

    def domain_of(self, role: Role) -> Domain | None:
        for d in self.mesh.domains:
            owns = role.database == d.database if role.is_database_role else role.name in functional_roles(d, wh=True)
            if owns:
                return d
        return None

    def domain_roles(self, d: Domain) -> list[Role]:
        """The roles a domain owns: its account roles and the database roles in its database."""
        known = self.graph.roles | self.graph.referenced_roles
        own = {Role(n) for n in functional_roles(d, wh=True)} | {r for r in known if r.database == d.database}
        return sorted(own & known)

    def account_roles(self) -> list[Role]:
        return sorted(r for r in self.graph.roles | self.graph.referenced_roles if not r.is_database_role)


def procedure_securable(spec: ProcedureSpec) -> Name:
    return (spec.database, spec.schema, procedure_key(spec.name, spec.arg_types))


def functional_roles(d: Domain, *, wh: bool = False) -> tuple[str, ...]:
    return (d.engineer_role, d.analyst_role, *((d.wh_usage_role,) if wh else ()))


def object_inventory(mesh: Mesh, statements: Iterable[Statement], procedures: Iterable[ProcedureDecl]) -> dict[Name, str]:
    """Tables the plan creates, tables the procedures build, published tables and views."""
    out: dict[Name, str] = {tuple(s.object_name.split(".")): "TABLE" for s in statements if s.kind == Kind.TABLE}
    out.update({p.output: "TABLE" for p in procedures})
    for d in mesh.domains:
        for p in d.products:
            out[(d.database, PRODUCTS, p.name)] = "TABLE"  # the validated clone the view reads
            out[(d.database, PRODUCTS, p.view)] = "VIEW"
    return out


def _needs(action: str, type_: str, name: Name) -> list[tuple[str, str, Name]]:
    """The privileges that reading (or building) one object takes."""
    base = [("USAGE", "DATABASE", name[:1]), ("USAGE", "SCHEMA", name[:2])]
    if action == "read":
        return [*base, ("SELECT", type_, name)]
    # save_as_table(mode="overwrite") re-creates the table, then inserts into it.
    return [*base, ("CREATE TABLE", "SCHEMA", name[:2]), ("INSERT", "TABLE", name)]


def can(g: Graph, role: Role, action: str, type_: str, name: Name) -> tuple[list[Reach], list[str]]:
    """(how each needed privilege is held, what is missing) for ``role`` to read/write ``name``."""
    held, missing = [], []
    for priv, t, n in _needs(action, type_, name):
        r = g.find(role, priv, t, n)
        if r is None:
            missing.append(f"{priv} on {'.'.join(n)}")
        else:
            held.append(r)
    return held, missing


def check_graph(ctx: Context, *, declared_roles: bool = True) -> CheckResult:
    """``declared_roles``: every role must be created by the same layer (true of a plan, not an account)."""
    out = CheckResult("graph")
    g = ctx.graph
    if declared_roles:  # the plan must create every role it grants to (the account has others)
        # SNOWFLAKE's database roles (SNOWFLAKE.PYPI_REPOSITORY_USER) are Snowflake's own: granted, never created.
        for role in sorted(r for r in g.referenced_roles - g.roles - PLATFORM_ROLES if r.database != "SNOWFLAKE"):
            out.fail(f"role {role} is granted or receives grants, but nothing creates it")
    for pg in sorted(g.privilege_grants):
        if pg.to.is_database_role and pg.on.database != pg.to.database:
            out.fail(f"database role {pg.to} holds a privilege outside {pg.to.database}", f"{pg.to} -> {pg}")
    for rg in sorted(g.role_grants):
        if rg.to.is_database_role and rg.role.database != rg.to.database:
            out.fail(f"{rg.role} is granted to a database role of another database", str(rg))
    schemas = [*((d.database, s) for d in ctx.mesh.domains for s in SCHEMAS),
               *((GOVERNANCE_DB, s) for s in GOVERNANCE_SCHEMAS)]
    for db, s in schemas:
        if (db, s) not in g.managed_schemas:
            out.fail(f"schema {db}.{s} is not managed access: object owners could grant around this graph")
    out.proven.append(f"{len(g.roles)} roles, {len({x.key for x in g.role_grants})} role grants, "
                      f"{len({x.key for x in g.privilege_grants})} privilege grants")
    return out


def check_isolation(ctx: Context) -> CheckResult:
    out = CheckResult("isolation")
    for a in ctx.mesh.domains:
        others = {d.database: d for d in ctx.mesh.domains if d is not a}
        warehouses = {d.warehouse.name: d for d in ctx.mesh.domains if d is not a}
        roles = ctx.domain_roles(a)
        for role in roles:
            for r in ctx.graph.reach(role):
                on, priv = r.grant.on, r.grant.privilege
                if on.database in others and is_write(priv):
                    out.fail(f"{a.name} role {role} holds {priv} on {others[on.database].name}'s database",
                             r.render())
                if on.type == "WAREHOUSE" and on.name[0] in warehouses:
                    b = warehouses[on.name[0]]
                    out.fail(f"{a.name} role {role} holds {priv} on {b.name}'s warehouse (its queries would "
                             f"bill to {b.name})", r.render())
        dbs = ", ".join(sorted(others)) or "no other database"
        out.proven.append(f"{a.name}: {len(roles)} roles reach no write or ownership on {dbs}")
    return out


def _published(producer: Domain, g: PrivilegeGrant, procedures: set[Name]) -> bool:
    """Part of the surface ``producer`` offers a consumer: ``procedures`` are the analyst procedures
    of the producer that consumer may CALL."""
    on, db = g.on, producer.database
    if g.privilege == "USAGE" and on.type == "PROCEDURE" and not on.scope and on.name in procedures:
        return True
    if g.privilege == "USAGE" and on.type == "DATABASE" and on.name == (db,):
        return True
    if g.privilege == "USAGE" and on.type == "SCHEMA" and on.name == (db, PRODUCTS):
        return True
    # The product views, and PUBLICATIONS: what a consumer's stream reads to run after each publish
    # (snowmesh.pipeline.triggers) -- product names, versions and times, no product data.
    from governance.publish import PUBLICATIONS_VIEW

    views = {p.view for p in producer.products} | {PUBLICATIONS_VIEW}
    return (g.privilege == "SELECT" and on.type == "VIEW" and not on.scope and on.name[:2] == (db, PRODUCTS)
            and on.name[2] in views)


def check_consumer_surface(ctx: Context) -> CheckResult:
    out = CheckResult("consumer-surface")
    for c in ctx.mesh.domains:
        for p in ctx.mesh.domains:
            if p is c:
                continue
            seen: set[str] = set()
            procedures = ctx.callable_names(c, p.database)
            for role in ctx.domain_roles(c):
                if role.is_database_role:
                    continue
                for r in ctx.graph.reach(role):
                    if r.grant.on.database != p.database:
                        continue
                    if _published(p, r.grant, procedures):
                        seen.add(f"{r.grant.privilege} on {r.grant.on}")
                        continue
                    on = r.grant.on
                    what = (f"the {on.name[1]} schema" if on.schema and on.name[1] != PRODUCTS
                            else "a table" if on.type == "TABLE" else f"{on}")
                    out.fail(f"{c.name} reaches {what} of {p.name}: only published secure views are allowed",
                             r.render())
            reached = f"only {'; '.join(sorted(seen))}" if seen else "nothing"
            out.proven.append(f"{c.name} -> {p.name}: reaches {reached}")
    return out


def check_procedures(ctx: Context) -> CheckResult:
    out = CheckResult("procedures")
    g = ctx.graph
    for decl in ctx.procedures:
        p, role = decl.product, Role(decl.runs_as)
        d = ctx.mesh.domain(p.domain)
        label = f"{p.key} ({decl.file}) runs as {role}"
        wh = g.find(role, "USAGE", "WAREHOUSE", (d.warehouse.name,))
        if wh is None:
            out.fail(f"{label} but cannot use its warehouse {d.warehouse.name}")
        declared = manifest_inputs(ctx.mesh, p)
        where = f"{d.path.relative_to(ctx.mesh.root)}: products[{d.products.index(p)}].inputs"
        for name in decl.inputs:
            fq = ".".join(name)
            if name not in declared:
                out.fail(f"{label} and reads {fq}, which {where} does not declare")
            type_ = ctx.objects.get(name)
            if type_ is None:
                out.fail(f"{label} and reads {fq}, which the mesh does not create")
                continue
            held, missing = can(g, role, "read", type_, name)
            if missing:
                out.fail(f"{label} and cannot read {fq}: no {', '.join(missing)} (deploy would fail with "
                         "insufficient privileges)", "; ".join(h.render() for h in held))
            else:
                out.proven.append(f"{p.key} reads {fq}: {held[-1].render()}")
        if decl.output != decl.expected_output:
            out.fail(f"{label} and writes {'.'.join(decl.output)}, but the pipeline publishes "
                     f"{'.'.join(decl.expected_output)}")
        held, missing = can(g, role, "write", "TABLE", decl.output)
        if missing:
            out.fail(f"{label} and cannot write {'.'.join(decl.output)}: no {', '.join(missing)}",
                     "; ".join(h.render() for h in held))
        else:
            how = "; ".join(h.render() for h in held[-2:])  # CREATE TABLE and INSERT
            out.proven.append(f"{p.key} writes {'.'.join(decl.output)}: {how}")
    from snowmesh.access.governance import check_ingest  # it builds on this module's helpers

    check_ingest(ctx, out)
    return out


def _readers(ctx: Context, view: Name) -> dict[Role, Reach]:
    out = {}
    for role in ctx.account_roles():
        held, missing = can(ctx.graph, role, "read", "VIEW", view)
        if not missing:
            out[role] = held[-1]
    return out


def check_consumers(ctx: Context) -> CheckResult:
    out = CheckResult("consumers")
    for p in ctx.mesh.products:
        owner = ctx.mesh.domain(p.domain)
        view = (owner.database, PRODUCTS, p.view)
        fq = ".".join(view)
        readers = _readers(ctx, view)
        allowed = {Role(n) for n in functional_roles(owner)} | PLATFORM_ROLES
        for c in p.consumers:
            consumer = ctx.mesh.domain(c)
            for name in functional_roles(consumer):
                allowed.add(Role(name))
                if Role(name) in readers:
                    out.proven.append(f"{p.key} -> {c}: {readers[Role(name)].render()}")
                    continue
                _, missing = can(ctx.graph, Role(name), "read", "VIEW", view)
                out.fail(f"{c} is a declared consumer of {p.key}, but {name} cannot read {fq}: "
                         f"no {', '.join(missing)}")
        if not p.consumers:
            out.proven.append(f"{p.key}: no declared consumer")
        for role, reach in sorted(readers.items()):
            if role not in allowed:
                who = ctx.domain_of(role)
                label = f"{who.name}'s role {role}" if who else f"role {role} (no domain's)"
                out.fail(f"{label} can read {fq}, but is not a declared consumer of {p.key}", reach.render())
    return out


def _outsiders(ctx: Context, out: CheckResult) -> None:
    """Roles that are no domain's and not the platform's must reach nothing in a domain database."""
    dbs = {d.database for d in ctx.mesh.domains}
    for role in ctx.account_roles():
        if role in PLATFORM_ROLES or ctx.domain_of(role):
            continue
        for r in ctx.graph.reach(role):
            if r.grant.on.database in dbs and not _validates(role, r):
                out.fail(f"role {role} belongs to no domain but reaches {r.grant.on.database}", r.render())


def _validates(role: Role, r: Reach) -> bool:
    """The governance role's VALIDATE_PRODUCT reads a domain's STAGING (USAGE, SELECT), nothing else."""
    from snowmesh.deploy.plan import GOVERNANCE_ROLE, STAGING

    on, priv = r.grant.on, r.grant.privilege
    if role != Role(GOVERNANCE_ROLE):
        return False
    return (priv == "USAGE" and on.type == "DATABASE") or (on.name[1:2] == (STAGING,) and priv in ("USAGE", "SELECT")
                                                           and on.type in ("SCHEMA", "TABLE"))


_CALL_PRIVILEGES = frozenset({"USAGE", "ALL", "ALL PRIVILEGES"})  # OWNERSHIP: the deploying role, not a grant


def _usage(g: Graph, role: Role, name: Name) -> Reach | None:
    """How ``role`` holds USAGE on procedure ``name`` (one overload), if it does."""
    for r in g.reach(role):
        if r.grant.privilege in _CALL_PRIVILEGES and r.grant.on.covers("PROCEDURE", name):
            return r
    return None


def check_procedure_usage(ctx: Context) -> CheckResult:
    """Who can CALL which procedure.

    An analyst procedure's declared callers hold everything a CALL takes: USAGE on the database,
    the schema and the overload, a warehouse of their own, and -- caller's rights -- SELECT on every
    view the handler reads. No other role holds USAGE on any procedure, so the pipeline's
    procedures are callable by no analyst or consumer. An owner's-rights procedure open to
    analysts must read no product view (it would read it with the owner's grants).
    """
    out = CheckResult("procedure-usage")
    g = ctx.graph
    known = {procedure_securable(s): s for s in ctx.callables}
    roles = sorted(g.roles | g.referenced_roles)
    for name, spec in known.items():
        fq = ".".join(name)
        callers = [ctx.mesh.domain(c) for c in spec.callers]
        allowed = {Role(d.analyst_role) for d in callers} | PLATFORM_ROLES
        rights = "caller's" if spec.execute_as_caller else "owner's"
        for d in callers:
            role = Role(d.analyst_role)
            call = _usage(g, role, name)
            missing = [] if call else [f"USAGE on {fq}"]
            missing += [f"USAGE on {'.'.join(n)}" for t, n in (("DATABASE", name[:1]), ("SCHEMA", name[:2]))
                        if g.find(role, "USAGE", t, n) is None]
            if spec.execute_as_caller:  # the handler reads with the caller's grants
                for view in spec.inputs:
                    missing += can(g, role, "read", "VIEW", tuple(view.split(".")))[1]
            if g.find(role, "USAGE", "WAREHOUSE", (d.warehouse.name,)) is None:
                missing.append(f"USAGE on its warehouse {d.warehouse.name}")
            missing = list(dict.fromkeys(missing))
            if missing:
                out.fail(f"{d.name} analysts are declared callers of {fq}, but {role} cannot CALL it: "
                         f"no {', '.join(missing)}")
            else:
                assert call is not None
                out.proven.append(f"{role} can CALL {fq} ({rights} rights): {call.render()}")
        if spec.callers and not spec.execute_as_caller and spec.inputs:
            out.fail(f"{fq} runs with the owner's rights but reads {', '.join(spec.inputs)}: its callers would "
                     "read through the owner's grants", "execute_as_caller: false in snowflake.yml")
        for role in roles:
            if role in allowed:
                continue
            r = _usage(g, role, name)
            if r is None:
                continue
            who = ctx.domain_of(role)
            label = f"{who.name}'s role {role}" if who else f"role {role}"
            if spec.callers:
                out.fail(f"{label} can CALL {fq}, but only {', '.join(sorted(str(a) for a in allowed - PLATFORM_ROLES))} "
                         "may", r.render())
            else:
                out.fail(f"{label} can CALL the pipeline procedure {fq}: only its task graph runs it", r.render())
        if not spec.callers:
            out.proven.append(f"{fq}: pipeline procedure, USAGE granted to no role")
    for pg in sorted(g.privilege_grants):
        if pg.on.type == "PROCEDURE" and not pg.on.scope and pg.on.name not in known:
            out.fail(f"{pg.to} holds {pg.privilege} on {pg.on}, a procedure snowflake.yml does not ship")
    return out


def prove(ctx: Context, *, declared_roles: bool = True) -> list[CheckResult]:
    from snowmesh.access.governance import check_governance  # it builds on this module's helpers

    consumers = check_consumers(ctx)
    _outsiders(ctx, consumers)
    return [check_graph(ctx, declared_roles=declared_roles), check_isolation(ctx),
            check_consumer_surface(ctx), check_procedures(ctx), consumers, check_procedure_usage(ctx),
            check_governance(ctx)]


Edge = Role | RoleGrant | PrivilegeGrant


def _keys(g: Graph, keep: Callable[[Edge], bool]) -> dict[object, Edge]:
    items: list[Edge] = [*g.roles, *g.role_grants, *g.privilege_grants]
    return {(i if isinstance(i, Role) else i.key): i for i in items if keep(i)}


def diff_layers(check_id: str, expected: Graph, actual: Graph, keep: Callable[[Edge], bool],
                names: tuple[str, str]) -> CheckResult:
    """Report each role or grant only one of two layers holds (``keep`` selects what is compared)."""
    out = CheckResult(check_id)
    want, have = _keys(expected, keep), _keys(actual, keep)
    for k in sorted(want.keys() - have.keys(), key=str):
        out.fail(f"{_describe(want[k])}: in {names[0]}, missing from {names[1]}")
    for k in sorted(have.keys() - want.keys(), key=str):
        out.fail(f"{_describe(have[k])}: in {names[1]}, not declared in {names[0]}")
    out.proven.append(f"{len(want.keys() & have.keys())} roles and grants agree")
    return out


def _describe(item: Edge) -> str:
    if isinstance(item, Role):
        return f"{'database role' if item.is_database_role else 'role'} {item}"
    return f"GRANT {item}"


def _subject(item: Edge) -> Role:
    """The database role an edge is about: the role itself, the role granted, the grantee."""
    return item if isinstance(item, Role) else item.role if isinstance(item, RoleGrant) else item.to


def is_consumer_edge(item: Edge) -> bool:
    """The consumer part of a graph: CONSUMER_<X> database roles, their privileges and grants."""
    role = _subject(item)
    return role.is_database_role and role.name.startswith("CONSUMER_")


def is_governance_edge(item: Edge) -> bool:
    """The governance part: GOVERNANCE_DB's database roles, their privileges and who holds them.
    (The analysts' USAGE on GOVERNANCE_DB for PRODUCT_HEALTH is the plan's alone, like every
    procedure grant.)"""
    return _subject(item).database == GOVERNANCE_DB


__all__ = ["PLATFORM_ROLES", "Context", "can", "check_procedure_usage", "diff_layers", "is_consumer_edge",
           "is_governance_edge", "object_inventory", "procedure_securable", "prove"]
