"""Files in S3 -> stage -> COPY INTO the landing table -> typed RAW table + quarantine.

COPY writes text only (an all-VARCHAR landing table), so a bad value never aborts a load;
typing happens in one SQL pass in the warehouse, where every row either becomes a typed
RAW row or a QUARANTINE row with file, line and reason. Hence, per file and exactly:
rows landed = rows loaded + rows quarantined.

Idempotency comes from the ledger RAW.INGESTED_FILES (one row per file ever loaded),
which works the same on both targets; on a real account Snowflake's own load metadata
would also skip a reloaded file.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from governance.sql import fqn, ident, literal
from snowmesh.console import Reporter
from snowmesh.errors import StepFailed
from snowmesh.deploy import render
from snowmesh.deploy.plan import FILE_FORMAT, LEDGER, STAGE
from snowmesh.manifest.model import RAW, Column, Domain, Source
from snowmesh.local import servers
from snowmesh.target import Target

# fakesnow's TRY_TO_TIMESTAMP raises on text it cannot parse (instead of returning NULL),
# so timestamps are shape-checked first; the same guard is valid, and harmless, on Snowflake.
_TS_SHAPE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?$"


@dataclass
class SourceLoad:
    domain: str
    source: str
    files_new: int = 0
    files_skipped: int = 0
    rows_landed: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0


def typed_expr(c: Column, raw: str) -> str:
    """SQL that turns the landed text ``raw`` into the column's type, NULL when it cannot."""
    t = render.check_type(c.type)
    if t == "VARCHAR":
        return raw
    if t.startswith("NUMBER("):
        p, s = t[7:-1].split(",")
        return f"TRY_TO_DECIMAL({raw}, {int(p)}, {int(s)})"
    if t == "NUMBER":
        return f"TRY_TO_NUMBER({raw})"
    if t == "FLOAT":
        return f"TRY_TO_DOUBLE({raw})"
    if t == "BOOLEAN":
        return f"TRY_TO_BOOLEAN({raw})"
    if t == "DATE":
        return f"TRY_TO_DATE({raw})"
    # TIMESTAMP_NTZ: shape, then calendar (Feb 30 passes the regex), then the cast.
    return (
        f"CASE WHEN REGEXP_LIKE({raw}, '{_TS_SHAPE}') AND TRY_TO_DATE(SUBSTR({raw}, 1, 10)) IS NOT NULL "
        f"THEN TRY_CAST({raw} AS TIMESTAMP_NTZ) END"
    )


def _reason_expr(columns: tuple[Column, ...]) -> str:
    """The first problem of a row, or NULL for a good row."""
    whens = []
    for c in columns:
        raw, typed = ident(f"R_{c.name}"), ident(f"T_{c.name}")
        if c.required:
            whens.append(f"WHEN {raw} IS NULL THEN {literal('missing ' + c.name)}")
        if c.type != "VARCHAR":
            whens.append(f"WHEN {raw} IS NOT NULL AND {typed} IS NULL THEN {literal(f'bad {c.type} in {c.name}: ')} || {raw}")
    return "CASE " + " ".join(whens) + " END"


def typed_select(s: Source, rows: str) -> str:
    """``rows`` (raw text columns + _FILE + _LINE) with typed values and the quarantine reason.

    Evaluated once per row into the <SOURCE>_TYPED scratch table; the typed insert, the
    quarantine insert and the per-file counts then read that table.
    """
    inner_cols = []
    for c in s.columns:
        inner_cols.append(f"{ident(c.name)} AS {ident('R_' + c.name)}")
        inner_cols.append(f"{typed_expr(c, ident(c.name))} AS {ident('T_' + c.name)}")
    inner = f"SELECT {', '.join(inner_cols)}, \"_FILE\", \"_LINE\" FROM {rows}"
    return f"SELECT *, {_reason_expr(s.columns)} AS \"_REASON\" FROM ({inner})"


def typed_table(d: Domain, s: Source) -> str:
    return fqn(d.database, RAW, f"{s.name}_TYPED")


