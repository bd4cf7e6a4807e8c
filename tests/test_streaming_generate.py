"""Generation streams: a lazy source builds one file's text at a time, with the same bytes as before.

The scale's numeric draws are made once (drawing them in pieces would change what a seed gives);
the text, which is most of the memory (about 100 bytes a row against 8 per drawn number), is
built per partition while landing. Memory is read from pyarrow's own allocator counter
(``pa.total_allocated_bytes``), where every text column lives; no timing is asserted.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from governance import ingest as shared
from snowmesh.generate import SourceData, corrupt, encode, generate_domain
from snowmesh.generate.common import ids
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
FOUR = ROOT / "tests" / "fixtures" / "meshes" / "four_domains"

# sha256 over (key, gzip bytes, corrupt lines) of every file of every domain of the fixture mesh,
# measured with the whole-table generator at commit b122b02, before generation streamed.
BEFORE_STREAMING = {
    (4_000, 5, 0.01, 14): "4df206e1e8e53376a41bf5658f265db3b00b9afc2b6f9a0622947977ae826a97",
    (50_000, 7, 0.001, 30): "eedb060875304cdbf6fcf2089817e662380d0f39f974496fbbd5f29fa6734c03",
}


@pytest.mark.parametrize(("rows", "seed", "fraction", "days"), list(BEFORE_STREAMING))
def test_declared_sources_write_the_same_bytes_as_before_streaming(rows, seed, fraction, days):
    mesh = load_mesh(FOUR)
    h = hashlib.sha256()
    for d in mesh.domains:
        data = generate_domain(mesh, d.name, rows, seed=seed, corrupt_fraction=fraction, days=days)
        assert all(s.is_lazy for s in data.values())  # declared generation never holds a whole table
        for f, body in encode(data):
            h.update(f.key.encode())
            h.update(body)
            h.update(repr(f.corrupt_lines).encode())
    assert h.hexdigest() == BEFORE_STREAMING[(rows, seed, fraction, days)]


def _arrow_peak_while_encoding(data: SourceData) -> tuple[int, int]:
    """(highest arrow bytes in use above the start while every file is encoded, total text bytes)."""
    start = pa.total_allocated_bytes()
    peak, text = 0, 0
    for _, body in encode({data.source: data}):
        peak = max(peak, pa.total_allocated_bytes() - start)
        text += len(body)
    return peak, text


def test_a_source_is_immutable_once_built():
    data = _lazy(10, 2)
    with pytest.raises(AttributeError):
        data.prefix = "elsewhere"
    assert data.with_prefix("elsewhere").key("d000") == "elsewhere/dt=d000/part-00000.csv.gz"
    assert data.key("d000") == "clicks/dt=d000/part-00000.csv.gz"


def test_landing_builds_each_partition_once_and_only_its_rows():
    calls: list[tuple[int, int]] = []
    rows_per_day, days = 500, 6

    def build(a: int, b: int) -> pa.Table:
        calls.append((a, b))
        return pa.table({"ID": ids("R-", np.arange(a + 1, b + 1), 6)})

    parts = tuple((f"2026-10-0{i + 1}", i * rows_per_day, (i + 1) * rows_per_day) for i in range(days))
    data = SourceData.lazy("R", ["ID"], rows_per_day * days, build, parts, prefix="r")
    landed = [meta for meta, _ in encode({"R": data})]
    assert calls == [(a, b) for _, a, b in parts]
    assert [m.rows for m in landed] == [rows_per_day] * days
    assert [m.key for m in landed] == [f"r/dt={dt}/part-00000.csv.gz" for dt, _, _ in parts]


def test_memory_while_landing_follows_the_partition_not_the_scale():
    """Four times the days at the same rows per day: the text in memory while landing stays a few
    files' worth (encode keeps at most 2 x workers files in flight), never the whole table."""
    rows_per_day = 20_000
    one_file = _lazy(rows_per_day, 1).part(0, rows_per_day).nbytes
    peaks = {}
    for days in (12, 48):
        data = _lazy(rows_per_day, days)
        peak, gz = _arrow_peak_while_encoding(data)
        peaks[days] = peak
        assert gz > 0 and peak <= 8 * one_file, (days, peak, one_file)
    assert peaks[48] < _lazy(rows_per_day, 48).table.nbytes / 5  # what a whole-table source holds at once


