"""Deliberately corrupt rows, chosen deterministically, each invalid for certain.

Reason categories (what the loader's quarantine should report):

* ``bad_number``    -- a numeric column holds text no NUMBER cast accepts ('abc', '12,5x', '1.2.3').
* ``missing_key``   -- the key column is an empty field (loads as NULL).
* ``bad_timestamp`` -- a timestamp column holds 'not-a-time' or an impossible '2026-13-45 25:61:00'.

Which source carries which corruption is declared in its manifest (``sample: {corrupt: [...]}``,
snowmesh.manifest.model.SourceSample), not here. Planning (which rows, which rule) is separate from
applying, so a consumer's generator can know which producer rows are broken without building
them, and never refer to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from snowmesh.manifest.model import Source

BAD_NUMBER, MISSING_KEY, BAD_TIMESTAMP = "bad_number", "missing_key", "bad_timestamp"
REASONS = (BAD_NUMBER, MISSING_KEY, BAD_TIMESTAMP)

# Values chosen so that no lenient parser (Snowflake, DuckDB, pandas) can read them as valid:
# no 'inf'/'nan', no exponent forms, no out-of-range-but-normalisable dates.
BAD_NUMBERS = ("abc", "12,5x", "1.2.3")
BAD_TIMESTAMPS = ("not-a-time", "2026-13-45 25:61:00")


@dataclass(frozen=True)
class Rule:
    reason: str
    column: str
    values: tuple[str, ...]


_VALUES = {BAD_NUMBER: BAD_NUMBERS, MISSING_KEY: ("",), BAD_TIMESTAMP: BAD_TIMESTAMPS}


def rules(source: Source) -> tuple[Rule, ...]:
    """The ways this source's rows get broken: what its manifest declares (``sample.corrupt``),
    in that order, each on the column the loader resolved (none declared: the source stays clean)."""
    return tuple(Rule(r.reason, r.column, _VALUES[r.reason]) for r in source.sample.corrupt)


@dataclass(frozen=True)
class Plan:
    rows: np.ndarray  # sorted row indices to break
    rule: np.ndarray  # index into the source's rules, per broken row
    value: np.ndarray  # index into that rule's values, per broken row


def corrupt_count(n: int, fraction: float) -> int:
    """Rows to break: ``ceil(fraction * n)`` so any non-zero fraction breaks at least one row."""
    if fraction <= 0 or n == 0:
        return 0
    # round() first: 0.001 * 1_000_000 must be 1000, not 1001 from float noise.
    return min(n, math.ceil(round(fraction * n, 9)))


def plan(rules: tuple[Rule, ...], n: int, fraction: float, rng: np.random.Generator) -> Plan:
    """Which rows break, by which rule; a source without rules breaks none."""
    k = corrupt_count(n, fraction) if rules else 0
    rows = np.sort(rng.choice(n, size=k, replace=False)) if k else np.empty(0, dtype=np.int64)
    rule = rng.integers(0, len(rules), size=k)
    value = rng.integers(0, 1 << 30, size=k)  # reduced modulo each rule's value count in apply()
    return Plan(rows.astype(np.int64), rule, value)


def apply(rules: tuple[Rule, ...], table: pa.Table, p: Plan) -> tuple[pa.Table, tuple[tuple[int, str], ...]]:
    """Overwrite the planned cells; return the new table and ``(row, reason)`` pairs, row-sorted."""
    return apply_part(rules, table, p, 0), broken(rules, p)


def broken(rules: tuple[Rule, ...], p: Plan) -> tuple[tuple[int, str], ...]:
    """``(row, reason)`` of every planned row, row-sorted (what a lazy source declares up front)."""
    return tuple((int(r), rules[int(i)].reason) for r, i in zip(p.rows, p.rule, strict=True))


def apply_part(rules: tuple[Rule, ...], table: pa.Table, p: Plan, start: int) -> pa.Table:
    """Overwrite the planned cells of rows ``[start, start + table.num_rows)``; ``table`` holds those rows.

    Each broken cell depends only on its row's plan entry, so applying it part by part gives the
    same cells as applying it to the whole table."""
    lo, hi = (int(i) for i in np.searchsorted(p.rows, [start, start + table.num_rows]))
    rows, rule_of, value = p.rows[lo:hi] - start, p.rule[lo:hi], p.value[lo:hi]
    for i, rule in enumerate(rules):
        hit = rule_of == i
        if not hit.any():
            continue
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[rows[hit]] = True  # rows are sorted, so replacements line up with mask order
        values = np.array(rule.values, dtype=object)[value[hit] % len(rule.values)]
        col = table.schema.get_field_index(rule.column)
        new = pc.replace_with_mask(
            table.column(col).combine_chunks(), pa.array(mask), pa.array(values, pa.string())
        )
        table = table.set_column(col, rule.column, new)
    return table
