"""INGEST(): a domain's new landing files -> typed RAW rows + quarantine + ledger, in the warehouse.

The ONE implementation of the ingest SQL: the deployed ``<DB>.RAW.INGEST()`` procedure runs it,
and the local walker (snowmesh.ingest) runs the same builders and :func:`ingest_source`, only
replacing the COPY with its local-account variant (fakesnow has no METADATA$ columns).

COPY writes text only (an all-VARCHAR landing table), so a bad value never aborts a load; one
SQL pass types every row into the <SOURCE>_TYPED scratch table, where each row is either a good
row or carries the reason it is not. Hence, per file and exactly: landed = loaded + quarantined.
The ledger RAW.INGESTED_FILES (one row per file ever loaded) makes re-runs idempotent.

Where INGEST() finds the sources: GOVERNANCE_DB.CATALOG.SOURCES, one row per source with the
manifest's prefix, columns, types and required flags as JSON (:func:`register_sources`), keyed
by the domain database. The procedure takes no argument (the task graph CALLs ``INGEST()``) and
ingests the sources of ``CURRENT_DATABASE()``: the graph's tasks live in ``<DB>.STAGING``.

Handler for snowflake.yml: ``governance.ingest.ingest`` -- signature (), returns VARCHAR.
Stdlib + Snowpark only: this module is zipped into the procedures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from governance.sql import check_ident, fqn, ident, literal, split_fqn

RAW, STAGE, FILE_FORMAT, LEDGER = "RAW", "LANDING", "CSV_GZIP", "INGESTED_FILES"


def landing_table(source: str) -> str:
    """All-VARCHAR table COPY writes into; typing happens in SQL so bad rows can be quarantined."""
    return f"{source}_LANDING"


def quarantine_table(source: str) -> str:
    return f"{source}_QUARANTINE"
SOURCES_TABLE = "GOVERNANCE_DB.CATALOG.SOURCES"
SOURCES_COLUMNS = (("DOMAIN", "VARCHAR NOT NULL"), ("DATABASE_NAME", "VARCHAR NOT NULL"),
                   ("SOURCE", "VARCHAR NOT NULL"), ("SPEC", "VARCHAR NOT NULL"))
COPY_FILES_MAX = 1000  # COPY takes at most 1000 names in a FILES list

_TYPE = re.compile(r"(VARCHAR|NUMBER|FLOAT|BOOLEAN|DATE|TIMESTAMP_NTZ)(\(\d{1,2}(,\d{1,2})?\))?")
# fakesnow's TRY_TO_TIMESTAMP raises on text it cannot parse (instead of returning NULL),
# so timestamps are shape-checked first; the same guard is valid, and harmless, on Snowflake.
_TS_SHAPE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?$"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    required: bool = False


@dataclass(frozen=True)
class SourceSpec:
    """What ingest needs of a manifest source: the manifest's own fields, nothing derived."""

    name: str
    prefix: str
    columns: tuple[ColumnSpec, ...]

    @property
    def landing_table(self) -> str:
        return landing_table(self.name)

    @property
    def quarantine_table(self) -> str:
        return quarantine_table(self.name)

    @property
    def typed_table(self) -> str:
        return f"{self.name}_TYPED"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SourceSpec:
        cols = tuple(ColumnSpec(check_ident(c["name"]), check_type(c["type"]), bool(c.get("required")))
                     for c in doc["columns"])
        return cls(check_ident(doc["name"]), str(doc["prefix"]), cols)


@dataclass
class SourceResult:
    source: str
    files_new: int = 0
    files_skipped: int = 0
    rows_landed: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    files: list[str] = field(default_factory=list)


def check_type(type_: str) -> str:
    """Types come from validated manifests; re-check so no text slips into SQL."""
    if not isinstance(type_, str) or not _TYPE.fullmatch(type_):
        raise ValueError(f"unsupported column type {type_!r}")
    return type_


# --------------------------------------------------------------------------- SQL builders (pure)


