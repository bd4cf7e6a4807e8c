"""Local-account ingest: files in S3 (moto) -> a structure screen -> internal stage -> one batch COPY.

The SQL that types, quarantines, rejects and records rows is procedures/governance/ingest.py,
the code the deployed ``<DB>.RAW.INGEST()`` runs. This module keeps only what the local account
needs instead of the real account's COPY with METADATA$FILENAME / METADATA$FILE_ROW_NUMBER and
ON_ERROR = CONTINUE (fakesnow has neither): the S3 download, a screen of each file's records,
the PUT, and one batch COPY whose file markers give each row its file and line.
On a real account the walker calls the procedure's own loader (a COPY from the external stage).

Per file and exactly: rows landed = rows loaded + rows quarantined, or the file is rejected
(RAW.REJECTED_FILES) with its lines. The ledger makes re-runs idempotent on both targets, and
two loaders at once record each file once (governance.ingest, "Exactly once").
"""

from __future__ import annotations

import gzip
import tempfile
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import snowflake.connector

from governance import ingest as shared
from governance.sql import fqn, ident, literal
from snowmesh.console import Reporter
from snowmesh.deploy import render
from snowmesh.deploy.plan import STAGE
from snowmesh.errors import StepFailed
from snowmesh.local import servers
from snowmesh.manifest.model import RAW, Domain, Source
from snowmesh.target import Target


@dataclass
class SourceLoad(shared.SourceResult):
    """The in-warehouse ingest's result for one source, with its domain (the run summary groups by it)."""

    domain: str = ""


def source_spec(s: Source) -> shared.SourceSpec:
    """The manifest source as the in-warehouse code sees it (and the source registry stores it)."""
    cols = tuple(shared.ColumnSpec(c.name, render.check_type(c.type), c.required) for c in s.columns)
    return shared.SourceSpec(s.name, s.prefix, cols)


_NEWLINE_MEMBER = gzip.compress(b"\n")
_COMMA, _LF, _QUOTE = 44, 10, 34


@dataclass
class Screened:
    """One landed file after the screen: the gzip bytes to ship (None: rejected) and what it found."""

    body: bytes | None
    line_errors: list[shared.LineError]
    file_error: shared.FileError | None = None


def screen(key: str, body: bytes, ncols: int, placeholder: bytes) -> Screened:
    """What Snowflake's COPY ... ON_ERROR = CONTINUE does per record, for DuckDB's all-or-nothing COPY.

    Reads the file once with numpy: records end at newlines outside quotes; a record with the
    wrong field count, invalid UTF-8, a misplaced quote, no bytes or over MAX_LINE_CHARS bytes
    is replaced by ``placeholder`` (one record, so later line numbers stay true) and reported;
    DuckDB would fail the whole batch on any of them. CRLF line ends become LF (DuckDB detects
    one newline style per batch file). Not gzip, or a quote left open: the file is rejected.
    A clean file ships its own gzip bytes untouched.
    """
    try:
        data = gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as err:
        return Screened(None, [], shared.FileError(key, f"not gzip: {err}", 0))
    changed = b"\r\n" in data
    if changed:
        data = data.replace(b"\r\n", b"\n")
    if not data:
        return Screened(gzip.compress(b""), [])  # no line 1: the shared header check rejects it
    buf = np.frombuffer(data, dtype=np.uint8)
    # Positions, not per-byte masks or running sums: a 3 MB file has ~300k commas and newlines.
    commas, ends = np.flatnonzero(buf == _COMMA), np.flatnonzero(buf == _LF)
    quotes = np.flatnonzero(buf == _QUOTE)
    if len(quotes):  # a comma or newline between an opening and its closing quote is data
        commas, ends = _outside(commas, quotes), _outside(ends, quotes)
    if len(quotes) % 2:  # the last quote opens a field that never closes: the rest is unreadable
        rest = data[int(ends[-1]) + 1 if ends.size else 0:]  # its physical lines: none can be parsed
        lines = len(ends) - 1 + rest.count(b"\n") + (not rest.endswith(b"\n"))
        return Screened(None, [], shared.FileError(key, f"quote left open at line {len(ends) + 1}", max(lines, 0)))
    if ends.size == 0 or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))  # a last line without a final newline
    starts = np.concatenate(([0], ends[:-1] + 1))
    fields = np.diff(np.searchsorted(commas, ends), prepend=0) + 1  # commas before each end, per record
    lengths = ends - starts
    reasons: dict[int, str] = {}
    for i in np.flatnonzero(fields != ncols):
        reasons[int(i)] = f"{int(fields[i])} fields, expected {ncols}"
    for i in np.flatnonzero(lengths > shared.MAX_LINE_CHARS):
        reasons[int(i)] = f"line longer than {shared.MAX_LINE_CHARS} bytes"
    if len(quotes):
        opening, closing = quotes[0::2], quotes[1::2]
        before = np.where(opening > 0, buf[np.maximum(opening - 1, 0)], _COMMA)
        after = np.where(closing < len(buf) - 1, buf[np.minimum(closing + 1, len(buf) - 1)], _COMMA)
        bad = np.concatenate((opening[~np.isin(before, (_COMMA, _LF, _QUOTE))],
                              closing[~np.isin(after, (_COMMA, _LF, _QUOTE))]))
        for i in np.searchsorted(ends, bad):
            reasons.setdefault(int(i), "misplaced quote (a quote inside an unquoted field, or text after a closing quote)")
    for i, why in _bad_utf8(data, ends).items():
        reasons[i] = why
    for i in np.flatnonzero(lengths == 0):
        reasons[int(i)] = "blank line"
    if not reasons and not changed:
        return Screened(body, [])
    errors, parts, pos = [], [], 0
    for i in sorted(reasons):
        a, b = int(starts[i]), int(ends[i])
        errors.append(shared.LineError(key, i + 1, reasons[i], data[a:b][:1000].decode("utf-8", "replace")))
        parts += [data[pos:a], placeholder]
        pos = b
    parts.append(data[pos:])
    return Screened(zlib.compress(b"".join(parts), 1, wbits=31), errors)


