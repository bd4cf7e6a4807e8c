"""Proof 9, lineage: a consumer's product cannot launder a protected input.

Each product handler module declares ``LINEAGE`` -- output column -> the input columns
(``DB.SCHEMA.VIEW.COLUMN``) it is derived from -- for every output derived from a protected
column (``x-classification`` confidential / restricted). For each source column that is
protected:

* the output column's own classification (the product's contract) is at least the source's,
  so the publish tags it and the masking policy protects it in the consumer's view too;
* when the source belongs to another domain, the source column's contract names the consumer in
  its allow-list (a column tag ``unmask-for:<DOMAIN>``): the consumer's build runs with its
  owner's rights, the masking policy sees the owner (the consumer's engineer), and without the
  allow-list it would read the masked value (NULL) and compute from it while every contract
  check passes;
* a product reading a view with protected columns declares its LINEAGE at all (``LINEAGE = {}``
  says that no output column derives from any of them).

What a handler really computes is not inferred: LINEAGE is a declaration, like INPUTS. Pure:
manifests, contracts and handler sources (read with ``ast``) in, a CheckResult out.
"""

from __future__ import annotations

import json
from typing import Any

from snowmesh.access.procs import read_declarations
from snowmesh.access.report import CheckResult
from snowmesh.manifest.model import PRODUCTS, Mesh

RANK = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3, "pii": 3}


def _views(mesh: Mesh) -> dict[tuple[str, str, str], tuple[Any, dict[str, Any]]]:
    """Every served view -> (its product, its contract document)."""
    from snowmesh import versions

    out = {}
    for p in mesh.products:
        db = mesh.domain(p.domain).database
        for v in versions.versions(mesh, p):
            out[(db, PRODUCTS, v.view)] = (p, json.loads((mesh.root / v.contract).read_text()))
    return out


def _cls(prop: dict[str, Any]) -> str:
    return str(prop.get("x-classification", "public")).lower()


def check_lineage(mesh: Mesh) -> CheckResult:
    from snowmesh.policies import PROTECTED, unmask_for

    out = CheckResult("lineage")
    views = _views(mesh)
    for decl in read_declarations(mesh):
        p = decl.product
        doc = json.loads((mesh.root / p.contract).read_text())
        lineage = dict(decl.lineage)
        for view in decl.inputs:
            if view in views and not decl.declares_lineage:  # LINEAGE = {}: none derives from them
                src_doc = views[view][1]
                cols = [c for c, prop in src_doc["properties"].items() if _cls(prop) in PROTECTED]
                if cols:
                    out.fail(f"{p.key} reads {'.'.join(view)}, whose {', '.join(cols)} are protected, but {decl.file} "
                             "declares no LINEAGE")
        for col, sources in lineage.items():
            prop = doc["properties"].get(col)
            if prop is None:
                out.fail(f"{decl.file}: LINEAGE names {col}, which {p.contract} does not declare")
                continue
            for src in sources:
                view, src_col, fq = src[:3], src[3], ".".join(src)
                if view not in decl.inputs or view not in views:
                    out.fail(f"{decl.file}: LINEAGE[{col}] names {fq}, which is not a published view in its INPUTS")
                    continue
                producer, src_doc = views[view]
                src_prop = src_doc["properties"].get(src_col)
                if src_prop is None:
                    out.fail(f"{decl.file}: LINEAGE[{col}] names {fq}: the view has no column {src_col}")
                    continue
                src_cls = _cls(src_prop)
                if src_cls not in PROTECTED:
                    continue
                if RANK.get(_cls(prop), 0) < RANK[src_cls]:
                    out.fail(f"{p.key}.{col} is derived from {fq} ({src_cls}) but {p.contract} classifies it "
                             f"{_cls(prop)}: a consumer would read it unmasked (launders the input)")
                elif producer.domain != p.domain and p.domain not in unmask_for(src_prop):
                    out.fail(f"{p.key}.{col} is derived from {fq} ({src_cls}), but {producer.contract} does not allow "
                             f"{p.domain}'s pipeline to read it in clear (x-tags \"unmask-for:{p.domain}\"): its "
                             "owner's-rights build would read the masked value")
                else:
                    via = "" if producer.domain == p.domain else f", read in clear by {p.domain}'s pipeline (allow-list)"
                    out.proven.append(f"{p.key}.{col} ({_cls(prop)}) <- {fq} ({src_cls}){via}")
    if not out.proven and not out.violations:
        out.proven.append("no product derives a column from a protected input")
    return out


__all__ = ["RANK", "check_lineage"]