def typed_expr(c: ColumnSpec, raw: str) -> str:
    """SQL that turns the landed text ``raw`` into the column's type, NULL when it cannot."""
    t = check_type(c.type)
    if t == "VARCHAR":
        return raw
    if t.startswith("NUMBER("):
        p, s = (t[7:-1].split(",") + ["0"])[:2]
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


def reason_expr(columns: Sequence[ColumnSpec]) -> str:
    """The first problem of a row, or NULL for a good row."""
    whens = []
    for c in columns:
        raw, typed = ident(f"R_{c.name}"), ident(f"T_{c.name}")
        if c.required:
            whens.append(f"WHEN {raw} IS NULL THEN {literal('missing ' + c.name)}")
        if c.type != "VARCHAR":
            whens.append(f"WHEN {raw} IS NOT NULL AND {typed} IS NULL THEN {literal(f'bad {c.type} in {c.name}: ')} || {raw}")
    return "CASE " + " ".join(whens) + " END" if whens else "CAST(NULL AS VARCHAR)"


def typed_select(s: SourceSpec, rows: str) -> str:
    """``rows`` (raw text columns + _FILE + _LINE) with typed values and the quarantine reason.

    Evaluated once per row into <SOURCE>_TYPED; the typed insert, the quarantine insert and
    the per-file counts then read that table.
    """
    inner_cols = []
    for c in s.columns:
        inner_cols.append(f"{ident(c.name)} AS {ident('R_' + c.name)}")
        inner_cols.append(f"{typed_expr(c, ident(c.name))} AS {ident('T_' + c.name)}")
    inner = f"SELECT {', '.join(inner_cols)}, \"_FILE\", \"_LINE\" FROM {rows}"
    return f"SELECT *, {reason_expr(s.columns)} AS \"_REASON\" FROM ({inner})"


def scratch_table(database: str, name: str, *, qualified: bool = True) -> str:
    """A scratch table of one load: session-scoped TEMPORARY, so a failed load leaves nothing.

    Snowflake takes temporary tables schema-qualified (<DB>.RAW). DuckDB keeps them in its own
    catalog and rejects a qualified name, so the local account names them unqualified
    (docs/local-account.md). Temporary also keeps the 1M-row scratch off the emulator's disk.
    """
    return fqn(database, RAW, name) if qualified else ident(name)


def create_scratch_sql(table: str, columns: Sequence[str]) -> str:
    """An empty scratch table ``table`` (a :func:`scratch_table` name) of ``columns`` (name + type)."""
    return f"CREATE OR REPLACE TEMPORARY TABLE {table} ({', '.join(columns)})"


def create_typed_sql(database: str, s: SourceSpec, typed: str) -> str:
    """An empty <SOURCE>_TYPED scratch ``typed`` with the typed columns' types, filled by a loader."""
    return (f"CREATE OR REPLACE TEMPORARY TABLE {typed} AS "
            f"{typed_select(s, fqn(database, RAW, s.landing_table))} WHERE 1 = 0")


def file_format(database: str) -> str:
    return f"FILE_FORMAT = (FORMAT_NAME = {literal('.'.join(split_fqn(f'{database}.{RAW}.{FILE_FORMAT}')))})"


def real_copy_sql(database: str, s: SourceSpec, files: Sequence[str]) -> str:
    """Real account: one COPY from the external stage, file name and line from the load metadata."""
    names = ", ".join(ident(c.name) for c in s.columns)
    positions = ", ".join(f"${i}" for i in range(1, len(s.columns) + 1))
    # The header is line 1 and SKIP_HEADER = 1, so METADATA$FILE_ROW_NUMBER 1 is line 2.
    return (
        f"COPY INTO {fqn(database, RAW, s.landing_table)} ({names}, \"_FILE\", \"_LINE\") "
        f"FROM (SELECT {positions}, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER + 1 "
        f"FROM @{fqn(database, RAW, STAGE)}) FILES = ({', '.join(literal(f) for f in files)}) "
        f"{file_format(database)}"
    )