def _outside(pos: np.ndarray, quotes: np.ndarray) -> np.ndarray:
    """The sorted positions ``pos`` that are not between a quote pair (quotes[0]..quotes[1], ...)."""
    opening, closing = quotes[0::2], quotes[1::2]
    if len(closing) < len(opening):
        closing = np.append(closing, np.iinfo(np.int64).max)  # the last quote never closes
    depth = np.zeros(len(pos) + 1, dtype=np.int32)
    np.add.at(depth, np.searchsorted(pos, opening), 1)
    np.add.at(depth, np.searchsorted(pos, closing), -1)
    return pos[np.cumsum(depth[:-1]) == 0]


def _bad_utf8(data: bytes, ends: np.ndarray) -> dict[int, str]:
    """Records holding bytes that are not UTF-8 (the fast path decodes the whole file once)."""
    out: dict[int, str] = {}
    pos = 0
    while pos < len(data):
        try:
            data[pos:].decode("utf-8")
            break
        except UnicodeDecodeError as err:
            at = pos + err.start
            i = int(np.searchsorted(ends, at))
            start = int(ends[i - 1]) + 1 if i else 0
            out[i] = f"invalid UTF-8 at byte {at - start + 1} of the line"
            pos = int(ends[i]) + 1
    return out


@dataclass
class Packed:
    """One batch's landed files screened into a single multi-member gzip file, ready to PUT."""

    batch: str  # batch-unique id: the stage folder and the file markers
    path: Path | None  # None: no file was shippable (every one rejected)
    shipped: list[str]
    line_errors: list[shared.LineError]
    file_errors: list[shared.FileError]


def _markers(s: shared.SourceSpec, batch: str) -> tuple[str, str, bytes]:
    """(file marker prefix, bad-record marker, the empty fields after a marker) of a batch."""
    marker, bad = (f"__mesh_{batch.replace('-', '_')}_{kind}_" for kind in ("file", "bad"))
    return marker, bad, b"," * (len(s.columns) - 1)


def pack(target: Target, d: Domain, s: shared.SourceSpec, keys: list[str], folder: Path,
         advance: Callable[[int], None]) -> Packed:
    """The client half of a local load: download and screen each file, and write the batch file.

    Per screened file, a marker row (a batch-unique value in the first column, then empty
    columns) and the file's gzip bytes, each followed by a newline member (a blank line is
    skipped, and a file without a final newline cannot run into the next marker). Touches no
    table, so it can run for the next batch while the warehouse loads this one."""
    batch = f"batch-{uuid.uuid4().hex}"
    marker, bad, pad = _markers(s, batch)
    out = Packed(batch, folder / f"{batch}.csv.gz", [], [], [])

    def fetch(key: str) -> Screened:
        body = target.s3.get_object(Bucket=d.bucket, Key=key)["Body"].read()
        return screen(key, body, len(s.columns), bad.encode() + pad)

    with out.path.open("wb") as f, ThreadPoolExecutor(max_workers=2) as pool:  # zlib and numpy release the GIL
        for key, sc in zip(keys, pool.map(fetch, keys), strict=True):
            out.line_errors += sc.line_errors
            if sc.file_error is not None:
                out.file_errors.append(sc.file_error)
            elif sc.body is not None:
                f.write(gzip.compress(f"{marker}{len(out.shipped):07d}".encode() + pad + b"\n"))
                f.write(sc.body)
                f.write(_NEWLINE_MEMBER)
                out.shipped.append(key)
            advance(1)
    if not out.shipped:
        out.path.unlink()
        out.path = None
    return out


