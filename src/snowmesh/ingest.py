"""Local-account ingest: files in S3 (moto) -> internal stage -> one batch COPY -> the shared ingest.

The SQL that types, quarantines and records rows is procedures/governance/ingest.py, the code
the deployed ``<DB>.RAW.INGEST()`` runs. This module keeps only what the local account needs
instead of the real account's COPY with METADATA$FILENAME / METADATA$FILE_ROW_NUMBER: the S3
download, the PUT, and one batch COPY whose file markers give each row its file and line.
On a real account the walker calls the procedure's own loader (a COPY from the external stage).

Per file and exactly: rows landed = rows loaded + rows quarantined. The ledger
RAW.INGESTED_FILES makes re-runs idempotent on both targets.
"""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


def _local_load(target: Target, d: Domain, s: shared.SourceSpec, keys: list[str], typed: str,
                advance: Callable[[int], None]) -> None:
    """Local account: fill the scratch ``typed`` from S3 (moto) via an internal stage and one COPY.

    fakesnow's COPY has no METADATA$FILENAME / METADATA$FILE_ROW_NUMBER, and it reads file by
    file at ~0.2 s of overhead each (CSV sniffing per file), like PUT (~35 ms per file). So the
    batch is shipped as ONE multi-member gzip file: per landed file, a marker row (a batch-unique
    value in the first column, then empty columns) and the file's own gzip bytes, each followed by
    a newline member (a blank line is skipped, and a file without a final newline cannot run into
    the next marker). One COPY loads it into a fresh temporary table; DuckDB numbers its rows
    0, 1, ... in file order (the ROWID pseudo-column, which fakesnow passes through). The markers
    give each file's range: the row after a marker is the file's header (line 1), and a data
    row's line is its distance from the marker. Every marker must come back, in order, and the
    row count must match COPY's report, or the load stops; the tests check every quarantined line
    against the generator's. The real account uses the metadata columns (shared.real_copy_sql).
    """
    t = target
    scratch = shared.scratch_table(d.database, f"{s.name}_COPY", qualified=False)
    ranges = shared.scratch_table(d.database, f"{s.name}_COPY_FILES", qualified=False)
    first_col = ident(s.columns[0].name)
    t.sql(shared.create_scratch_sql(scratch, [f"{ident(c.name)} VARCHAR" for c in s.columns]))
    t.sql(shared.create_scratch_sql(ranges, ['"FILE_NAME" VARCHAR', '"MARKER_ROW" NUMBER', '"FIRST_ROW" NUMBER',
                                             '"LAST_ROW" NUMBER']))
    names = ", ".join(ident(c.name) for c in s.columns)
    batch = f"batch-{uuid.uuid4().hex}"
    marker = f"__mesh_{batch.replace('-', '_')}_file_"
    pad = b"," * (len(s.columns) - 1)
    stage = fqn(d.database, RAW, STAGE)
    with tempfile.TemporaryDirectory(dir=servers.state_dir(t.root) / "tmp") as tmp:
        path = Path(tmp) / f"{batch}.csv.gz"
        with path.open("wb") as out:
            out.write(gzip.compress(b"skipped by SKIP_HEADER = 1\n"))
            for i, key in enumerate(keys):
                out.write(gzip.compress(f"{marker}{i:07d}".encode() + pad + b"\n"))
                out.write(t.s3.get_object(Bucket=d.bucket, Key=key)["Body"].read())
                out.write(_NEWLINE_MEMBER)
                advance(1)
        t.sql(f"PUT 'file://{path}' @{stage}/{batch}/ AUTO_COMPRESS=FALSE OVERWRITE=TRUE")
    try:
        result = t.sql(f"COPY INTO {scratch} ({names}) FROM @{stage}/{batch}/ {shared.file_format(d.database)} "
                       "FORCE = TRUE PURGE = TRUE")
    except snowflake.connector.errors.ProgrammingError as err:
        raise StepFailed(f"{d.name}.{s.name}: COPY of {len(keys)} new files failed ({str(err.msg).splitlines()[0]})"
                         f"{_unreadable(t, d.bucket, keys)}") from None
    reported = sum(int(r[3]) for r in result)
    count, high = t.sql(f"SELECT COUNT(*), MAX(ROWID) FROM {scratch}")[0]
    marks = t.sql(f"SELECT ROWID, {first_col} FROM {scratch} WHERE STARTSWITH({first_col}, {literal(marker)}) "
                  "ORDER BY ROWID")
    if (int(count), int(high if high is not None else -1)) != (reported, reported - 1) or \
            [str(v) for _, v in marks] != [f"{marker}{i:07d}" for i in range(len(keys))]:
        raise StepFailed(f"{d.name}.{s.name}: the batch of {len(keys)} files did not load file by file "
                         f"({len(marks)} file markers, {count} rows, COPY reported {reported}); "
                         "is a quote left open at the end of a file?")
    bounds = [int(r) for r, _ in marks] + [reported]
    spans = [(key, bounds[i], bounds[i] + 2, bounds[i + 1] - 1) for i, key in enumerate(keys)]
    with t.conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {ranges} VALUES (%s, %s, %s, %s)", spans)
    rows = (
        f'(SELECT {names}, f."FILE_NAME" AS "_FILE", r.ROWID - f."MARKER_ROW" AS "_LINE" '
        f'FROM {scratch} r JOIN {ranges} f ON r.ROWID BETWEEN f."FIRST_ROW" AND f."LAST_ROW")'
    )
    t.sql(f"INSERT INTO {typed} {shared.typed_select(s, rows)}")
    t.sql(f"DROP TABLE IF EXISTS {scratch}")
    t.sql(f"DROP TABLE IF EXISTS {ranges}")