def promote_sql(database: str, s: SourceSpec, typed: str) -> tuple[str, str]:
    """(typed insert, quarantine insert) from the scratch ``typed``; one transaction with the ledger."""
    cols = ", ".join(ident(c.name) for c in s.columns)
    t_cols = ", ".join(ident("T_" + c.name) for c in s.columns)
    record = "OBJECT_CONSTRUCT(" + ", ".join(f"{literal(c.name)}, {ident('R_' + c.name)}" for c in s.columns) + ")"
    good = (f"INSERT INTO {fqn(database, RAW, s.name)} ({cols}, \"_FILE\", \"_LINE\", \"_LOADED_AT\") "
            f"SELECT {t_cols}, \"_FILE\", \"_LINE\", SYSDATE() FROM {typed} WHERE \"_REASON\" IS NULL")
    bad = (f"INSERT INTO {fqn(database, RAW, s.quarantine_table)} "
           '("_FILE", "_LINE", "REASON", "RECORD", "_QUARANTINED_AT") '
           f"SELECT \"_FILE\", \"_LINE\", \"_REASON\", {record}::VARCHAR, SYSDATE() FROM {typed} "
           'WHERE "_REASON" IS NOT NULL')
    return good, bad


def per_file_sql(typed: str) -> str:
    return f'SELECT "_FILE", COUNT(*), COUNT_IF("_REASON" IS NULL) FROM {typed} GROUP BY "_FILE"'


def ledger_insert_sql(database: str, rows: Sequence[tuple[str, str, int, int, int]]) -> str:
    """(source, file, landed, loaded, quarantined) rows as one INSERT of literal values."""
    values = ",\n".join(
        f"({literal(src)}, {literal(f)}, {int(n)}, {int(ok)}, {int(q)}, SYSDATE())" for src, f, n, ok, q in rows
    )
    return (f'INSERT INTO {fqn(database, RAW, LEDGER)} ("SOURCE", "FILE_NAME", "ROWS_LANDED", "ROWS_LOADED", '
            f'"ROWS_QUARANTINED", "LOADED_AT") VALUES\n{values}')


# --------------------------------------------------------------------------- running it


def _run(session: Any, sql: str) -> list[Any]:
    return session.sql(sql).collect()


Loader = Callable[[list[str], str], None]  # fills the scratch table (2nd arg) with these files' rows


def load_from_stage(session: Any, database: str, s: SourceSpec, files: list[str], typed: str) -> None:
    """The real account's loader: COPY with metadata into the landing table, then type it."""
    landing = fqn(database, RAW, s.landing_table)
    _run(session, f"TRUNCATE TABLE {landing}")
    for i in range(0, len(files), COPY_FILES_MAX):
        _run(session, real_copy_sql(database, s, files[i : i + COPY_FILES_MAX]))
    _run(session, f"INSERT INTO {typed} {typed_select(s, landing)}")
    _run(session, f"TRUNCATE TABLE {landing}")


def loaded_files(session: Any, database: str, source: str) -> set[str]:
    rows = _run(session, f'SELECT "FILE_NAME" FROM {fqn(database, RAW, LEDGER)} WHERE "SOURCE" = {literal(source)}')
    return {str(r[0]) for r in rows}


def ingest_source(session: Any, database: str, s: SourceSpec, files: list[str],
                  load: Loader | None = None, *, qualified_scratch: bool = True) -> SourceResult:
    """Load ``files`` (new ones: the caller subtracts the ledger) and record them, atomically.

    ``load`` fills the <SOURCE>_TYPED scratch table; by default the real account's COPY from the
    external stage. The typed rows, the quarantine rows and the ledger rows commit together or
    not at all. ``qualified_scratch=False`` on the local account (see :func:`scratch_table`).
    """
    result = SourceResult(s.name, files_new=len(files), files=list(files))
    if not files:
        return result
    typed = scratch_table(database, s.typed_table, qualified=qualified_scratch)
    _run(session, create_typed_sql(database, s, typed))
    (load or (lambda fs, into: load_from_stage(session, database, s, fs, into)))(list(files), typed)
    good, bad = promote_sql(database, s, typed)
    _run(session, "BEGIN")
    try:
        _run(session, good)
        _run(session, bad)
        per_file = {str(r[0]): (int(r[1]), int(r[2])) for r in _run(session, per_file_sql(typed))}
        rows = []
        for f in files:
            landed, loaded = per_file.get(f, (0, 0))  # a header-only file lands nothing
            rows.append((s.name, f, landed, loaded, landed - loaded))
            result.rows_landed += landed
            result.rows_loaded += loaded
            result.rows_quarantined += landed - loaded
        for i in range(0, len(rows), COPY_FILES_MAX):
            _run(session, ledger_insert_sql(database, rows[i : i + COPY_FILES_MAX]))
        _run(session, "COMMIT")
    except Exception:
        _run(session, "ROLLBACK")
        raise
    _run(session, f"DROP TABLE IF EXISTS {typed}")
    return result


