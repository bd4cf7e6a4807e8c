"""Contract version diff, classified from the consumer's side, and the semver gate.

A contract is a promise to consumers. Anything that lets the data do something consumers could
not rely on before is ``breaking`` (major): a removed or renamed column, a type change (except
widening NUMBER precision), a relaxed guarantee. A new optional column or a tightened guarantee
is ``minor``, provided current data already meets it (``verify_on_data``: the CI gate validates
current data against the new contract). Descriptions, tags, the owner and the deprecation date
are ``patch``. The vocabulary of change kinds is listed in docs/contracts.md ("Diff rules").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from governance.contract import Column, Contract, parse_contract
from governance.diff_columns import (
    BREAKING,
    BUMP_FOR,
    MINOR,
    PATCH,
    Change,
    bound,
    column_changes,
    flag,
    fmt,
    greater,
    less,
    pair_columns,
    renamed_column_changes,
)

__all__ = [
    "BREAKING",
    "MINOR",
    "PATCH",
    "Change",
    "ContractDiff",
    "SemverError",
    "bump_kind",
    "diff_contracts",
]

_RANK = {"none": 0, "patch": 1, "minor": 2, "major": 3}


class SemverError(ValueError):
    """The new contract's version bump is smaller than its changes require."""


def bump_kind(old: str, new: str) -> str:
    """``major`` | ``minor`` | ``patch`` | ``none`` | ``downgrade`` between two x.y.z versions."""
    o, n = (tuple(int(p) for p in v.split(".")) for v in (old, new))
    if n == o:
        return "none"
    if n < o:
        return "downgrade"
    return "major" if n[0] > o[0] else "minor" if n[1] > o[1] else "patch"


@dataclass(frozen=True)
class ContractDiff:
    changes: tuple[Change, ...]
    old_version: str
    new_version: str

    @property
    def required_bump(self) -> str:
        return max((BUMP_FOR[c.klass] for c in self.changes), key=_RANK.__getitem__, default="none")

    @property
    def actual_bump(self) -> str:
        return bump_kind(self.old_version, self.new_version)

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.klass == BREAKING]

    @property
    def semver_ok(self) -> bool:
        actual = self.actual_bump
        return actual != "downgrade" and _RANK[actual] >= _RANK[self.required_bump]

    def check_semver(self) -> None:
        """Raise :class:`SemverError` listing the changes that need a bigger bump."""
        if self.semver_ok:
            return
        actual = self.actual_bump
        if actual == "downgrade":
            lines = ["  - the version goes backwards"]
        else:
            lines = [
                f"  - [{c.klass}] {c.detail}"
                for c in self.changes
                if _RANK[BUMP_FOR[c.klass]] > _RANK[actual]
            ]
        hint = ""
        if self.required_bump == "major":
            hint = f" (and a new contract file v{int(self.old_version.split('.')[0]) + 1}.json)"
        raise SemverError(
            f"version {self.old_version} -> {self.new_version} is a {actual} bump, "
            f"but the changes need a {self.required_bump} bump{hint}:\n" + "\n".join(lines)
        )


def _as_contract(c: Contract | dict[str, Any], source: str) -> Contract:
    return c if isinstance(c, Contract) else parse_contract(c, source=source)


def title_problem(c: Contract) -> str | None:
    """The gate's rule (snowmesh.contracts.loading.check_matches_product): the title is the product name.

    The title is the table and view name consumers query, so the diff refuses a file the gate
    would refuse, instead of classifying it.
    """
    if c.title != c.product.name:
        return f"title {c.title!r} is not the product name {c.product.name!r} (x-product.name)"
    return None


def _must(c: Column | None) -> Column:
    assert c is not None  # both names come from the contracts' own column lists
    return c


