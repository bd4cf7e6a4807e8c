"""Product versions: a breaking change publishes ``<P>_V2`` next to ``<P>_V1`` for a while.

The manifest names the *current* contract (``contract: contracts/<d>/<p>/v2.json``). Older
majors are the sibling files ``v1.json`` ... of the same folder: no manifest change, and the
folder already is the product's version history. An older major is

* **served** while its ``x-product.deprecation_date`` (ISO date, on the OLD contract) is today
  or later and its status is not ``retired``: its view ``<P>_V<N>`` reads the columns it
  promised from the current published table ``PRODUCTS.<P>``;
* **expired** once that date has passed: the deploy drops its view and revokes its grants --
  only when no consumer's handler still names it in ``INPUTS``, else the deploy fails with
  their names and changes nothing;
* **gone** when it has no deprecation date or its status is ``retired`` (nothing rendered).

Retirement converges without touching the contract: the plan renders an expired version's
REVOKE + DROP until its status says ``retired``, and :func:`unretired` (called by the deploy's
apply) leaves those statements out once the view no longer exists -- a REVOKE on a dropped
view fails on a real account, and there is nothing left to revoke.

Pure, apart from :func:`unretired`: reads contract files and handler sources (with ``ast``,
never importing them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from governance.sql import fqn, literal, split_fqn
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.errors import InputError
from snowmesh.manifest.model import PRODUCTS, Mesh, Product

_VERSION_FILE = re.compile(r"v([0-9]+)\.json")


class RetirementBlocked(InputError):
    """An expired version still has consumers: retiring it would break them (exit 2)."""


@dataclass(frozen=True)
class Version:
    product: Product
    major: int
    contract: str  # path relative to the mesh root
    status: str
    version: str
    deprecation_date: date | None

    @property
    def view(self) -> str:
        return f"{self.product.name}_V{self.major}"

    @property
    def current(self) -> bool:
        return self.major == self.product.major

    def state(self, today: date) -> str:
        """current | served | expired | gone."""
        if self.current:
            return "current"
        if self.status == "retired" or self.deprecation_date is None:
            return "gone"
        return "served" if today <= self.deprecation_date else "expired"


def _doc(mesh: Mesh, rel: str) -> dict[str, Any]:
    try:
        return json.loads((mesh.root / rel).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{rel}: cannot read the contract: {exc}") from None


def _date(rel: str, meta: dict[str, Any]) -> date | None:
    raw = meta.get("deprecation_date")
    if raw is None:
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise InputError(f"{rel}: $.x-product.deprecation_date: {raw!r} is not an ISO date (YYYY-MM-DD)") from None


def versions(mesh: Mesh, p: Product) -> list[Version]:
    """Every contract major of ``p`` up to the current one, oldest first."""
    folder = Path(p.contract).parent
    out = []
    for f in sorted((mesh.root / folder).glob("v*.json")):
        m = _VERSION_FILE.fullmatch(f.name)
        if not m or int(m.group(1)) > p.major:
            continue  # a newer draft next to the current contract is not served yet
        rel = str(folder / f.name)
        meta = _doc(mesh, rel).get("x-product") or {}
        major = int(m.group(1))
        out.append(Version(p, major, rel, str(meta.get("status") or "active"),
                           str(meta.get("version") or f"{major}.0.0"), _date(rel, meta)))
    return sorted(out, key=lambda v: v.major)


def previous(mesh: Mesh, p: Product, today: date, state: str = "served") -> list[Version]:
    return [v for v in versions(mesh, p) if v.state(today) == state]


def columns(mesh: Mesh, rel: str) -> list[str]:
    return list(_doc(mesh, rel)["properties"])


def check_servable(mesh: Mesh, v: Version) -> list[str]:
    """V<N>'s columns, in its contract's order; fail when the current table no longer has one.

    The old view keeps its promised column list; a column the new contract dropped or renamed
    cannot be served from the current table, so the plan stops with the names (no guessing).
    """
    old, new = columns(mesh, v.contract), set(columns(mesh, v.product.contract))
    missing = [c for c in old if c not in new]
    if missing:
        raise InputError(
            f"{v.contract}: {v.view} cannot be served during its deprecation window: the current contract "
            f"{v.product.contract} has no column {', '.join(missing)}",
            hint="keep the column in the new version until the old one is retired, or set the old "
                 "contract's x-product.status to retired",
        )
    return old


def dependents(mesh: Mesh, v: Version) -> list[str]:
    """``<DOMAIN>.<PRODUCT>`` of every product whose handler INPUTS name ``v``'s view."""
    from snowmesh.access.procs import read_declaration  # lazy: access imports the deploy layer

    d = mesh.domain(v.product.domain)
    target = (d.database, PRODUCTS, v.view)
    return [q.key for q in mesh.products if target in read_declaration(mesh, q).inputs]