def stage_files(session: Any, database: str, s: SourceSpec) -> list[str]:
    """Keys under the source's prefix in the external stage, relative to the stage (= the ledger's)."""
    rows = _run(session, f"LIST @{fqn(database, RAW, STAGE)}/{s.prefix}/")
    keys = []
    for r in rows:
        name = str(r[0])  # s3://bucket/prefix/file.csv.gz: the stage URL is the bucket's root
        key = name.split("/", 3)[3] if name.startswith("s3://") else name
        if key.endswith(".csv.gz"):
            keys.append(key)
    return sorted(keys)


# --------------------------------------------------------------------------- the source registry


def register_sources(session: Any, domain: str, database: str, sources: Sequence[SourceSpec],
                     table: str = SOURCES_TABLE) -> None:
    """Replace the domain's rows of the source registry (one transaction)."""
    db, schema, _ = split_fqn(table)
    name = fqn(*split_fqn(table))
    cols = ", ".join(f"{ident(c)} {t}" for c, t in SOURCES_COLUMNS)
    _run(session, f"CREATE SCHEMA IF NOT EXISTS {fqn(db, schema)}")
    _run(session, f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
    _run(session, "BEGIN")
    try:
        _run(session, f'DELETE FROM {name} WHERE "DOMAIN" = {literal(check_ident(domain))}')
        if sources:
            values = ", ".join(f"({literal(domain)}, {literal(check_ident(database))}, {literal(s.name)}, "
                               f"{literal(s.to_json())})" for s in sources)
            _run(session, f"INSERT INTO {name} ({', '.join(ident(c) for c, _ in SOURCES_COLUMNS)}) VALUES {values}")
        _run(session, "COMMIT")
    except Exception:
        _run(session, "ROLLBACK")
        raise


def read_sources(session: Any, database: str, table: str = SOURCES_TABLE) -> list[SourceSpec]:
    rows = _run(session, f'SELECT "SPEC" FROM {fqn(*split_fqn(table))} '
                         f'WHERE "DATABASE_NAME" = {literal(check_ident(database))} ORDER BY "SOURCE"')
    return [SourceSpec.from_dict(json.loads(r[0])) for r in rows]


def ingest_database(session: Any, database: str, sources: Sequence[SourceSpec]) -> list[SourceResult]:
    """Real account: every source's new stage files, loaded."""
    out = []
    for s in sources:
        keys = stage_files(session, database, s)
        done = loaded_files(session, database, s.name)
        new = [k for k in keys if k not in done]
        r = ingest_source(session, database, s, new)
        r.files_skipped = len(keys) - len(new)
        out.append(r)
    return out


def ingest(session: Any) -> str:
    """Stored-procedure handler of ``<DB>.RAW.INGEST()``: a JSON summary, one entry per source."""
    database = str(_run(session, "SELECT CURRENT_DATABASE()")[0][0] or "")
    sources = read_sources(session, database)
    if not sources:
        raise ValueError(f"no sources of {database} in {SOURCES_TABLE}: register them (governance.ingest.register_sources; "
                         "docs/shipping.md), and call INGEST() with the domain database current")
    results = ingest_database(session, database, sources)
    return json.dumps([{k: v for k, v in asdict(r).items() if k != "files"} for r in results])