def diff_contracts(old: Contract | dict[str, Any], new: Contract | dict[str, Any]) -> ContractDiff:
    """Every change from ``old`` to ``new``, classified breaking / minor / patch."""
    o, n = _as_contract(old, "old contract"), _as_contract(new, "new contract")
    out: list[Change] = []
    op, np_ = o.product, n.product
    if (op.domain, op.name) != (np_.domain, np_.name):
        out.append(
            Change(
                "product_renamed", None, f"product {op.domain}.{op.name} -> {np_.domain}.{np_.name}", BREAKING
            )
        )
    if o.title != n.title:  # the table and view consumers query (the gate also requires title == name)
        out.append(Change("title_changed", None, f"title (table name) {o.title} -> {n.title}", BREAKING))
    for key in ("owner", "status"):
        if getattr(op, key) != getattr(np_, key):
            out.append(
                Change(f"{key}_changed", None, f"{key}: {getattr(op, key)} -> {getattr(np_, key)}", PATCH)
            )
    if op.deprecation_date != np_.deprecation_date:
        out.append(
            Change(
                "deprecation_date_changed",
                None,
                f"deprecation date {fmt(op.deprecation_date)} -> {fmt(np_.deprecation_date)}",
                PATCH,
            )
        )
    if op.description != np_.description:
        out.append(Change("product_description_changed", None, "product description changed", PATCH))
    if op.tags != np_.tags:
        out.append(
            Change("product_tags_changed", None, f"product tags {list(op.tags)} -> {list(np_.tags)}", PATCH)
        )
    if o.description != n.description:
        out.append(Change("description_changed", None, "description changed", PATCH))
    if o.tags != n.tags:
        out.append(Change("tags_changed", None, f"tags {list(o.tags)} -> {list(n.tags)}", PATCH))
    if o.odcs_metadata != n.odcs_metadata:  # kept from an ODCS import: informational, never checked
        out.append(Change("odcs_metadata_changed", None, "x-odcs metadata changed", PATCH))

    removed = {c.name: c.snowflake_type for c in o.columns if n.column(c.name) is None}
    added = {c.name: c.snowflake_type for c in n.columns if o.column(c.name) is None}
    renames, ambiguous = pair_columns(removed, added)
    for old_name, new_name in renames.items():
        out.append(
            Change(
                "column_renamed",
                old_name,
                f"column {old_name} renamed to {new_name}",
                BREAKING,
                new_column=new_name,
            )
        )
        out.extend(renamed_column_changes(_must(o.column(old_name)), _must(n.column(new_name))))
    for name in removed:
        if name in ambiguous:
            options = " or ".join(ambiguous[name])
            out.append(
                Change(
                    "column_rename_ambiguous",
                    name,
                    f"column {name} removed; renamed to {options}? (ambiguous: not paired)",
                    BREAKING,
                    candidates=tuple(ambiguous[name]),
                )
            )
        elif name not in renames:
            out.append(Change("column_removed", name, f"column {name} removed", BREAKING))
    for name, type_ in added.items():
        if name not in renames.values():
            c = n.column(name)
            what = "optional" if c and c.nullable else "required"
            out.append(Change("column_added", name, f"{what} column {name} {type_} added", MINOR))
    for c in o.columns:
        nc = n.column(c.name)
        if nc is not None:
            out.extend(column_changes(c, nc))

    flag(
        out,
        None,
        "closed_schema",
        not o.additional_properties,
        not n.additional_properties,
        "closed to extra columns (additionalProperties: false)",
    )
    # Primary key: compare after following renames; a subset of the old key is a stronger promise.
    old_pk = tuple(renames.get(p, p) for p in o.primary_key)
    if old_pk != n.primary_key:
        detail = f"primary key {list(o.primary_key)} -> {list(n.primary_key)}"
        if not old_pk:
            out.append(Change("primary_key_added", None, detail, MINOR, True))
        elif n.primary_key and set(n.primary_key) < set(old_pk):
            out.append(Change("primary_key_tightened", None, detail, MINOR, True))
        elif n.primary_key and set(n.primary_key) == set(old_pk):
            out.append(Change("primary_key_reordered", None, detail, PATCH))
        else:
            out.append(
                Change(
                    "primary_key_dropped" if not n.primary_key else "primary_key_changed",
                    None,
                    detail,
                    BREAKING,
                )
            )

    os_, ns = o.sla, n.sla
    bound(out, None, "max_age_hours", os_ and os_.max_age_hours, ns and ns.max_age_hours, less)
    if os_ and ns:
        if renames.get(os_.freshness_column, os_.freshness_column) != ns.freshness_column:
            out.append(
                Change(
                    "freshness_column_changed",
                    None,
                    f"freshness measured on {os_.freshness_column} -> {ns.freshness_column}",
                    BREAKING,
                )
            )
        if os_.schedule != ns.schedule:
            out.append(Change("schedule_changed", None, f"schedule {os_.schedule} -> {ns.schedule}", PATCH))

    oq, nq = o.quality, n.quality
    bound(out, None, "row_count_min", oq.row_count_min, nq.row_count_min, greater)
    bound(out, None, "row_count_max", oq.row_count_max, nq.row_count_max, less)
    for key in ("max_null_pct", "max_duplicate_pct"):
        old_map = {renames.get(k, k): v for k, v in getattr(oq, key).items()}
        new_map = getattr(nq, key)
        for col in sorted(set(old_map) | set(new_map)):
            bound(out, col, key, old_map.get(col), new_map.get(col), less)
    old_custom, new_custom = {c.name: c for c in oq.custom}, {c.name: c for c in nq.custom}
    for name in sorted(set(old_custom) | set(new_custom)):
        oc, nc = old_custom.get(name), new_custom.get(name)
        if nc is None and oc is not None:
            klass = BREAKING if oc.severity == "error" else PATCH
            out.append(Change("custom_check_removed", None, f"custom check {name} removed", klass))
        elif oc is None and nc is not None:
            out.append(Change("custom_check_added", None, f"custom check {name} added", MINOR, True))
        elif oc and nc and oc != nc:
            logic_changed = (oc.sql, oc.expect, oc.op) != (nc.sql, nc.expect, nc.op)
            if logic_changed or oc.severity != nc.severity:
                # Losing an error-severity rule (or changing it: not provably stricter) relaxes a promise.
                klass = BREAKING if oc.severity == "error" else MINOR if nc.severity == "error" else PATCH
                out.append(
                    Change(
                        "custom_check_changed", None, f"custom check {name} changed", klass, klass == MINOR
                    )
                )
            else:
                out.append(
                    Change("custom_check_described", None, f"custom check {name}: description changed", PATCH)
                )
    return ContractDiff(tuple(out), o.version, n.version)
