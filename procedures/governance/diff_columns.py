"""Column-level change rules of the contract diff: one column's old and new promise, compared.

governance.diff walks the contract; this module holds what one column (or one limit) can do:
types, NOT NULL, unique, enum, combined lower/upper bounds, pattern, classification, and the
pairing of removed with added columns into renames.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from governance.contract import CLASSIFICATION_RANK, Column, number_parts, rename_candidates

BREAKING, MINOR, PATCH = "breaking", "minor", "patch"
BUMP_FOR = {BREAKING: "major", MINOR: "minor", PATCH: "patch"}


@dataclass(frozen=True)
class Change:
    kind: str  # e.g. column_removed, column_renamed, type_changed, enum_value_added, sla_loosened
    column: str | None
    detail: str
    klass: str  # breaking | minor | patch
    verify_on_data: bool = False  # a tightened guarantee: current data must already meet it
    new_column: str | None = None  # a renamed column's new name (the rename and its other changes)
    candidates: tuple[str, ...] = ()  # column_rename_ambiguous: the new columns it may have become


def fmt(v: Any) -> str:
    return "none" if v is None else str(v)


def bound(
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


Limit = tuple[float, bool]  # (value, strict): ``> 0`` is (0, True), ``>= 0`` is (0, False)


def _limit(col: Column, upper: bool) -> Limit | None:
    """The tighter of ``minimum``/``exclusiveMinimum`` (or the maximums), as one combined bound.

    Compared as one bound because ``minimum: 0`` -> ``exclusiveMinimum: 0`` tightens the promise
    though one keyword is removed. Integer columns use the inclusive integer form, so
    ``exclusiveMinimum: 0`` and ``minimum: 1`` are the same promise.
    """
    inclusive, exclusive = (
        (col.maximum, col.exclusive_maximum) if upper else (col.minimum, col.exclusive_minimum)
    )
    found: list[Limit] = []
    if inclusive is not None:
        found.append((inclusive, False))
    if exclusive is not None:
        found.append((exclusive, True))
    if col.json_type == "integer":
        sign = -1 if upper else 1  # upper: floor(v) (< v: ceil(v) - 1); lower: ceil(v) (> v: floor(v) + 1)
        found = [
            (sign * (math.floor(sign * v) + 1) if strict else sign * math.ceil(sign * v), False)
            for v, strict in found
        ]
    if not found:
        return None
    return max(found, key=lambda b: _tightness(b, upper))


def _tightness(b: Limit, upper: bool) -> tuple[float, bool]:
    """Bigger is tighter: a higher lower bound, a lower upper bound; strict beats equal-valued inclusive."""
    return (-b[0] if upper else b[0], b[1])


def _show(b: Limit | None, upper: bool) -> str:
    if b is None:
        return "none"
    value = int(b[0]) if float(b[0]).is_integer() else b[0]
    return f"{'<' if upper else '>'}{'' if b[1] else '='} {value}"


def _combinedbound(out: list[Change], o: Column, n: Column, upper: bool) -> None:
    key = "maximum" if upper else "minimum"
    what = "upper bound" if upper else "lower bound"
    ob, nb = _limit(o, upper), _limit(n, upper)
    old_keys = (o.maximum, o.exclusive_maximum) if upper else (o.minimum, o.exclusive_minimum)
    new_keys = (n.maximum, n.exclusive_maximum) if upper else (n.minimum, n.exclusive_minimum)
    if ob == nb and old_keys == new_keys:
        return
    detail = f"{o.name}: {what} {_show(ob, upper)} -> {_show(nb, upper)}"
    col = o.name
    if ob == nb:  # e.g. integer minimum 1 rewritten as exclusiveMinimum 0: the same values pass
        out.append(Change(f"{key}_rewritten", col, detail + " (the same values)", PATCH))
    elif nb is None:
        out.append(Change(f"{key}_removed", col, detail, BREAKING))
    elif ob is None:
        out.append(Change(f"{key}_added", col, detail, MINOR, True))
    elif _tightness(nb, upper) > _tightness(ob, upper):
        out.append(Change(f"{key}_tightened", col, detail, MINOR, True))
    else:
        out.append(Change(f"{key}_loosened", col, detail, BREAKING))


def greater(old: Any, new: Any) -> bool:
    return new > old


def less(old: Any, new: Any) -> bool:
    return new < old


def flag(out: list[Change], col: str | None, kind: str, old: bool, new: bool, what: str) -> None:
    """A yes/no guarantee (NOT NULL, unique): gaining it is minor, losing it breaking."""
    if old and not new:
        out.append(Change(f"{kind}_dropped", col, f"{col or 'contract'}: {what} dropped", BREAKING))
    elif new and not old:
        out.append(Change(f"{kind}_added", col, f"{col or 'contract'}: now {what}", MINOR, True))


def column_changes(o: Column, n: Column) -> list[Change]:
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
    flag(out, col, "not_null", not o.nullable, not n.nullable, "required (NOT NULL)")
    flag(out, col, "unique", o.unique, n.unique, "unique")
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
    _combinedbound(out, o, n, upper=False)
    _combinedbound(out, o, n, upper=True)
    bound(out, col, "maxLength", o.max_length, n.max_length, less)
    if o.pattern != n.pattern:
        if n.pattern is None or o.pattern is not None:
            # Whether one regex accepts a subset of another is not decidable here: assume looser.
            out.append(
                Change(
                    "pattern_changed", col, f"{col}: pattern {fmt(o.pattern)} -> {fmt(n.pattern)}", BREAKING
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
                f"{col}: classification {fmt(o.classification)} -> {fmt(n.classification)}"
                + (" (consumers may lose access or see masked values)" if up else ""),
                BREAKING if up else MINOR,
            )
        )
    if o.description != n.description:
        out.append(Change("description_changed", col, f"{col}: description changed", PATCH))
    if o.tags != n.tags:
        out.append(Change("tags_changed", col, f"{col}: tags {list(o.tags)} -> {list(n.tags)}", PATCH))
    return out


def renamed_column_changes(o: Column, n: Column) -> list[Change]:
    """A renamed column's other changes, named by both names (its NOT NULL, enum, type, ...)."""
    prefix = f"{o.name}: "
    return [
        replace(
            c,
            new_column=n.name,
            detail=f"{o.name} (renamed to {n.name}): {c.detail.removeprefix(prefix)}",
        )
        for c in column_changes(o, n)
    ]


def pair_columns(
    removed: dict[str, str], added: dict[str, str]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Renames (old -> new) and ambiguous removals (old -> the new columns competing for it).

    A pair is reported only when it is the one candidate both ways; when two new columns could
    be the same removed column (or one new column could be two removed ones), picking one would
    be a guess, so the diff says so instead.
    """
    candidates = rename_candidates(removed, added)
    claimed: dict[str, int] = {}
    for found in candidates.values():
        for name in found:
            claimed[name] = claimed.get(name, 0) + 1
    renames: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for old, found in candidates.items():
        if len(found) == 1 and claimed[found[0]] == 1:
            renames[old] = found[0]
        elif found:
            ambiguous[old] = found
    return renames, ambiguous