class _Loader:
    """Fills <SOURCE>_TYPED with the new files' rows, each with its file name and line number."""

    def __init__(self, target: Target, d: Domain, s: Source) -> None:
        self.t, self.d, self.s = target, d, s

    def load(self, keys: list[str], advance: Callable[[int], None]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _LocalLoader(_Loader):
    """Local account: S3 (moto) -> internal stage -> one COPY -> typed rows.

    fakesnow's COPY has no METADATA$FILENAME / METADATA$FILE_ROW_NUMBER. Instead the new
    files are PUT under a batch folder with ordinal names, and one COPY loads them into a
    scratch table whose AUTOINCREMENT column numbers rows in load order. fakesnow loads the
    files one after another in name order and reports rows per file in that order, and DuckDB
    keeps a gzip file's row order, so each file owns one contiguous range of that number:
    the range gives the file, the offset in it the line. The tests check the lines against
    the generator's. The real account uses the metadata columns instead.
    """

    def load(self, keys: list[str], advance: Callable[[int], None]) -> None:
        d, s, t = self.d, self.s, self.t
        scratch, ranges = fqn(d.database, RAW, f"{s.name}_COPY"), fqn(d.database, RAW, f"{s.name}_COPY_FILES")
        cols = [render.column_def(c, typed=False) for c in s.columns] + ['"_SEQ" NUMBER AUTOINCREMENT']
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
            f"COPY INTO {scratch} ({names}) FROM @{stage}/{batch}/ "
            f"FILE_FORMAT = (FORMAT_NAME = '{d.database}.{RAW}.{FILE_FORMAT}') FORCE = TRUE PURGE = TRUE"
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
        t.sql(f"INSERT INTO {typed_table(d, s)} {typed_select(s, rows)}")
        t.sql(f"DROP TABLE IF EXISTS {scratch}")
        t.sql(f"DROP TABLE IF EXISTS {ranges}")


class _RealLoader(_Loader):
    """Real account: one COPY from the external stage, with file name and row number metadata."""

    def load(self, keys: list[str], advance: Callable[[int], None]) -> None:
        d, s = self.d, self.s
        landing = fqn(d.database, RAW, s.landing_table)
        names = ", ".join(ident(c.name) for c in s.columns)
        positions = ", ".join(f"${i}" for i in range(1, len(s.columns) + 1))
        self.t.sql(f"TRUNCATE TABLE {landing}")
        for i in range(0, len(keys), 1000):  # COPY takes at most 1000 files per FILES list
            chunk = keys[i : i + 1000]
            files = ", ".join(literal(k) for k in chunk)
            self.t.sql(
                f"COPY INTO {landing} ({names}, \"_FILE\", \"_LINE\") "
                f"FROM (SELECT {positions}, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER + 1 "
                f"FROM @{fqn(d.database, RAW, STAGE)}) FILES = ({files}) "
                f"FILE_FORMAT = (FORMAT_NAME = '{d.database}.{RAW}.{FILE_FORMAT}')"
            )
            advance(len(chunk))
        self.t.sql(f"INSERT INTO {typed_table(d, s)} {typed_select(s, landing)}")
        self.t.sql(f"TRUNCATE TABLE {landing}")


def _list_keys(target: Target, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    paginator = target.s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        keys.extend(o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".csv.gz"))
    return sorted(keys)


def ingest_source(target: Target, d: Domain, s: Source, reporter: Reporter) -> SourceLoad:
    result = SourceLoad(d.name, s.name)
    ledger = fqn(d.database, RAW, LEDGER)
    keys = _list_keys(target, d.bucket, s.prefix)
    done = {r[0] for r in target.sql(f'SELECT "FILE_NAME" FROM {ledger} WHERE "SOURCE" = %s', (s.name,))}
    new = [k for k in keys if k not in done]
    result.files_skipped = len(keys) - len(new)
    result.files_new = len(new)
    if not new:
        return result
    typed = typed_table(d, s)
    # An empty table with the typed columns' types, filled by the loader.
    target.sql(
        f"CREATE OR REPLACE TRANSIENT TABLE {typed} AS "
        f"{typed_select(s, fqn(d.database, RAW, s.landing_table))} WHERE 1 = 0"
    )
    loader = (_LocalLoader if target.is_local else _RealLoader)(target, d, s)
    with reporter.progress(f"{d.name}.{s.name}: load {len(new)} files", total=len(new)) as advance:
        loader.load(new, advance)

    cols = ", ".join(ident(c.name) for c in s.columns)
    t_cols = ", ".join(ident("T_" + c.name) for c in s.columns)
    record = "OBJECT_CONSTRUCT(" + ", ".join(f"{literal(c.name)}, {ident('R_' + c.name)}" for c in s.columns) + ")"
    target.sql("BEGIN")
    try:
        target.sql(
            f"INSERT INTO {fqn(d.database, RAW, s.name)} ({cols}, \"_FILE\", \"_LINE\", \"_LOADED_AT\") "
            f"SELECT {t_cols}, \"_FILE\", \"_LINE\", SYSDATE() FROM {typed} WHERE \"_REASON\" IS NULL"
        )
        target.sql(
            f"INSERT INTO {fqn(d.database, RAW, s.quarantine_table)} "
            '("_FILE", "_LINE", "REASON", "RECORD", "_QUARANTINED_AT") '
            f"SELECT \"_FILE\", \"_LINE\", \"_REASON\", {record}::VARCHAR, SYSDATE() FROM {typed} "
            'WHERE "_REASON" IS NOT NULL'
        )
        per_file = {
            f: (int(n), int(ok))
            for f, n, ok in target.sql(f'SELECT "_FILE", COUNT(*), COUNT_IF("_REASON" IS NULL) FROM {typed} GROUP BY "_FILE"')
        }
        rows = []
        for key in new:
            landed, loaded = per_file.get(key, (0, 0))  # a header-only file lands nothing
            rows.append((s.name, key, landed, loaded, landed - loaded))
            result.rows_landed += landed
            result.rows_loaded += loaded
            result.rows_quarantined += landed - loaded
        with target.conn.cursor() as cur:
            cur.executemany(
                f'INSERT INTO {ledger} ("SOURCE", "FILE_NAME", "ROWS_LANDED", "ROWS_LOADED", "ROWS_QUARANTINED", '
                '"LOADED_AT") VALUES (%s, %s, %s, %s, %s, SYSDATE())',
                rows,
            )
        target.sql("COMMIT")
    except Exception:
        target.sql("ROLLBACK")
        raise
    target.sql(f"DROP TABLE IF EXISTS {typed}")
    return result


def ingest_domain(target: Target, d: Domain, reporter: Reporter) -> list[SourceLoad]:
    return [ingest_source(target, d, s, reporter) for s in d.sources]