def _unreadable(target: Target, bucket: str, keys: list[str]) -> str:
    """On a failed COPY only: name the first file Python's CSV reader cannot read either."""
    for key in keys:
        body = target.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            text = gzip.decompress(body).decode("utf-8")
            for _ in csv.reader(io.StringIO(text, newline=""), strict=True):
                pass
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            return f"; {key} is not readable CSV: {err}"
    return ""


def _list_keys(target: Target, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    paginator = target.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        keys.extend(o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".csv.gz"))
    return sorted(keys)


def ingest_source(target: Target, d: Domain, s: Source, reporter: Reporter) -> SourceLoad:
    spec = source_spec(s)
    if target.is_local:
        keys = _list_keys(target, d.bucket, s.prefix)
    else:
        keys = shared.stage_files(target.session, d.database, spec)
    done = shared.loaded_files(target.session, d.database, s.name)
    new = [k for k in keys if k not in done]
    with reporter.progress(f"{d.name}.{s.name}: load {len(new)} files", total=len(new)) as advance:
        if target.is_local:
            def load(files: list[str], typed: str) -> None:
                _local_load(target, d, spec, files, typed, advance)
        else:
            def load(files: list[str], typed: str) -> None:
                shared.load_from_stage(target.session, d.database, spec, files, typed)
                advance(len(files))
        r = shared.ingest_source(target.session, d.database, spec, new, load, qualified_scratch=not target.is_local)
    r.files_skipped = len(keys) - len(new)
    return SourceLoad(**vars(r), domain=d.name)


def register_domain_sources(target: Target, d: Domain) -> None:
    """GOVERNANCE_DB.CATALOG.SOURCES rows of the domain: what the deployed INGEST() reads."""
    shared.register_sources(target.session, d.name, d.database, [source_spec(s) for s in d.sources])


def ingest_domain(target: Target, d: Domain, reporter: Reporter) -> list[SourceLoad]:
    register_domain_sources(target, d)
    return [ingest_source(target, d, s, reporter) for s in d.sources]
