"""The ingest's names and SQL builders (pure: they return SQL text and touch no connection).

governance.ingest runs them (the deployed INGEST() and the local walker alike); the deploy plan
takes the ingest tables' names and columns from here, so each is defined once.
Stdlib only: this module is zipped into the procedures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from governance.sql import check_ident, fqn, ident, literal, split_fqn

RAW, STAGE, LEDGER = "RAW", "LANDING", "INGESTED_FILES"
REJECTED, LOCKS = "REJECTED_FILES", "INGEST_LOCKS"
# CSV_GZIP is the external stage's default format (SKIP_HEADER = 1, for anyone querying the
# stage); ingest COPYs with CSV_GZIP_WITH_HEADER, which keeps line 1 so the header is checked.
FILE_FORMAT, INGEST_FORMAT = "CSV_GZIP", "CSV_GZIP_WITH_HEADER"
SOURCES_TABLE = "GOVERNANCE_DB.CATALOG.SOURCES"
SOURCES_COLUMNS = (("DOMAIN", "VARCHAR NOT NULL"), ("DATABASE_NAME", "VARCHAR NOT NULL"),
                   ("SOURCE", "VARCHAR NOT NULL"), ("SPEC", "VARCHAR NOT NULL"))
COPY_FILES_MAX = 1000  # COPY takes at most 1000 names in a FILES list; also our VALUES chunk
# A line longer than this is quarantined. Below DuckDB's CSV limit (2,000,000 bytes, which would
# fail a whole local COPY) and far below Snowflake's 16 MB field limit.
MAX_LINE_CHARS = 1_000_000

# The ingest's own tables (RAW), created by the deploy plan with these columns.
LEDGER_COLUMNS = ('"SOURCE" VARCHAR NOT NULL', '"FILE_NAME" VARCHAR NOT NULL', '"FILE_MD5" VARCHAR',
                  '"ROWS_LANDED" NUMBER NOT NULL', '"ROWS_LOADED" NUMBER NOT NULL',
                  '"ROWS_QUARANTINED" NUMBER NOT NULL', '"LOADED_AT" TIMESTAMP_NTZ NOT NULL')
REJECTED_COLUMNS = ('"SOURCE" VARCHAR NOT NULL', '"FILE_NAME" VARCHAR NOT NULL', '"FILE_MD5" VARCHAR',
                    '"REASON" VARCHAR NOT NULL', '"LINES" NUMBER NOT NULL', '"LOADED_AT" TIMESTAMP_NTZ NOT NULL')
LOCKS_COLUMNS = ('"SOURCE" VARCHAR NOT NULL', '"HELD_BY" VARCHAR', '"HELD_SINCE" TIMESTAMP_NTZ')

_TYPE = re.compile(r"(VARCHAR|NUMBER|FLOAT|BOOLEAN|DATE|TIMESTAMP_NTZ)(\(\d{1,2}(,\d{1,2})?\))?")
# fakesnow's TRY_TO_TIMESTAMP raises on text it cannot parse (instead of returning NULL),
# so timestamps are shape-checked first; the same guard is valid, and harmless, on Snowflake.
_TS_SHAPE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?$"


def landing_table(source: str) -> str:
    """All-VARCHAR table COPY writes into; typing happens in SQL so bad rows can be quarantined."""
    return f"{source}_LANDING"


def quarantine_table(source: str) -> str:
    return f"{source}_QUARANTINE"


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


def check_type(type_: str) -> str:
    """Types come from validated manifests; re-check so no text slips into SQL."""
    if not isinstance(type_, str) or not _TYPE.fullmatch(type_):
        raise ValueError(f"unsupported column type {type_!r}")
    return type_


def header_problem(header: Sequence[object], s: SourceSpec) -> str | None:
    """Why line 1 is not the declared header (names in order, case and spaces aside), or None."""
    fields = ["" if v is None else str(v).strip() for v in header]
    if fields:
        fields[0] = fields[0].lstrip("\ufeff")  # a UTF-8 byte order mark is not part of the name
    expected = [c.name for c in s.columns]
    if [f.upper() for f in fields] == expected:
        return None
    return f"header {','.join(fields)} does not match the declared columns {','.join(expected)}"


# --------------------------------------------------------------------------- typing and reasons


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
    """The first problem of a row, or NULL for a good row.

    In order: a NUL byte (COPY loads it verbatim on both targets), an over-long line, then per
    column a missing or blank (whitespace-only) required field and a value its type rejects.
    """
    raws = [ident(f"R_{c.name}") for c in columns]
    whens = [f"WHEN CONTAINS({raw}, CHR(0)) THEN {literal('NUL byte in ' + c.name)}" for c, raw in zip(columns, raws)]
    length = " + ".join(f"COALESCE(LENGTH({raw}), 0)" for raw in raws)
    whens.append(f"WHEN {length} + {len(columns) - 1} > {MAX_LINE_CHARS} "
                 f"THEN {literal(f'line longer than {MAX_LINE_CHARS} characters')}")
    for c, raw in zip(columns, raws):
        typed = ident(f"T_{c.name}")
        if c.required:
            whens.append(f"WHEN {raw} IS NULL THEN {literal('missing ' + c.name)}")
        if c.required and c.type == "VARCHAR":  # a blank typed value fails its type check below
            # Whitespace only (spaces, tabs): a POSIX class, the same in Snowflake's and DuckDB's regex.
            whens.append(f"WHEN REGEXP_LIKE({raw}, '^[[:space:]]*$') THEN {literal('blank ' + c.name)}")
        if c.type != "VARCHAR":
            whens.append(f"WHEN {raw} IS NOT NULL AND {typed} IS NULL THEN {literal(f'bad {c.type} in {c.name}: ')} || {raw}")
    return "CASE " + " ".join(whens) + " END"


def typed_select(s: SourceSpec, rows: str) -> str:
    """``rows`` (raw text columns + _EXTRA + _FILE + _LINE) with typed values and the quarantine reason.

    The ingest format keeps an empty field as '' (EMPTY_FIELD_AS_NULL = FALSE), so that a NULL
    is a field the record did not have: Snowflake's COPY with a SELECT ignores a wrong field
    count (https://docs.snowflake.com/en/user-guide/data-load-transform, "ERROR_ON_COLUMN_COUNT_MISMATCH
    option is ignored"), so a short record is a NULL last column and a long one a non-NULL
    ``_EXTRA`` ($<n+1>). Then '' is NULL again. Evaluated once per row into <SOURCE>_TYPED; the
    typed insert, the quarantine insert and the per-file counts then read that table.
    """
    inner_cols = []
    for c in s.columns:
        raw = f"NULLIF({ident(c.name)}, '')"
        inner_cols.append(f"{raw} AS {ident('R_' + c.name)}")
        inner_cols.append(f"{typed_expr(c, raw)} AS {ident('T_' + c.name)}")
    n = len(s.columns)
    shape = (f"CASE WHEN \"_EXTRA\" IS NOT NULL THEN {literal(f'more than {n} fields')} "
             f"WHEN {ident(s.columns[-1].name)} IS NULL THEN {literal(f'fewer than {n} fields')} END AS \"_SHAPE\"")
    inner = f"SELECT {', '.join(inner_cols)}, {shape}, \"_FILE\", \"_LINE\" FROM {rows}"
    return f"SELECT *, COALESCE(\"_SHAPE\", {reason_expr(s.columns)}) AS \"_REASON\" FROM ({inner})"


# --------------------------------------------------------------------------- scratch and COPY


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
    landing = f'(SELECT *, CAST(NULL AS VARCHAR) AS "_EXTRA" FROM {fqn(database, RAW, s.landing_table)})'
    return f"CREATE OR REPLACE TEMPORARY TABLE {typed} AS {typed_select(s, landing)} WHERE 1 = 0"


def file_format(database: str, name: str = INGEST_FORMAT) -> str:
    return f"FILE_FORMAT = (FORMAT_NAME = {literal('.'.join(split_fqn(f'{database}.{RAW}.{name}')))})"


def real_copy_sql(database: str, s: SourceSpec, files: Sequence[str], into: str | None = None) -> str:
    """Real account: one COPY from the external stage, file name and record number from the metadata.

    ON_ERROR = CONTINUE: a record COPY cannot parse is skipped and counted, never the whole
    statement (Snowflake's default ABORT_STATEMENT would fail INGEST on every run until someone
    removed the file). governance.ingest.load_from_stage turns the skips into quarantine rows.
    https://docs.snowflake.com/en/sql-reference/sql/copy-into-table (copy options: ON_ERROR)
    ``into``: the (scratch) table to load, by default the source's landing table.
    """
    names = ", ".join(ident(c.name) for c in s.columns)
    positions = ", ".join(f"${i}" for i in range(1, len(s.columns) + 2))  # $<n+1>: a field too many
    # SKIP_HEADER = 0 in the format, so METADATA$FILE_ROW_NUMBER 1 is the header, line 1.
    return (
        f"COPY INTO {into or fqn(database, RAW, s.landing_table)} ({names}, \"_EXTRA\", \"_FILE\", \"_LINE\") "
        f"FROM (SELECT {positions}, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER "
        f"FROM @{fqn(database, RAW, STAGE)}) FILES = ({', '.join(literal(f) for f in files)}) "
        f"{file_format(database)} ON_ERROR = CONTINUE"
    )


# --------------------------------------------------------------------------- the promotion


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


def quarantine_lines_sql(database: str, s: SourceSpec, rows: Sequence[tuple[str, int, str, str]]) -> str:
    """(file, line, reason, raw record) of records the loader's parser rejected, as one INSERT."""
    values = ",\n".join(f"({literal(f)}, {int(n)}, {literal(why)}, {literal(_printable(rec))}, SYSDATE())"
                        for f, n, why, rec in rows)
    return (f"INSERT INTO {fqn(database, RAW, s.quarantine_table)} "
            f'("_FILE", "_LINE", "REASON", "RECORD", "_QUARANTINED_AT") VALUES\n{values}')


def _printable(record: str, limit: int = 1000) -> str:
    # NUL cannot travel in every driver's text; U+2400 shows where it was.
    return record[:limit].replace("\x00", "\u2400")


def per_file_sql(typed: str) -> str:
    return f'SELECT "_FILE", COUNT(*), COUNT_IF("_REASON" IS NULL) FROM {typed} GROUP BY "_FILE"'


def ledger_insert_sql(database: str, rows: Sequence[tuple[str, str, str | None, int, int, int]]) -> str:
    """(source, file, md5, landed, loaded, quarantined) rows as one INSERT of literal values."""
    values = ",\n".join(
        f"({literal(src)}, {literal(f)}, {_opt(md5)}, {int(n)}, {int(ok)}, {int(q)}, SYSDATE())"
        for src, f, md5, n, ok, q in rows
    )
    return (f'INSERT INTO {fqn(database, RAW, LEDGER)} ("SOURCE", "FILE_NAME", "FILE_MD5", "ROWS_LANDED", '
            f'"ROWS_LOADED", "ROWS_QUARANTINED", "LOADED_AT") VALUES\n{values}')


def rejected_insert_sql(database: str, rows: Sequence[tuple[str, str, str | None, str, int]]) -> str:
    """(source, file, md5, reason, data lines) of rejected files as one INSERT."""
    values = ",\n".join(f"({literal(src)}, {literal(f)}, {_opt(md5)}, {literal(why)}, {int(n)}, SYSDATE())"
                        for src, f, md5, why, n in rows)
    return (f'INSERT INTO {fqn(database, RAW, REJECTED)} ("SOURCE", "FILE_NAME", "FILE_MD5", "REASON", "LINES", '
            f'"LOADED_AT") VALUES\n{values}')


def _opt(value: str | None) -> str:
    return "NULL" if value is None else literal(value)
