"""Encode generated sources as gzip CSV files and land them in S3 or on local disk.

* ``land(files_by_source, s3_client, bucket, progress=None) -> list[LandedFile]`` -- one
  ``put_object`` per file into an existing bucket; creates nothing else. ``progress`` is called
  with the data-row count of each file once it is stored.
* ``write_local(files_by_source, out_dir) -> list[LandedFile]`` -- the same keys as paths under
  ``out_dir``.
* ``encode(files_by_source)`` -- the ``(LandedFile, gzip bytes)`` pairs both of them write.

Layout: ``<prefix>/dt=YYYY-MM-DD/part-00000.csv.gz``, one file per partition of each source.
CSV: comma separated, ``\\n`` line ends, a header row, fields quoted with ``"`` only when they
contain a comma, quote or line break, empty field = NULL. Gzip at level 1 with a zero mtime, so
the same input gives the same bytes. Line numbers in ``LandedFile.corrupt_lines`` count the
header as line 1 (no field contains a line break, so row i of a file is on line i + 2).
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from snowmesh.generate.common import SourceData

_NEEDS_QUOTES = r'[",\r\n]'
_SPECIAL = (b'"', b",", b"\r", b"\n")


@dataclass(frozen=True)
class LandedFile:
    source: str  # manifest source name, e.g. "AD_CLICKS"
    key: str  # e.g. "ad_clicks/dt=2026-10-05/part-00000.csv.gz"
    rows: int  # data rows, header excluded
    corrupt_lines: tuple[tuple[int, str], ...]  # (line number in the file, reason category)

    @property
    def corrupt(self) -> int:
        return len(self.corrupt_lines)


def summarize(landed: list[LandedFile]) -> dict[str, tuple[int, int]]:
    """``{source: (rows, corrupt rows)}`` over all its files."""
    out: dict[str, tuple[int, int]] = {}
    for f in landed:
        rows, bad = out.get(f.source, (0, 0))
        out[f.source] = (rows + f.rows, bad + f.corrupt)
    return out


def _field(col: pa.Array) -> pa.Array:
    """CSV text of one column: RFC 4180 quoting, only where a value needs it."""
    # Cheap scan of the raw bytes first (memchr per byte: ~20x np.isin): bulk columns never need
    # quotes, skip the regex for them. A sliced column's buffer holds more rows: that only errs
    # towards the exact check below.
    data = col.buffers()[2]
    raw = data.to_pybytes() if data is not None else b""
    if not any(ch in raw for ch in _SPECIAL):
        return col
    needs = pc.match_substring_regex(col, _NEEDS_QUOTES)
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, col)


def _lines(table: pa.Table) -> tuple[pa.Buffer, np.ndarray]:
    """All data lines as one buffer plus the byte offset where each line starts (n + 1 offsets)."""
    cols = [c.combine_chunks() for c in table.columns]
    if any(c.null_count for c in cols):
        raise ValueError("generated tables use '' for empty fields, never null")
    fields = [_field(c) for c in cols]
    # The newline joins the last field (one column's copy), not the whole line (a second copy of it).
    fields[-1] = pc.binary_join_element_wise(fields[-1], pa.scalar("\n"), "")
    line = pc.binary_join_element_wise(*fields, ",")
    _, offsets, data = line.buffers()
    width = np.int64 if pa.types.is_large_string(line.type) or pa.types.is_large_binary(line.type) else np.int32
    return data, np.frombuffer(offsets, dtype=width)[line.offset : line.offset + len(line) + 1].astype(np.int64, copy=False)


def _gzip(parts: list[bytes | pa.Buffer]) -> bytes:
    # zlib's own gzip header has mtime 0 and a fixed OS byte: deterministic, unlike gzip.compress.
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    return b"".join([*(z.compress(p) for p in parts), z.flush()])


def _jobs(files_by_source: Mapping[str, SourceData]) -> Iterator[tuple[LandedFile, list[Any]]]:
    for name, data in files_by_source.items():
        if name != data.source:
            raise ValueError(f"files_by_source[{name!r}] holds {data.source}")
        header = (",".join(data.column_names) + "\n").encode()
        if data.rows == 0:
            continue
        corrupt = np.array([r for r, _ in data.corrupt], dtype=np.int64)
        reasons = [why for _, why in data.corrupt]
        for dt, start, stop in data.partitions:
            lo, hi = np.searchsorted(corrupt, [start, stop])
            lines = tuple((int(corrupt[i]) - start + 2, reasons[i]) for i in range(lo, hi))
            # One partition's text at a time: the CSV of 10M rows would be ~2 GiB of copies (and
            # a lazy source builds only this partition's table).
            buf, offsets = _lines(data.part(start, stop))
            body = buf.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
            yield LandedFile(name, data.key(dt), stop - start, lines), [header, body]


def encode(files_by_source: Mapping[str, SourceData], workers: int = 2) -> Iterator[tuple[LandedFile, bytes]]:
    """Each file's metadata and gzip bytes, in source then date order; compresses in threads.

    At most ``2 * workers`` files are in flight, so memory follows the file size, not the scale.
    """
    pending: deque[tuple[LandedFile, Future[bytes]]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:  # zlib releases the GIL
        for meta, parts in _jobs(files_by_source):
            pending.append((meta, pool.submit(_gzip, parts)))
            if len(pending) > 2 * workers:
                done, fut = pending.popleft()
                yield done, fut.result()
        while pending:
            done, fut = pending.popleft()
            yield done, fut.result()


def land(
    files_by_source: Mapping[str, SourceData],
    s3_client: Any,
    bucket: str,
    progress: Callable[[int], None] | None = None,
) -> list[LandedFile]:
    """Put every file into ``bucket`` (which must exist) with ``s3_client.put_object``.

    The uploads run in a thread of their own (boto3's clients are thread-safe), at most two
    behind, so the next file's text is built while the store takes the last one."""
    landed: list[LandedFile] = []
    uploads: deque[tuple[LandedFile, Future[Any]]] = deque()

    def stored() -> None:
        meta, fut = uploads.popleft()
        fut.result()
        landed.append(meta)
        if progress is not None:
            progress(meta.rows)

    with ThreadPoolExecutor(max_workers=1) as pool:
        for meta, body in encode(files_by_source):
            uploads.append((meta, pool.submit(s3_client.put_object, Bucket=bucket, Key=meta.key, Body=body,
                                              ContentType="application/gzip")))
            if len(uploads) > 2:
                stored()
        while uploads:
            stored()
    return landed


def write_local(files_by_source: Mapping[str, SourceData], out_dir: Path | str) -> list[LandedFile]:
    """Write every file to ``out_dir/<key>``, creating folders as needed."""
    landed = []
    for meta, body in encode(files_by_source):
        path = Path(out_dir) / meta.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        landed.append(meta)
    return landed
