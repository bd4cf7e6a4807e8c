"""Sample data for any declared source, from its manifest alone: columns, types, key, hints.

``declared_source(ctx, source, refs)`` returns the source's :class:`SourceData`. What each
column gets (the hints are ``sample:`` under the column, docs/add-a-domain.md):

* a key column is unique: VARCHAR ids ``<ABC>-000001`` (ABC from the column name), NUMBER
  1, 2, ...; a key whose every column is bounded (an ``enum``, a ``ref``, a DATE, a BOOLEAN) gets
  distinct combinations instead, and at most as many rows as there are combinations;
* ``enum`` picks among the values; ``ref: SOURCE.COLUMN`` picks loadable key values of that
  source (generated first); ``faker: <provider>`` picks from a pool of Faker values;
* numbers lie in ``[min, max]`` (default 0 to 1000, within the declared precision) by
  ``distribution`` (uniform, normal, lognormal), rounded to the declared scale;
* DATE and TIMESTAMP_NTZ lie in ``[min, max]``, by default in the run's window (timestamps follow
  a day/night profile); BOOLEAN is true/false;
* ``null_rate`` blanks that share of an optional column.

Rows are ordered, and written one file per day, by the first TIMESTAMP_NTZ (else DATE) column
without min/max (an event time in the run's window); a source without one is a snapshot: one file dated the window's last day. Every
column draws from its own seeded stream (ctx.rng), so a new column never shifts another's values.
The declared corruption (``sample.corrupt``) is applied last, as for every source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from snowmesh.generate import corrupt
from snowmesh.generate.common import (
    DAY,
    HOUR_P,
    SourceData,
    blank_unless,
    dates,
    fixed,
    ids,
    partition_ranges,
    take,
    timestamps,
)
from snowmesh.manifest.model import Column, Source

if TYPE_CHECKING:
    from snowmesh.generate.domain import SampleContext

_EPOCH = date(1970, 1, 1)
_FAKER_POOL = 1_000  # distinct Faker values per column: Faker is per-row Python, the pool is not


def _scale(sql_type: str) -> int:
    m = re.fullmatch(r"NUMBER\((\d+),(\d+)\)", sql_type)
    return int(m.group(2)) if m else 0


def _number_bounds(c: Column) -> tuple[float, float]:
    m = re.fullmatch(r"NUMBER\((\d+),(\d+)\)", c.type)
    top = 10 ** (int(m.group(1)) - int(m.group(2))) - 10 ** -int(m.group(2)) if m else 1e18
    lo = float(c.sample.min) if c.sample.min is not None else 0.0
    hi = float(c.sample.max) if c.sample.max is not None else min(top, max(lo, 0.0) + 1000.0)
    return max(lo, -top), min(hi, top)


def _epoch_day(text: str) -> int:
    return (date.fromisoformat(text[:10]) - _EPOCH).days


def _epoch_second(text: str) -> int:
    return int((datetime.fromisoformat(text.replace("T", " ")) - datetime(1970, 1, 1)).total_seconds())


def _prefix(column: str) -> str:
    """``ORDER_ID`` -> ``ORD-``: short, readable ids."""
    letters = re.sub(r"[^A-Z]", "", column.removesuffix("_ID")) or "ID"
    return f"{letters[:3]}-"


def _signed_fixed(units: np.ndarray, decimals: int) -> pa.Array:
    units = np.asarray(units, dtype=np.int64)
    text = fixed(np.abs(units), decimals) if decimals else pc.cast(pa.array(np.abs(units)), pa.string())
    if (units >= 0).all():
        return text
    return pc.if_else(pa.array(units < 0), pc.binary_join_element_wise("-", text, ""), text)


def _numbers(c: Column, n: int, g: np.random.Generator) -> Drawn:
    lo, hi = _number_bounds(c)
    if c.sample.distribution == "normal":
        x = np.clip(g.normal((lo + hi) / 2, (hi - lo) / 6 or 1.0, n), lo, hi)
    elif c.sample.distribution == "lognormal":  # median at a fifth of the range, a long right tail
        x = np.clip(lo + (hi - lo) * 0.2 * g.lognormal(0.0, 0.8, n), lo, hi)
    else:
        x = g.uniform(lo, hi, n)
    if c.type == "FLOAT":
        return Drawn(np.round(x, 6), lambda v: pc.cast(pa.array(v), pa.string()))
    scale = _scale(c.type)
    units = np.clip(np.rint(x * 10**scale), math.ceil(lo * 10**scale), math.floor(hi * 10**scale))
    return Drawn(units.astype(np.int64), lambda v: _signed_fixed(v, scale))


def _day_range(ctx: SampleContext, c: Column) -> tuple[int, int]:
    w = ctx.window
    lo = _epoch_day(c.sample.min) if c.sample.min else w.first_epoch_day
    hi = _epoch_day(c.sample.max) if c.sample.max else w.first_epoch_day + w.days - 1
    return lo, hi


def _seconds(ctx: SampleContext, c: Column, n: int, g: np.random.Generator) -> np.ndarray:
    if c.sample.min or c.sample.max:
        w = ctx.window
        lo = _epoch_second(c.sample.min) if c.sample.min else w.first_second
        hi = _epoch_second(c.sample.max) if c.sample.max else w.last_second
        return g.integers(lo, hi + 1, n)
    day = g.integers(0, ctx.window.days, n)
    return ctx.window.first_second + day * DAY + g.choice(24, size=n, p=HOUR_P) * 3600 + g.integers(0, 3600, n)


def _faker_pool(provider: str, seed: int) -> list[str]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    method = getattr(fake, provider)
    return [str(method()).replace("\n", " ") for _ in range(_FAKER_POOL)]


def _choices(c: Column, refs: Mapping[str, pa.Array]) -> pa.Array | None:
    """The values a bounded column picks from (enum, ref, BOOLEAN), or None if unbounded."""
    if c.sample.enum:
        return pa.array(list(c.sample.enum), pa.string())
    if c.sample.ref:
        return refs[c.sample.ref]
    if c.type == "BOOLEAN":
        return pa.array(["true", "false"], pa.string())
    return None


def _cardinality(ctx: SampleContext, c: Column, refs: Mapping[str, pa.Array]) -> int | None:
    values = _choices(c, refs)
    if values is not None:
        return len(values)
    if c.type == "DATE":
        lo, hi = _day_range(ctx, c)
        return hi - lo + 1
    return None


@dataclass(frozen=True)
class Drawn:
    """One column's draws for every row (numbers, indices, seconds) and how a slice of them reads
    as text: the draws are made once for the whole scale (a seed gives the same values whatever
    the files), the text one file at a time."""

    values: np.ndarray
    text: Callable[[np.ndarray], pa.Array]
    days: np.ndarray | None = None  # epoch day per row, for a DATE/TIMESTAMP (partitioning)


def _compact(values: np.ndarray) -> np.ndarray:
    """Indices and small integers in 4 bytes instead of 8 (the same values; 10M rows per column)."""
    if values.dtype == np.int64 and len(values) and -(2**31) <= values.min() and values.max() < 2**31:
        return values.astype(np.int32)
    return values


def _column(ctx: SampleContext, s: Source, c: Column, n: int, refs: Mapping[str, pa.Array],
            index: np.ndarray | None, ordered: bool = False) -> Drawn:
    """One column's draws, with its epoch day per row if it is a DATE/TIMESTAMP (for partitioning).

    ``index``: for a bounded key column, which of its values each row takes (distinct combinations).
    ``ordered``: the event-time column, drawn then sorted (the rows are in time order)."""
    g = ctx.rng(s.name, c.name)
    values = _choices(c, refs)
    if values is not None:
        if len(values) == 0:
            raise ValueError(f"{s.name}.{c.name}: {c.sample.ref} has no loadable rows to refer to")
        pick = index if index is not None else g.integers(0, len(values), n)
        return Drawn(_compact(pick), lambda v: values.take(pa.array(v)))
    if c.type == "DATE":
        lo, hi = _day_range(ctx, c)
        day = lo + (index if index is not None else g.integers(0, hi - lo + 1, n))
        if ordered:
            day = np.sort(day, kind="stable")
        return Drawn(day, dates, day)
    if c.type == "TIMESTAMP_NTZ":
        at = _seconds(ctx, c, n, g)
        if ordered:
            at = np.sort(at, kind="stable")
        return Drawn(at, timestamps, at // DAY)
    if c.type.startswith(("NUMBER", "FLOAT")):
        return _numbers(c, n, g)
    if c.sample.faker:
        pool = _faker_pool(c.sample.faker, int(g.integers(0, 2**31)))
        return Drawn(_compact(g.integers(0, len(pool), n)), lambda v: take(pool, v))
    numbers = g.integers(1, max(2, n // 10) + 1, n)
    width = _width(numbers, 6)  # of the whole column: every file's ids have the same width
    return Drawn(_compact(numbers), lambda v: ids(_prefix(c.name), v, width))


def _width(numbers: np.ndarray, least: int) -> int:
    return max(least, len(str(int(numbers.max()))) if len(numbers) else 0)


def _unique(c: Column, n: int) -> Callable[[int, int], pa.Array]:
    """Rows [start, stop) of a unique key column: 1, 2, ... in row order."""
    if c.type.startswith(("NUMBER", "FLOAT")):
        return lambda a, b: pc.cast(pa.array(np.arange(a + 1, b + 1)), pa.string())
    if c.type == "TIMESTAMP_NTZ":
        raise ValueError(f"{c.name}: a TIMESTAMP_NTZ key column is not generated (give it a generator)")
    width = _width(np.array([n]), 6)
    return lambda a, b: ids(_prefix(c.name), np.arange(a + 1, b + 1), width)


def declared_source(ctx: SampleContext, s: Source, refs: Mapping[str, pa.Array]) -> SourceData:
    """``refs``: ``"SOURCE.COLUMN"`` -> the loadable key values of a referenced source.

    A lazy source: the draws are made here, each file's text when it is written."""
    n = s.sample.row_count(ctx.rows)
    keys = [s.column(k) for k in s.key]
    unbounded = [k for k in keys if _cardinality(ctx, k, refs) is None]
    digits: dict[str, np.ndarray] = {}
    if keys and not unbounded:
        # Every key column is bounded: number the rows in mixed radix over the columns' choices,
        # so the key combinations are distinct (and the rows at most their product).
        radix = [max(1, _cardinality(ctx, k, refs) or 1) for k in keys]
        n = min(n, math.prod(radix))
        rest = np.arange(n, dtype=np.int64)
        for k, r in zip(reversed(keys), reversed(radix), strict=True):
            digits[k.name] = rest % r
            rest = rest // r
    unique = {k.name for k in unbounded[:1]}  # one unique column makes the whole key unique
    # An event time within the run's window decides the files; a date with its own range (a
    # birthday, an install date) is an attribute, and its source a snapshot.
    sort_by = next((c for t in ("TIMESTAMP_NTZ", "DATE") for c in s.columns
                    if c.type == t and c.sample.min is None and c.sample.max is None), None)
    # The event time is drawn sorted and every other column is drawn row by row (independent
    # of the order), so no column is permuted -- unless the event time is part of a bounded key,
    # whose combinations are assigned by row number and sorted afterwards.
    ordered = sort_by is not None and sort_by.name not in digits
    drawn: dict[str, Drawn] = {}
    keep: dict[str, np.ndarray] = {}  # per optional column with a null_rate: the rows that keep a value
    for c in s.columns:
        if c.name in unique:
            continue
        drawn[c.name] = _column(ctx, s, c, n, refs, digits.get(c.name), ordered and c is sort_by)
        if c.sample.null_rate > 0 and not c.required:
            keep[c.name] = ctx.rng(s.name, c.name, "null").random(n) >= c.sample.null_rate
    day = drawn[sort_by.name].days if sort_by is not None else None
    if day is not None:
        if not ordered:
            order = np.argsort(day, kind="stable")
            drawn = {k: Drawn(d.values[order], d.text) for k, d in drawn.items()}
            keep = {k: m[order] for k, m in keep.items()}
            day = day[order]
        partitions = partition_ranges(day)
    else:
        partitions = ((ctx.window.end_date.isoformat(), 0, n),)
    # Unique ids are numbered after sorting, so they follow time order (like a real sequence).
    numbered = {c.name: _unique(c, n) for c in s.columns if c.name in unique}
    rules = corrupt.rules(s)
    plan = corrupt.plan(rules, n, ctx.corrupt_fraction, ctx.rng(s.name, "#corrupt"))

    def build(start: int, stop: int) -> pa.Table:
        columns = []
        for c in s.columns:
            if c.name in numbered:
                columns.append(numbered[c.name](start, stop))
                continue
            values = drawn[c.name].text(drawn[c.name].values[start:stop])
            if c.name in keep:
                values = blank_unless(keep[c.name][start:stop], values)
            columns.append(values)
        table = pa.table(columns, names=[c.name for c in s.columns])
        return corrupt.apply_part(rules, table, plan, start)

    return SourceData.lazy(s.name, [c.name for c in s.columns], n, build, partitions,
                           corrupt.broken(rules, plan), prefix=s.prefix)


def loadable_keys(data: SourceData, column: str) -> pa.Array:
    """A generated source's values of ``column`` on the rows that will load (no corrupt row)."""
    bad = np.array([r for r, _ in data.corrupt], dtype=np.int64)
    if not data.is_lazy:  # a domain generator's whole table (its partitions need not cover it)
        keep = np.ones(data.rows, dtype=bool)
        keep[bad] = False
        values = data.table.column(column).combine_chunks()
        return values if not len(bad) else values.filter(pa.array(keep))
    parts = []
    for _, start, stop, table in data.tables():  # one file's table at a time: keep one column
        values = table.column(column).combine_chunks()
        hit = bad[(bad >= start) & (bad < stop)] - start
        if len(hit):
            keep = np.ones(stop - start, dtype=bool)
            keep[hit] = False
            values = values.filter(pa.array(keep))
        parts.append(values)
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())
