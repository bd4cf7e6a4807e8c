"""Proof 8, readers: analysts read published views only.

Masking is on the published views' columns (tags set by the publish step); a table read -- RAW,
STAGING, or the validated clone ``PRODUCTS.<P>`` behind a view -- would show a protected column
unmasked, because no tag is set there. So every privilege an analyst role reaches in a domain
database (its own or, as a consumer, another's) must be USAGE on the database or on PRODUCTS,
SELECT on a view of PRODUCTS (named, or ALL/FUTURE views there), or USAGE on a procedure (proof 5
judges which). Engineers read RAW and STAGING of their own domain: the raw reader R, through W.

Pure: the graph in, a CheckResult out.
"""

from __future__ import annotations

from snowmesh.access.graph import PrivilegeGrant, Role
from snowmesh.access.report import CheckResult
from snowmesh.manifest.model import PRODUCTS, Mesh


def _product_read(g: PrivilegeGrant) -> bool:
    on = g.on
    if g.privilege == "USAGE" and (on.type == "DATABASE" or (on.type == "SCHEMA" and on.name[1] == PRODUCTS)):
        return True
    if g.privilege == "USAGE" and on.type == "PROCEDURE":
        return True  # who may CALL what is proof 5's
    return g.privilege == "SELECT" and on.type == "VIEW" and on.name[1] == PRODUCTS


def check_readers(mesh: Mesh, graph) -> CheckResult:  # graph: access.graph.Graph
    out = CheckResult("readers")
    dbs = {d.database for d in mesh.domains}
    for d in mesh.domains:
        role = Role(d.analyst_role)
        reached = 0
        for r in graph.reach(role):
            if r.grant.on.database not in dbs:
                continue
            if _product_read(r.grant):
                reached += 1
                continue
            out.fail(f"{d.name}'s analysts reach {r.grant.privilege} on {r.grant.on}: analysts read published views "
                     "only (a table or RAW/STAGING read bypasses the views' masking)", r.render())
        out.proven.append(f"{role}: {reached} privilege(s) in domain databases, all on published views")
    return out


__all__ = ["check_readers"]