def _local_load(target: Target, d: Domain, s: shared.SourceSpec, packed: Packed) -> shared.Loaded:
    """Local account: a packed batch's records via an internal stage and one COPY.

    fakesnow's COPY has no METADATA$FILENAME / METADATA$FILE_ROW_NUMBER, and it reads file by
    file at ~0.2 s of overhead each (CSV sniffing per file), like PUT (~35 ms per file). So the
    batch is shipped as ONE file (:func:`pack`) and one COPY loads it into a fresh temporary
    table; DuckDB numbers its rows 0, 1, ... in file order (the ROWID pseudo-column, which
    fakesnow passes through). The row after a marker is the file's line 1 (its header), and a
    row's line is its distance from the marker. Every marker must come back, in order, and the
    row count must match COPY's report, or the load stops. The real account uses the metadata
    columns.
    """
    t = target
    scratch = shared.scratch_table(d.database, f"{s.name}_COPY", qualified=False)
    ranges = shared.scratch_table(d.database, f"{s.name}_COPY_FILES", qualified=False)
    first_col = ident(s.columns[0].name)
    t.sql(shared.create_scratch_sql(scratch, [f"{ident(c.name)} VARCHAR" for c in s.columns]))
    t.sql(shared.create_scratch_sql(ranges, ['"FILE_NAME" VARCHAR', '"MARKER_ROW" NUMBER', '"FIRST_ROW" NUMBER',
                                             '"LAST_ROW" NUMBER']))
    names = ", ".join(ident(c.name) for c in s.columns)
    marker, bad, _ = _markers(s, packed.batch)
    stage = fqn(d.database, RAW, STAGE)
    out = shared.Loaded(rows="", scratch=[scratch, ranges], line_errors=list(packed.line_errors),
                        file_errors=list(packed.file_errors))
    shipped = packed.shipped
    if packed.path is not None:
        try:
            t.sql(f"PUT 'file://{packed.path}' @{stage}/{packed.batch}/ AUTO_COMPRESS=FALSE OVERWRITE=TRUE")
        finally:
            packed.path.unlink(missing_ok=True)
    not_bad = f"NOT STARTSWITH(COALESCE(r.{first_col}, ''), {literal(bad)})"
    out.rows = (
        f'(SELECT {names}, CAST(NULL AS VARCHAR) AS "_EXTRA", f."FILE_NAME" AS "_FILE", '
        f'r.ROWID - f."MARKER_ROW" AS "_LINE" '
        f'FROM {scratch} r JOIN {ranges} f ON r.ROWID BETWEEN f."FIRST_ROW" AND f."LAST_ROW" WHERE {not_bad})'
    )
    out.headers = (f'(SELECT {names}, f."FILE_NAME" AS "_FILE", 1 AS "_LINE" '
                   f'FROM {scratch} r JOIN {ranges} f ON r.ROWID = f."FIRST_ROW" AND f."FIRST_ROW" <= f."LAST_ROW" '
                   f'WHERE {not_bad})')  # an empty file's range is empty: its FIRST_ROW is the next marker
    if not shipped:
        return out
    try:
        result = t.sql(f"COPY INTO {scratch} ({names}) FROM @{stage}/{packed.batch}/ {shared.file_format(d.database)} "
                       "FORCE = TRUE PURGE = TRUE")
    except snowflake.connector.errors.ProgrammingError as err:
        raise StepFailed(f"{d.name}.{s.name}: COPY of {len(shipped)} screened files failed "
                         f"({str(err.msg).splitlines()[0]})") from None
    reported = sum(int(r[3]) for r in result)
    count, high = t.sql(f"SELECT COUNT(*), MAX(ROWID) FROM {scratch}")[0]
    marks = t.sql(f"SELECT ROWID, {first_col} FROM {scratch} WHERE STARTSWITH({first_col}, {literal(marker)}) "
                  "ORDER BY ROWID")
    if (int(count), int(high if high is not None else -1)) != (reported, reported - 1) or \
            [str(v) for _, v in marks] != [f"{marker}{i:07d}" for i in range(len(shipped))]:
        raise StepFailed(f"{d.name}.{s.name}: the batch of {len(shipped)} files did not load file by file "
                         f"({len(marks)} file markers, {count} rows, COPY reported {reported})")
    bounds = [int(r) for r, _ in marks] + [reported]
    spans = [(key, bounds[i], bounds[i] + 1, bounds[i + 1] - 1) for i, key in enumerate(shipped)]
    with t.conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {ranges} VALUES (%s, %s, %s, %s)", spans)
    return out