def consumers(mesh: Mesh, v: Version) -> list[str]:
    """Consumers still reading an old version: dependent products' domains (declared ones)."""
    return sorted({k.split(".")[0] for k in dependents(mesh, v)})


def check_retirements(mesh: Mesh, today: date) -> list[Version]:
    """The expired versions to retire now; raises RetirementBlocked naming who still reads one."""
    expired = [v for p in mesh.products for v in previous(mesh, p, today, "expired")]
    blocked = [(v, dependents(mesh, v)) for v in expired]
    blocked = [(v, deps) for v, deps in blocked if deps]
    if blocked:
        lines = "; ".join(
            f"{mesh.domain(v.product.domain).database}.{PRODUCTS}.{v.view} (deprecated until {v.deprecation_date}) "
            f"is still read by {', '.join(deps)}"
            for v, deps in blocked
        )
        raise RetirementBlocked(
            f"cannot retire: {lines}; nothing was changed",
            hint="move those handlers' INPUTS to the current view, or extend x-product.deprecation_date",
        )
    return expired


# --- retirement on an account: compare, then apply ----------------------------------------------

def _retired_view(s: Statement) -> tuple[str, str, str] | None:
    """The view a retirement statement (render.revoke_on ... ON VIEW, render.drop_view) is about."""
    if (s.kind == Kind.REVOKE and " ON VIEW " in s.sql) or (s.kind == Kind.DROP and s.sql.startswith("DROP VIEW ")):
        parts = split_fqn(s.object_name)
        if len(parts) == 3:
            return (parts[0], parts[1], parts[2])
    return None


def existing_views_sql(database: str, schema: str, names: Sequence[str]) -> str:
    return (f"SELECT TABLE_NAME FROM {fqn(database)}.INFORMATION_SCHEMA.VIEWS "
            f"WHERE TABLE_SCHEMA = {literal(schema)} AND TABLE_NAME IN ({', '.join(literal(n) for n in names)})")


def existing_views(target: Any, views: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Which of ``views`` exist: INFORMATION_SCHEMA.VIEWS, one query per database and schema (the same
    on the local account and a real one; there it lists the views the deploying role can see)."""
    found: set[tuple[str, str, str]] = set()
    for db, schema in sorted({(d, s) for d, s, _ in views}):
        names = sorted(v for d, s, v in views if (d, s) == (db, schema))
        try:
            rows = target.sql(existing_views_sql(db, schema, names))
        except Exception as exc:  # no database yet (first deploy): no view in it either
            if "does not exist" not in str(exc).lower():
                raise
            rows = []
        found |= {(db, schema, str(row[0])) for row in rows}
    return found


def unretired(target: Any, statements: Sequence[Statement]) -> tuple[list[Statement], list[str]]:
    """Leave out the REVOKE / DROP VIEW of versions whose view is already gone.

    The first deploy after the deprecation date revokes and drops (the view exists); every later
    one finds no view and sends nothing for it. Returns (statements, the views left alone).
    """
    retiring = {v for s in statements if (v := _retired_view(s))}
    if not retiring:
        return list(statements), []
    gone = retiring - existing_views(target, retiring)
    kept = [s for s in statements if _retired_view(s) not in gone]
    return kept, sorted(".".join(v) for v in gone)


__all__ = ["RetirementBlocked", "Version", "check_retirements", "check_servable", "consumers", "dependents",
           "existing_views", "existing_views_sql", "previous", "unretired", "versions"]