def _lazy(rows_per_day: int, days: int) -> SourceData:
    n = rows_per_day * days
    numbers = np.random.default_rng([3, days]).integers(0, 10**9, n)
    partitions = tuple((f"d{i:03d}", i * rows_per_day, (i + 1) * rows_per_day) for i in range(days))

    def build(a: int, b: int) -> pa.Table:
        return pa.table({"ID": ids("CLK-", np.arange(a + 1, b + 1), 9), "N": ids("N-", numbers[a:b], 10)})

    return SourceData.lazy("CLICKS", ["ID", "N"], n, build, partitions, prefix="clicks")


def test_the_whole_table_of_a_lazy_source_is_its_partitions_in_order():
    data = _lazy(1_000, 3)
    table = data.table
    assert table.num_rows == data.rows == 3_000
    assert table.column("ID").to_pylist()[:2] == ["CLK-000000001", "CLK-000000002"]
    assert table.column("ID").to_pylist()[-1] == "CLK-000003000"
    assert data.part(1_000, 1_002).column("ID").to_pylist() == ["CLK-000001001", "CLK-000001002"]


def test_a_build_that_returns_other_rows_is_named():
    data = SourceData.lazy("BROKEN", ["ID"], 10, lambda a, b: pa.table({"ID": ["x"]}), (("d", 0, 10),), prefix="b")
    with pytest.raises(ValueError, match=r"BROKEN: build\(0, 10\) gave 1 rows"):
        list(encode({"BROKEN": data}))


def test_corruption_applied_part_by_part_equals_corruption_of_the_whole_table():
    rules = (corrupt.Rule(corrupt.BAD_NUMBER, "N", corrupt.BAD_NUMBERS),
             corrupt.Rule(corrupt.MISSING_KEY, "ID", ("",)))
    n = 5_000
    table = pa.table({"ID": ids("K-", np.arange(1, n + 1), 6), "N": ids("", np.arange(n), 4)})
    plan = corrupt.plan(rules, n, 0.02, np.random.default_rng(4))
    whole, broken = corrupt.apply(rules, table, plan)
    cuts = [0, 1, 777, 778, 2_500, 4_999, n]
    parts = [corrupt.apply_part(rules, table.slice(a, b - a), plan, a) for a, b in itertools.pairwise(cuts)]
    assert pa.concat_tables(parts).equals(whole)
    assert broken == corrupt.broken(rules, plan) and len(broken) == 100
    assert sum(1 for v in whole.column("ID").to_pylist() if v == "") == sum(r == corrupt.MISSING_KEY for _, r in broken)


def test_load_batches_are_bounded_by_bytes_and_by_files():
    files = [shared.StagedFile(f"f{i}", None, size) for i, size in enumerate([10, 10, 10, 35, 5, 5, 5])]
    got = [[f.name for f in b] for b in shared.batches(files, max_bytes=25)]
    assert got == [["f0", "f1"], ["f2"], ["f3"], ["f4", "f5", "f6"]]  # a file over the bound goes alone
    unknown = [shared.StagedFile(f"u{i}") for i in range(shared.COPY_FILES_MAX + 1)]
    assert [len(b) for b in shared.batches(unknown, max_bytes=1)] == [shared.COPY_FILES_MAX, 1]
    assert shared.batches([], max_bytes=1) == []


def test_uploads_run_behind_the_text_in_order_and_a_failed_upload_stops_the_landing():
    """``land`` stores files from a thread of its own, at most two behind: the landed list and the
    progress are still in file order, and a failed put is raised, not lost in the thread."""
    from snowmesh.generate import land

    mesh = load_mesh(FOUR)
    by_files = {d.name: generate_domain(mesh, d.name, 2_000, seed=3, days=7) for d in mesh.domains}
    data = max(by_files.values(), key=lambda g: sum(len(s.partitions) for s in g.values()))  # the most files
    expected = [meta.key for meta, _ in encode(data)]
    assert len(expected) >= 6

    class Store:
        def __init__(self, fail_at: int | None = None) -> None:
            self.keys: list[str] = []
            self.fail_at = fail_at

        def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:  # boto3's names
            if len(self.keys) == self.fail_at:
                raise OSError(f"store refused {Key}")
            self.keys.append(Key)

    store, seen = Store(), []
    landed = land(data, store, "bucket", progress=seen.append)
    assert [f.key for f in landed] == store.keys == expected
    assert seen == [f.rows for f in landed]

    failing = Store(fail_at=3)
    with pytest.raises(OSError, match=f"store refused {expected[3]}"):
        land(data, failing, "bucket")
    assert failing.keys == expected[:3]