class LocalLoader:
    """The local loader of one source's batches: packs batch k+1 while the warehouse loads batch k.

    The client's half of a batch (download, screen, write: most of a second per 24 MB) and the
    warehouse's half (PUT, COPY, typing, promotion) then overlap on the two cores instead of
    taking turns. At most one batch is packed ahead, on disk, so memory stays one file's bytes.
    """

    def __init__(self, target: Target, d: Domain, s: shared.SourceSpec, plan: list[list[str]], folder: Path,
                 advance: Callable[[int], None], pool: ThreadPoolExecutor) -> None:
        self.target, self.domain, self.spec, self.folder, self.advance, self.pool = target, d, s, folder, advance, pool
        self.plan = [tuple(b) for b in plan]
        self.ahead: dict[tuple[str, ...], Future[Packed]] = {}

    def _submit(self, keys: tuple[str, ...]) -> Future[Packed]:
        return self.pool.submit(pack, self.target, self.domain, self.spec, list(keys), self.folder, self.advance)

    def __call__(self, files: list[str]) -> shared.Loaded:
        keys = tuple(files)
        future = self.ahead.pop(keys, None) or self._submit(keys)
        packed = future.result()
        nxt = self.plan.index(keys) + 1 if keys in self.plan else len(self.plan)
        if nxt < len(self.plan):  # the next batch's client half runs during this batch's SQL
            self.ahead[self.plan[nxt]] = self._submit(self.plan[nxt])
        return _local_load(self.target, self.domain, self.spec, packed)


def _list_files(target: Target, bucket: str, prefix: str) -> list[shared.StagedFile]:
    files: list[shared.StagedFile] = []
    paginator = target.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        files.extend(shared.StagedFile(o["Key"], str(o.get("ETag", "")).strip('"') or None, o.get("Size"))
                     for o in page.get("Contents", []) if o["Key"].endswith(".csv.gz"))
    return sorted(files, key=lambda f: f.name)


def ingest_source(target: Target, d: Domain, s: Source, reporter: Reporter) -> SourceLoad:
    spec = source_spec(s)
    if target.is_local:
        staged = _list_files(target, d.bucket, s.prefix)
    else:
        staged = shared.stage_files(target.session, d.database, spec)
    new = shared.new_files(target.session, d.database, s.name, staged)
    with reporter.progress(f"{d.name}.{s.name}: load {len(new)} files", total=len(new)) as advance:
        # Bounded batches (governance.ingest.BATCH_MAX_BYTES): the same working set at any scale.
        if not target.is_local:
            def load(files: list[str]) -> shared.Loaded:
                loaded = shared.load_from_stage(target.session, d.database, spec, files)
                advance(len(files))
                return loaded

            r = shared.ingest_batches(target.session, d.database, spec, new, load)
        else:
            target.expect_load(sum(f.size or 0 for f in new))
            plan = [[f.name for f in b] for b in shared.batches(new)]
            with tempfile.TemporaryDirectory(dir=servers.state_dir(target.root) / "tmp") as tmp, \
                    ThreadPoolExecutor(max_workers=1) as pool:
                loader = LocalLoader(target, d, spec, plan, Path(tmp), advance, pool)
                try:
                    r = shared.ingest_batches(target.session, d.database, spec, new, loader, qualified_scratch=False)
                finally:
                    pool.shutdown(cancel_futures=True)  # a failed batch: no further packing
    r.files_skipped += len(staged) - len(new)
    return SourceLoad(**vars(r), domain=d.name)


def register_domain_sources(target: Target, d: Domain) -> None:
    """GOVERNANCE_DB.CATALOG.SOURCES rows of the domain: what the deployed INGEST() reads."""
    shared.register_sources(target.session, d.name, d.database, [source_spec(s) for s in d.sources])


def ingest_domain(target: Target, d: Domain, reporter: Reporter) -> list[SourceLoad]:
    register_domain_sources(target, d)
    return [ingest_source(target, d, s, reporter) for s in d.sources]
