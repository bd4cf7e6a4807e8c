"""Contract version diff, classified from the consumer's side, and the semver gate.

A contract is a promise to consumers. Anything that lets the data do something consumers could
not rely on before is ``breaking`` (major): a removed or renamed column, a type change (except
widening NUMBER precision), a relaxed guarantee. A new optional column or a tightened guarantee
is ``minor``, provided current data already meets it (``verify_on_data``: the CI gate validates
current data against the new contract). Descriptions, tags and the owner are ``patch``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from governance.contract import (
    CLASSIFICATION_RANK,
    Column,
    Contract,
    number_parts,
    pair_renames,
    parse_contract,
)

BREAKING, MINOR, PATCH = "breaking", "minor", "patch"
BUMP_FOR = {BREAKING: "major", MINOR: "minor", PATCH: "patch"}
_RANK = {"none": 0, "patch": 1, "minor": 2, "major": 3}


@dataclass(frozen=True)
class Change:
    kind: str  # e.g. column_removed, column_renamed, type_changed, enum_value_added, sla_loosened
    column: str | None
    detail: str
    klass: str  # breaking | minor | patch
    verify_on_data: bool = False  # a tightened guarantee: current data must already meet it


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


def _fmt(v: Any) -> str:
    return "none" if v is None else str(v)


def _bound(
    out: list[Change], col: str | None, key: str, old: Any, new: Any, tighter: Callable[[Any, Any], bool]
) -> None:
    """A limit (minimum, maxLength, max_age, ...): added/tightened is minor, removed/loosened breaking."""
    if old == new:
        return
    at = f"{col}: " if col else ""
    if new is None:
        out.append(Change(f"{key}_removed", col, f"{at}{key} {old} removed", BREAKING))
    elif old is None:
        out.append(Change(f"{key}_added", col, f"{at}{key} {new} added", MINOR, True))
    elif tighter(old, new):
        out.append(Change(f"{key}_tightened", col, f"{at}{key} {old} -> {new}", MINOR, True))
    else:
        out.append(Change(f"{key}_loosened", col, f"{at}{key} {old} -> {new}", BREAKING))


def _greater(old: Any, new: Any) -> bool:
    return new > old


def _less(old: Any, new: Any) -> bool:
    return new < old


def _flag(out: list[Change], col: str | None, kind: str, old: bool, new: bool, what: str) -> None:
    """A yes/no guarantee (NOT NULL, unique): gaining it is minor, losing it breaking."""
    if old and not new:
        out.append(Change(f"{kind}_dropped", col, f"{col or 'contract'}: {what} dropped", BREAKING))
    elif new and not old:
        out.append(Change(f"{kind}_added", col, f"{col or 'contract'}: now {what}", MINOR, True))


def _column_changes(o: Column, n: Column) -> list[Change]:
    out: list[Change] = []
    col = o.name
    if o.snowflake_type != n.snowflake_type:
        op, np_ = number_parts(o.snowflake_type), number_parts(n.snowflake_type)
        widened = op and np_ and op[1] == np_[1] and np_[0] > op[0]
        out.append(
            Change(
                "type_widened" if widened else "type_changed",
                col,
                f"{col}: type {o.snowflake_type} -> {n.snowflake_type}",
                MINOR if widened else BREAKING,
            )
        )
    _flag(out, col, "not_null", not o.nullable, not n.nullable, "required (NOT NULL)")
    _flag(out, col, "unique", o.unique, n.unique, "unique")
    if o.enum != n.enum:
        if n.enum is None:
            out.append(Change("enum_removed", col, f"{col}: enum {list(o.enum or ())} removed", BREAKING))
        elif o.enum is None:
            out.append(Change("enum_added", col, f"{col}: enum {list(n.enum)} added", MINOR, True))
        else:
            added = [v for v in n.enum if v not in o.enum]
            removed = [v for v in o.enum if v not in n.enum]
            if added:  # consumers' CASE/lookup logic does not know the new value
                out.append(Change("enum_value_added", col, f"{col}: enum value(s) {added} added", BREAKING))
            if removed:
                out.append(
                    Change("enum_value_removed", col, f"{col}: enum value(s) {removed} removed", MINOR, True)
                )
    _bound(out, col, "minimum", o.minimum, n.minimum, _greater)
    _bound(out, col, "exclusiveMinimum", o.exclusive_minimum, n.exclusive_minimum, _greater)
    _bound(out, col, "maximum", o.maximum, n.maximum, _less)
    _bound(out, col, "exclusiveMaximum", o.exclusive_maximum, n.exclusive_maximum, _less)
    _bound(out, col, "maxLength", o.max_length, n.max_length, _less)
    if o.pattern != n.pattern:
        if n.pattern is None or o.pattern is not None:
            # Whether one regex accepts a subset of another is not decidable here: assume looser.
            out.append(
                Change(
                    "pattern_changed", col, f"{col}: pattern {_fmt(o.pattern)} -> {_fmt(n.pattern)}", BREAKING
                )
            )
        else:
            out.append(Change("pattern_added", col, f"{col}: pattern {n.pattern} added", MINOR, True))
    if o.classification != n.classification:
        up = CLASSIFICATION_RANK.get(n.classification or "", -1) > CLASSIFICATION_RANK.get(
            o.classification or "", -1
        )
        out.append(
            Change(
                "classification_changed",
                col,
                f"{col}: classification {_fmt(o.classification)} -> {_fmt(n.classification)}"
                + (" (consumers may lose access or see masked values)" if up else ""),
                BREAKING if up else MINOR,
            )
        )
    if o.description != n.description:
        out.append(Change("description_changed", col, f"{col}: description changed", PATCH))
    if o.tags != n.tags:
        out.append(Change("tags_changed", col, f"{col}: tags {list(o.tags)} -> {list(n.tags)}", PATCH))
    return out


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
    for key in ("owner", "status", "description", "tags"):
        if getattr(op, key) != getattr(np_, key):
            out.append(
                Change(f"{key}_changed", None, f"{key}: {getattr(op, key)} -> {getattr(np_, key)}", PATCH)
            )
    if (o.title, o.description, o.tags) != (n.title, n.description, n.tags):
        out.append(Change("description_changed", None, "title/description/tags changed", PATCH))

    removed = {c.name: c.snowflake_type for c in o.columns if n.column(c.name) is None}
    added = {c.name: c.snowflake_type for c in n.columns if o.column(c.name) is None}
    renames = dict(pair_renames(removed, added))
    for old_name, new_name in renames.items():
        out.append(Change("column_renamed", old_name, f"column {old_name} renamed to {new_name}", BREAKING))
    for name in removed:
        if name not in renames:
            out.append(Change("column_removed", name, f"column {name} removed", BREAKING))
    for name, type_ in added.items():
        if name not in renames.values():
            c = n.column(name)
            what = "optional" if c and c.nullable else "required"
            out.append(Change("column_added", name, f"{what} column {name} {type_} added", MINOR))
    for c in o.columns:
        nc = n.column(c.name)
        if nc is not None:
            out.extend(_column_changes(c, nc))

    _flag(
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
    _bound(out, None, "max_age_hours", os_ and os_.max_age_hours, ns and ns.max_age_hours, _less)
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
    _bound(out, None, "row_count_min", oq.row_count_min, nq.row_count_min, _greater)
    _bound(out, None, "row_count_max", oq.row_count_max, nq.row_count_max, _less)
    for key in ("max_null_pct", "max_duplicate_pct"):
        old_map = {renames.get(k, k): v for k, v in getattr(oq, key).items()}
        new_map = getattr(nq, key)
        for col in sorted(set(old_map) | set(new_map)):
            _bound(out, col, key, old_map.get(col), new_map.get(col), _less)
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
