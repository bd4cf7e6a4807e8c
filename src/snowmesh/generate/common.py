"""Shared pieces of the generators: the in-memory source, seeded RNG streams, vectorised formatting.

This is also the kit a domain's own generator (domains/<domain>/<module>.py) builds with.

Every bulk column is built with numpy + pyarrow.compute (no per-row Python). Values are kept as
strings exactly as they will be written, with ``""`` for an empty field (= NULL when loaded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_END_DATE = date(2026, 11, 1)
_EPOCH = date(1970, 1, 1)
DAY = 86_400

# Share of events per hour of day (UTC): quiet nights, busy afternoons and evenings.
_HOURLY = np.array([2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 6, 5, 4, 3], dtype=float)
HOUR_P = _HOURLY / _HOURLY.sum()


# A lazy source's rows [start, stop) as a table, corruption applied (``SourceData.lazy``).
Build = Callable[[int, int], pa.Table]


class SourceData:
    """One generated source, ready to be written: a whole table in memory, or built per file.

    ``SourceData(source, table, partitions, corrupt=(), prefix="")`` holds the whole ``table``;
    ``SourceData.lazy(source, columns, rows, build, partitions, corrupt=())`` holds only
    ``build(start, stop)``, which returns rows ``[start, stop)`` as a table, so that landing
    never has more than one file's text in memory (the scale's numeric draws stay whole: drawing
    them in pieces would change the values a seed gives). Either way the table has exactly the
    manifest columns, in order, all strings as written (``""`` = empty field). Rows are sorted by
    partition; ``partitions`` gives ``(dt, start, stop)`` row ranges, one file each. ``corrupt``
    lists ``(row index in table, reason)`` for the deliberately broken rows.
    """

    __slots__ = ("_build", "_columns", "_rows", "_table", "corrupt", "partitions", "prefix", "source")

    def __init__(self, source: str, table: pa.Table, partitions: tuple[tuple[str, int, int], ...],
                 corrupt: tuple[tuple[int, str], ...] = (), prefix: str = "") -> None:
        self.source, self.partitions, self.corrupt, self.prefix = source, tuple(partitions), tuple(corrupt), prefix
        self._table: pa.Table | None = table
        self._build: Build | None = None
        self._columns = tuple(table.column_names)
        self._rows = table.num_rows

    @classmethod
    def lazy(cls, source: str, columns: Sequence[str], rows: int, build: Build,
             partitions: tuple[tuple[str, int, int], ...], corrupt: tuple[tuple[int, str], ...] = (),
             prefix: str = "") -> SourceData:
        self = cls.__new__(cls)
        self.source, self.partitions, self.corrupt, self.prefix = source, tuple(partitions), tuple(corrupt), prefix
        self._table, self._build, self._columns, self._rows = None, build, tuple(columns), rows
        return self

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_rows"):  # set once, by the constructors: frozen like the dataclass it was
            raise AttributeError(f"SourceData is immutable ({name})")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        kind = "lazy" if self._table is None else "table"
        return f"SourceData({self.source!r}, {kind}, {self._rows} rows, {len(self.partitions)} partitions)"

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def column_names(self) -> list[str]:
        return list(self._columns)

    @property
    def is_lazy(self) -> bool:
        return self._table is None

    def part(self, start: int, stop: int) -> pa.Table:
        """Rows ``[start, stop)`` as a table (a lazy source builds just those)."""
        if self._table is not None:
            return self._table.slice(start, stop - start)
        table = self._build(start, stop) if stop > start else None  # type: ignore[misc]
        if table is None:
            return pa.table({c: pa.array([], pa.string()) for c in self._columns})
        if table.column_names != list(self._columns) or table.num_rows != stop - start:
            raise ValueError(f"{self.source}: build({start}, {stop}) gave {table.num_rows} rows of "
                             f"{table.column_names}, expected {stop - start} of {list(self._columns)}")
        return table

    def tables(self) -> Iterator[tuple[str, int, int, pa.Table]]:
        """``(dt, start, stop, table)`` per partition, one built at a time."""
        for dt, start, stop in self.partitions:
            yield dt, start, stop, self.part(start, stop)

    @property
    def table(self) -> pa.Table:
        """The whole table (a lazy source builds and joins every partition: for small scales)."""
        if self._table is not None:
            return self._table
        parts = [t for *_, t in self.tables()]
        return pa.concat_tables(parts) if parts else self.part(0, 0)

    def with_prefix(self, prefix: str) -> SourceData:
        if self._table is not None:
            return SourceData(self.source, self._table, self.partitions, self.corrupt, prefix)
        return SourceData.lazy(self.source, self._columns, self._rows, self._build,  # type: ignore[arg-type]
                               self.partitions, self.corrupt, prefix)

    def key(self, dt: str) -> str:
        if not self.prefix:
            raise ValueError(f"{self.source}: no landing prefix (generate through snowmesh.generate.generate_domain)")
        return f"{self.prefix}/dt={dt}/part-00000.csv.gz"


@dataclass(frozen=True)
class Window:
    """``days`` calendar days ending on ``end_date`` (inclusive)."""

    end_date: date
    days: int

    @property
    def first(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    @property
    def first_epoch_day(self) -> int:
        return (self.first - _EPOCH).days

    @property
    def first_second(self) -> int:
        return self.first_epoch_day * DAY

    @property
    def last_second(self) -> int:
        return (self.first_epoch_day + self.days) * DAY - 1


def check_params(clicks: int, seed: int, corrupt_fraction: float, days: int) -> None:
    if clicks < 1:
        raise ValueError(f"clicks must be >= 1, got {clicks}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not 0.0 <= corrupt_fraction <= 1.0:
        raise ValueError(f"corrupt_fraction must be within [0, 1], got {corrupt_fraction}")
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")


def rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _str(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``ids("CLK-", [123], 9)`` -> ``["CLK-000000123"]`` (wider only if a number needs more digits).

    Fixed-width text built as a byte matrix: ~10x faster than cast + lpad for millions of ids.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers) and numbers.min() < 0:
        raise ValueError("ids are non-negative")
    width = max(width, len(str(int(numbers.max()))) if len(numbers) else 0)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    size = len(head) + width
    matrix = np.empty((len(numbers), size), dtype=np.uint8)
    matrix[:, : len(head)] = head
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    matrix[:, len(head) :] = (numbers[:, None] // powers) % 10 + ord("0")
    offsets = np.arange(0, (len(numbers) + 1) * size, size, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(numbers), [None, pa.py_buffer(offsets), pa.py_buffer(matrix)]
    )


def fixed(units: np.ndarray, decimals: int) -> pa.Array:
    """Non-negative integers in 10**-decimals units -> fixed-point text, e.g. (12345, 4) -> '1.2345'.

    Integer arithmetic, so the text is exact (no float rounding surprises).
    """
    units = np.asarray(units, dtype=np.int64)
    scale = 10**decimals
    whole, frac = _str(units // scale), pc.utf8_lpad(_str(units % scale), decimals, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def timestamps(epoch_seconds: np.ndarray) -> pa.Array:
    """Epoch seconds -> 'YYYY-MM-DD HH:MM:SS'."""
    return pc.cast(pa.array(np.asarray(epoch_seconds, dtype=np.int64), pa.timestamp("s")), pa.string())


def dates(epoch_days: np.ndarray) -> pa.Array:
    """Days since 1970-01-01 -> 'YYYY-MM-DD'."""
    return pc.cast(pa.array(np.asarray(epoch_days, dtype=np.int32), pa.date32()), pa.string())


def take(labels: list[str] | tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(list(labels), pa.string()).take(pa.array(index))


def blank_unless(mask: np.ndarray, values: pa.Array) -> pa.Array:
    """``values`` where ``mask``, else the empty field."""
    return pc.if_else(pa.array(mask), values, pa.scalar("", pa.string()))


def partition_ranges(epoch_days: np.ndarray) -> tuple[tuple[str, int, int], ...]:
    """Row ranges of equal consecutive days (input must be sorted), as (dt, start, stop)."""
    if len(epoch_days) == 0:
        return ()
    uniq, starts = np.unique(epoch_days, return_index=True)
    stops = np.append(starts[1:], len(epoch_days))
    return tuple(
        ((_EPOCH + timedelta(days=int(d))).isoformat(), int(a), int(b))
        for d, a, b in zip(uniq, starts, stops, strict=True)
    )
