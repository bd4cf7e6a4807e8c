"""Local-account ingest: files in S3 (moto) -> internal stage -> one batch COPY -> the shared ingest.

The SQL that types, quarantines and records rows is procedures/governance/ingest.py, the code
the deployed ``<DB>.RAW.INGEST()`` runs. This module keeps only what the local account needs
instead of the real account's COPY with METADATA$FILENAME / METADATA$FILE_ROW_NUMBER: the S3
download, the PUT, and a batch COPY whose AUTOINCREMENT ranges give each row its file and line.
On a real account the walker calls the procedure's own loader (a COPY from the external stage).

Per file and exactly: rows landed = rows loaded + rows quarantined. The ledger
RAW.INGESTED_FILES makes re-runs idempotent on both targets.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from governance import ingest as shared
from governance.sql import fqn, ident
from snowmesh.console import Reporter
from snowmesh.deploy import render
from snowmesh.deploy.plan import STAGE
from snowmesh.errors import StepFailed
from snowmesh.local import servers
from snowmesh.manifest.model import RAW, Domain, Source
from snowmesh.target import Target


@dataclass
class SourceLoad:
    domain: str
    source: str
    files_new: int = 0
    files_skipped: int = 0
    rows_landed: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0


def source_spec(s: Source) -> shared.SourceSpec:
    """The manifest source as the in-warehouse code sees it (and the source registry stores it)."""
    cols = tuple(shared.ColumnSpec(c.name, render.check_type(c.type), c.required) for c in s.columns)
    return shared.SourceSpec(s.name, s.prefix, cols)


def _local_load(target: Target, d: Domain, s: shared.SourceSpec, keys: list[str],
                advance: Callable[[int], None]) -> None:
    """Local account: fill <SOURCE>_TYPED from S3 (moto) via an internal stage and one COPY.

    fakesnow's COPY has no METADATA$FILENAME / METADATA$FILE_ROW_NUMBER. Instead the new
    files are PUT under a batch folder with ordinal names, and one COPY loads them into a
    scratch table whose AUTOINCREMENT column numbers rows in load order. fakesnow loads the
    files one after another in name order and reports rows per file in that order, and DuckDB
    keeps a gzip file's row order, so each file owns one contiguous range of that number:
    the range gives the file, the offset in it the line. The tests check the lines against
    the generator's. The real account uses the metadata columns instead (shared.real_copy_sql).
    """
    t = target
    scratch, ranges = fqn(d.database, RAW, f"{s.name}_COPY"), fqn(d.database, RAW, f"{s.name}_COPY_FILES")
    cols = [f"{ident(c.name)} VARCHAR" for c in s.columns] + ['"_SEQ" NUMBER AUTOINCREMENT']
    # fakesnow puts the AUTOINCREMENT sequence in the *current* database, and a DuckDB
    # transaction may write only one database: make the domain's RAW schema current.
    t.sql(f"USE SCHEMA {fqn(d.database, RAW)}")
    t.sql(render.table(d.database, RAW, f"{s.name}_COPY", cols, transient=True, replace=True).sql)
    range_cols = ['"FILE_NAME" VARCHAR', '"FIRST_ROW" NUMBER', '"LAST_ROW" NUMBER']
    t.sql(render.table(d.database, RAW, f"{s.name}_COPY_FILES", range_cols, transient=True, replace=True).sql)
    names = ", ".join(ident(c.name) for c in s.columns)
    batch = f"batch-{uuid.uuid4().hex}"
    stage = fqn(d.database, RAW, STAGE)
    with tempfile.TemporaryDirectory(dir=servers.state_dir(t.root) / "tmp") as tmp:
        for i, key in enumerate(keys):
            t.s3.download_file(d.bucket, key, str(Path(tmp) / f"{i:07d}.csv.gz"))
            advance(1)
        t.sql(f"PUT 'file://{tmp}/*.csv.gz' @{stage}/{batch}/ AUTO_COMPRESS=FALSE OVERWRITE=TRUE PARALLEL=4")
    result = t.sql(
        f"COPY INTO {scratch} ({names}) FROM @{stage}/{batch}/ {shared.file_format(d.database)} FORCE = TRUE PURGE = TRUE"
    )
    loaded = [(str(r[0]).rsplit("/", 1)[-1], int(r[3])) for r in result]
    expected = [f"{i:07d}.csv.gz" for i in range(len(keys))]
    if [name for name, _ in loaded] != expected:
        raise StepFailed(f"{d.name}.{s.name}: COPY loaded files in an unexpected order: {loaded[:3]}...")
    spans, first = [], 0
    for key, (_, n) in zip(keys, loaded):
        spans.append((key, first, first + n - 1))
        first += n
    with t.conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {ranges} VALUES (%s, %s, %s)", spans)
    # Header is line 1, so a file's first data row is line 2.
    rows = (
        f'(SELECT {names}, f."FILE_NAME" AS "_FILE", r."_N" - f."FIRST_ROW" + 2 AS "_LINE" FROM '
        f'(SELECT *, "_SEQ" - MIN("_SEQ") OVER () AS "_N" FROM {scratch}) r '
        f'JOIN {ranges} f ON r."_N" BETWEEN f."FIRST_ROW" AND f."LAST_ROW")'
    )
    t.sql(f"INSERT INTO {fqn(d.database, RAW, s.typed_table)} {shared.typed_select(s, rows)}")
    t.sql(f"DROP TABLE IF EXISTS {scratch}")
    t.sql(f"DROP TABLE IF EXISTS {ranges}")


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
            load = lambda files: _local_load(target, d, spec, files, advance)
        else:
            def load(files: list[str]) -> None:
                shared.load_from_stage(target.session, d.database, spec, files)
                advance(len(files))
        r = shared.ingest_source(target.session, d.database, spec, new, load)
    return SourceLoad(d.name, s.name, len(new), len(keys) - len(new), r.rows_landed, r.rows_loaded,
                      r.rows_quarantined)


def register_domain_sources(target: Target, d: Domain) -> None:
    """GOVERNANCE_DB.CATALOG.SOURCES rows of the domain: what the deployed INGEST() reads."""
    shared.register_sources(target.session, d.name, d.database, [source_spec(s) for s in d.sources])


def ingest_domain(target: Target, d: Domain, reporter: Reporter) -> list[SourceLoad]:
    register_domain_sources(target, d)
    return [ingest_source(target, d, s, reporter) for s in d.sources]
