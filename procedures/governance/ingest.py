"""INGEST(): a domain's new landing files -> typed RAW rows + quarantine + rejected files + ledger.

The ONE implementation of the ingest SQL: the deployed ``<DB>.RAW.INGEST()`` procedure runs it,
and the local walker (snowmesh.ingest) runs the same builders and :func:`ingest_source`, only
replacing the COPY with its local-account variant (fakesnow has no METADATA$ columns and no
ON_ERROR = CONTINUE). A loader returns a :class:`Loaded`: every record of every file as text
(the header is line 1), the records its parser could not read (:class:`LineError`) and the
files it could not read at all (:class:`FileError`).

Quarantine has two levels, and neither blocks the rest of a batch:

* **a line** (wrong field count, invalid UTF-8, NUL byte, over-long, a bad value, a blank
  required field) goes to ``<SOURCE>_QUARANTINE`` with file, line and reason;
* **a file** (not gzip, empty, unreadable, a header other than the declared columns in their
  order) goes to ``RAW.REJECTED_FILES`` with its reason and line count.

Exactly: per file landed = loaded + quarantined, or it is rejected with its lines; per source
landed = loaded + quarantined + lines of rejected files.

Exactly once, even with two loaders at once: the promotion is one transaction that first takes
the source's row of ``RAW.INGEST_LOCKS`` (an UPDATE), then re-reads the ledger and the rejected
files and keeps only the files nobody recorded meanwhile. Snowflake: an UPDATE locks the table
until COMMIT, a second loader's UPDATE waits, and under READ COMMITTED its later statements see
the first loader's committed ledger rows ("Resource locking", "Isolation level":
https://docs.snowflake.com/en/sql-reference/transactions). DuckDB (the local account): the
second UPDATE of the row fails with a write-write conflict; the loader rolls back and retries,
and a DuckDB transaction's snapshot starts at its first statement, the UPDATE. No unique
constraint is relied on (Snowflake does not enforce them).

INGEST() finds the sources in GOVERNANCE_DB.CATALOG.SOURCES (:func:`register_sources`: the
manifest's prefix and columns as JSON, keyed by the domain database); it takes no argument and
ingests the sources of ``CURRENT_DATABASE()`` (the graph's tasks live in ``<DB>.STAGING``).

Handler for snowflake.yml: ``governance.ingest.ingest`` -- signature (), returns VARCHAR.
Stdlib + Snowpark only: this module is zipped into the procedures.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from governance.ingest_sql import (  # noqa: F401  (re-exported: one import for the callers)
    COPY_FILES_MAX,
    FILE_FORMAT,
    INGEST_FORMAT,
    LEDGER,
    LOCKS,
    MAX_LINE_CHARS,
    RAW,
    REJECTED,
    SOURCES_COLUMNS,
    SOURCES_TABLE,
    STAGE,
    ColumnSpec,
    SourceSpec,
    check_type,
    create_scratch_sql,
    create_typed_sql,
    file_format,
    header_problem,
    landing_table,
    ledger_insert_sql,
    per_file_sql,
    promote_sql,
    quarantine_lines_sql,
    quarantine_table,
    real_copy_sql,
    reason_expr,
    rejected_insert_sql,
    scratch_table,
    typed_expr,
    typed_select,
)
from governance.sources import read_sources, register_sources  # noqa: F401  (re-exported)
from governance.sql import fqn, ident, literal


@dataclass(frozen=True)
class StagedFile:
    """A landed file: its key (relative to the stage, as the ledger stores it) and its MD5/ETag."""

    name: str
    md5: str | None = None
    size: int | None = None  # bytes as listed (LIST / list_objects): what bounds a load batch


@dataclass(frozen=True)
class LineError:
    """A record the loader's CSV parser could not read: quarantined, the rest of its file loads."""

    file: str
    line: int
    reason: str
    record: str = ""


@dataclass(frozen=True)
class FileError:
    """A file the loader could not read at all: rejected with its reason and data-line count."""

    file: str
    reason: str
    lines: int = 0


@dataclass
class Loaded:
    """What a loader returns: ``rows`` is a relation of the raw text columns + _FILE + _LINE."""

    rows: str  # + "_EXTRA": the field after the declared ones (NULL when the record has none)
    line_errors: list[LineError] = field(default_factory=list)
    file_errors: list[FileError] = field(default_factory=list)
    scratch: list[str] = field(default_factory=list)  # the loader's tables, dropped at the end
    headers: str = ""  # optional: a cheaper relation of the line-1 rows only (the same columns)


@dataclass
class SourceResult:
    source: str
    files_new: int = 0
    files_skipped: int = 0
    files_rejected: int = 0
    rows_landed: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_rejected: int = 0  # lines of rejected files (part of rows_landed)
    files: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # file -> reason


Loader = Callable[[list[str]], Loaded]
LOCK_RETRY_SECONDS = 300.0  # how long a loader waits for another's promotion (locally: retries)


# --------------------------------------------------------------------------- running it


def _run(session: Any, sql: str) -> list[Any]:
    return session.sql(sql).collect()


def load_from_stage(session: Any, database: str, s: SourceSpec, files: list[str], *,
                    qualified_scratch: bool = True) -> Loaded:
    """The real account's loader: COPY ... ON_ERROR = CONTINUE with the load metadata.

    COPY skips a record its parser cannot read (field count, encoding) and reports per file
    the records parsed, loaded and the first error; a file it cannot read at all (not gzip)
    loads nothing (LOAD_FAILED). The skipped records are the gaps in METADATA$FILE_ROW_NUMBER:
    they are quarantined, the first with COPY's own message. COPY INTO <table>, "Output" and
    ON_ERROR: https://docs.snowflake.com/en/sql-reference/sql/copy-into-table

    Into a session-temporary copy of the landing table, not the shared one: a second loader
    (a manual run beside the scheduled task) must not TRUNCATE this one's rows.
    """
    landing = scratch_table(database, f"{s.name}_COPY", qualified=qualified_scratch)
    _run(session, create_scratch_sql(landing, [*(f"{ident(c.name)} VARCHAR" for c in s.columns),
                                               '"_EXTRA" VARCHAR', '"_FILE" VARCHAR', '"_LINE" NUMBER']))
    reports = []
    for i in range(0, len(files), COPY_FILES_MAX):
        reports += _run(session, real_copy_sql(database, s, files[i : i + COPY_FILES_MAX], into=landing))
    out = Loaded(landing, scratch=[landing])
    with_errors = {}
    for r in reports:  # file, status, rows_parsed, rows_loaded, error_limit, errors_seen, first_error, first_error_line
        name, status, parsed, loaded = _stage_key(str(r[0])), str(r[1]), int(r[2] or 0), int(r[3] or 0)
        first = str(r[6] or "rejected by COPY")
        if status == "LOAD_FAILED" and loaded == 0:
            out.file_errors.append(FileError(name, f"unreadable: {first}", max(parsed - 1, 0)))
        elif int(r[5] or 0) > 0:
            with_errors[name] = (parsed, int(r[7] or 0), first)
    for name, (parsed, first_line, first) in with_errors.items():
        for line in copy_gaps(session, landing, name, parsed):
            reason = first if line == first_line else f"rejected by COPY (this file's first error, line {first_line}: {first})"
            out.line_errors.append(LineError(name, line, reason))
    return out


def copy_gaps(session: Any, rows: str, file: str, parsed: int) -> list[int]:
    """Record numbers 1..``parsed`` of ``file`` missing from ``rows``: the records COPY skipped."""
    sql = (f'SELECT "_PREV", "_LINE" FROM (SELECT "_LINE", LAG("_LINE") OVER (ORDER BY "_LINE") AS "_PREV" '
           f'FROM {rows} WHERE "_FILE" = {literal(file)}) WHERE "_LINE" - COALESCE("_PREV", 0) > 1 '
           f'UNION ALL SELECT MAX("_LINE"), {int(parsed) + 1} FROM {rows} WHERE "_FILE" = {literal(file)}')
    gaps: list[int] = []
    for prev, nxt in _run(session, sql):
        gaps += range(int(prev or 0) + 1, int(nxt))
    return sorted(set(gaps))


def _stage_key(name: str) -> str:
    # s3://bucket/prefix/file.csv.gz: the stage URL is the bucket's root, keys are relative to it
    return name.split("/", 3)[3] if name.startswith("s3://") else name


def done_files(session: Any, database: str, source: str) -> set[tuple[str, str | None]]:
    """(file, md5) of every file recorded as loaded or rejected: never loaded again."""
    src = literal(source)
    rows = _run(session, f'SELECT "FILE_NAME", "FILE_MD5" FROM {fqn(database, RAW, LEDGER)} WHERE "SOURCE" = {src} '
                         f'UNION ALL SELECT "FILE_NAME", "FILE_MD5" FROM {fqn(database, RAW, REJECTED)} '
                         f'WHERE "SOURCE" = {src}')
    return {(str(r[0]), None if r[1] is None else str(r[1])) for r in rows}


def is_done(f: StagedFile, done: set[tuple[str, str | None]]) -> bool:
    """The same name and content (a ledger row from before MD5s were recorded matches by name)."""
    return (f.name, f.md5) in done or (f.name, None) in done


def new_files(session: Any, database: str, source: str, files: Sequence[StagedFile]) -> list[StagedFile]:
    done = done_files(session, database, source)
    return [f for f in files if not is_done(f, done)]


def _lock(session: Any, database: str, source: str, owner: str) -> None:
    """BEGIN and take the source's lock row (see the module docstring); retry a conflict."""
    locks = fqn(database, RAW, LOCKS)
    _run(session, f'MERGE INTO {locks} l USING (SELECT {literal(source)} AS "SOURCE") v ON l."SOURCE" = v."SOURCE" '
                  'WHEN NOT MATCHED THEN INSERT ("SOURCE") VALUES (v."SOURCE")')
    deadline, pause = time.monotonic() + LOCK_RETRY_SECONDS, 0.05
    while True:
        _run(session, "BEGIN")
        try:
            _run(session, f'UPDATE {locks} SET "HELD_BY" = {literal(owner)}, "HELD_SINCE" = SYSDATE() '
                          f'WHERE "SOURCE" = {literal(source)}')
            return
        except Exception as err:
            _run(session, "ROLLBACK")
            if not _retryable(err) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def _retryable(err: Exception) -> bool:
    # DuckDB says "Conflict on update"; the fakesnow server hands any engine error to the client
    # as a bare HTTP 500, and on this one-row UPDATE that is the conflict. Snowflake waits on the
    # lock instead (LOCK_TIMEOUT) and fails for no reason worth a retry.
    text = str(err).lower()
    return "conflict" in text or "http 500" in text


def _not_in(files: Sequence[str]) -> str:
    return f' AND "_FILE" NOT IN ({", ".join(literal(f) for f in files)})' if files else ""


def _reject_header(session: Any, s: SourceSpec, loaded: Loaded, names: list[str],
                   rejected: dict[str, FileError]) -> None:
    """Files whose line 1 is missing, unreadable or not the declared header: rejected."""
    cols = ", ".join(ident(c.name) for c in s.columns)
    headers = {str(r[0]): tuple(r[1:]) for r in _run(session, f'SELECT "_FILE", {cols} '
                                                             f'FROM {loaded.headers or loaded.rows} WHERE "_LINE" = 1')}
    bad_line1 = {e.file: e.reason for e in loaded.line_errors if e.line == 1}
    why: dict[str, str] = {}
    for f in names:
        if f in rejected:
            continue
        if f in bad_line1:
            why[f] = f"header line unreadable: {bad_line1[f]}"
        elif f not in headers:
            why[f] = "empty file: no header line"
        elif problem := header_problem(headers[f], s):
            why[f] = problem
    if not why:
        return
    counts = {str(r[0]): int(r[1]) for r in _run(
        session, f'SELECT "_FILE", COUNT(*) FROM {loaded.rows} WHERE "_LINE" > 1 AND "_FILE" IN '
                 f'({", ".join(literal(f) for f in why)}) GROUP BY "_FILE"')}
    for f, reason in why.items():
        errors = sum(1 for e in loaded.line_errors if e.file == f and e.line > 1)
        rejected[f] = FileError(f, reason, counts.get(f, 0) + errors)


def ingest_source(session: Any, database: str, s: SourceSpec, files: Sequence[StagedFile],
                  load: Loader | None = None, *, qualified_scratch: bool = True) -> SourceResult:
    """Load ``files`` (new ones: the caller subtracts :func:`done_files`) and record them, atomically.

    ``load`` reads the files; by default the real account's COPY from the external stage. The
    typed rows, the quarantine rows, the rejected files and the ledger rows commit together or
    not at all, and only for files no other loader recorded first.
    """
    result = SourceResult(s.name, files_new=len(files), files=[f.name for f in files])
    if not files:
        return result
    names = [f.name for f in files]
    typed = scratch_table(database, s.typed_table, qualified=qualified_scratch)
    _run(session, create_typed_sql(database, s, typed))
    loaded = (load or (lambda fs: load_from_stage(session, database, s, fs,
                                                  qualified_scratch=qualified_scratch)))(names)
    rejected = {e.file: e for e in loaded.file_errors}
    _reject_header(session, s, loaded, names, rejected)
    body = f'(SELECT * FROM {loaded.rows} WHERE "_LINE" > 1{_not_in(sorted(rejected))})'
    _run(session, f"INSERT INTO {typed} {typed_select(s, body)}")
    line_errors = [e for e in loaded.line_errors if e.file not in rejected and e.line > 1]
    good, bad = promote_sql(database, s, typed)
    _lock(session, database, s.name, f"{s.name}-{uuid.uuid4().hex[:12]}")
    try:
        done = done_files(session, database, s.name)
        lost = [f.name for f in files if is_done(f, done)]  # another loader recorded them meanwhile
        if lost:
            _run(session, f'DELETE FROM {typed} WHERE "_FILE" IN ({", ".join(literal(f) for f in lost)})')
            line_errors = [e for e in line_errors if e.file not in lost]
            rejected = {f: e for f, e in rejected.items() if f not in lost}
        _run(session, good)
        _run(session, bad)
        for i in range(0, len(line_errors), COPY_FILES_MAX):
            _run(session, quarantine_lines_sql(database, s, [(e.file, e.line, e.reason, e.record)
                                                            for e in line_errors[i : i + COPY_FILES_MAX]]))
        per_file = {str(r[0]): (int(r[1]), int(r[2])) for r in _run(session, per_file_sql(typed))}
        errors: dict[str, int] = {}
        for e in line_errors:
            errors[e.file] = errors.get(e.file, 0) + 1
        rows = []
        for f in files:
            if f.name in lost or f.name in rejected:
                continue
            landed, loaded_ok = per_file.get(f.name, (0, 0))  # a header-only file lands nothing
            landed += errors.get(f.name, 0)
            rows.append((s.name, f.name, f.md5, landed, loaded_ok, landed - loaded_ok))
            result.rows_landed += landed
            result.rows_loaded += loaded_ok
            result.rows_quarantined += landed - loaded_ok
        for i in range(0, len(rows), COPY_FILES_MAX):
            _run(session, ledger_insert_sql(database, rows[i : i + COPY_FILES_MAX]))
        md5 = {f.name: f.md5 for f in files}
        rej = [(s.name, e.file, md5.get(e.file), e.reason, e.lines) for e in rejected.values()]
        for i in range(0, len(rej), COPY_FILES_MAX):
            _run(session, rejected_insert_sql(database, rej[i : i + COPY_FILES_MAX]))
        _run(session, "COMMIT")
    except Exception:
        _run(session, "ROLLBACK")
        raise
    finally:
        for t in [typed, *loaded.scratch]:
            _run(session, f"DROP TABLE IF EXISTS {t}")
    result.files_new = len(files) - len(lost)
    result.files_skipped = len(lost)
    result.files_rejected = len(rejected)
    result.rows_rejected = sum(e.lines for e in rejected.values())
    result.rows_landed += result.rows_rejected  # landed = loaded + quarantined + lines of rejected files
    result.rejected = {f: e.reason for f, e in sorted(rejected.items())}
    return result


# A load batch holds at most this many compressed bytes (and COPY_FILES_MAX files), so the
# warehouse's working set of one transaction (the text copy, the typed copy, the promoted rows)
# stays the same at any scale: about 1M clicks' files (~17 MB) today. On the local account that
# is what keeps DuckDB within its memory_limit without spilling (docs/local-account.md).
BATCH_MAX_BYTES = 24 * 2**20


def batches(files: Sequence[StagedFile], max_bytes: int | None = None) -> list[list[StagedFile]]:
    """Consecutive runs of ``files`` of at most ``max_bytes`` (default BATCH_MAX_BYTES; a larger
    file is a batch of its own; an unknown size counts as 0) and at most COPY_FILES_MAX files."""
    max_bytes = BATCH_MAX_BYTES if max_bytes is None else max_bytes
    out: list[list[StagedFile]] = []
    size = 0
    for f in files:
        if not out or len(out[-1]) >= COPY_FILES_MAX or (size + (f.size or 0) > max_bytes and out[-1]):
            out.append([])
            size = 0
        out[-1].append(f)
        size += f.size or 0
    return out


def ingest_batches(session: Any, database: str, s: SourceSpec, files: Sequence[StagedFile],
                   load: Loader | None = None, *, qualified_scratch: bool = True,
                   max_bytes: int | None = None) -> SourceResult:
    """:func:`ingest_source` per bounded batch, one transaction each, and their results added up.

    A batch records its files in the ledger when it commits, so a failure in a later batch
    leaves the earlier ones loaded exactly once, and the next run loads only the rest."""
    total = SourceResult(s.name)
    for batch in batches(files, max_bytes):
        r = ingest_source(session, database, s, batch, load, qualified_scratch=qualified_scratch)
        for k in ("files_new", "files_skipped", "files_rejected", "rows_landed", "rows_loaded",
                  "rows_quarantined", "rows_rejected"):
            setattr(total, k, getattr(total, k) + getattr(r, k))
        total.files += r.files
        total.rejected.update(r.rejected)
    total.rejected = dict(sorted(total.rejected.items()))
    return total


def stage_files(session: Any, database: str, s: SourceSpec) -> list[StagedFile]:
    """Files under the source's prefix in the external stage: key relative to the stage, and MD5."""
    rows = _run(session, f"LIST @{fqn(database, RAW, STAGE)}/{s.prefix}/")
    out = []
    for r in rows:  # name, size, md5, last_modified
        key = _stage_key(str(r[0]))
        if key.endswith(".csv.gz"):
            size = int(r[1]) if len(r) > 1 and str(r[1]).isdigit() else None
            out.append(StagedFile(key, str(r[2]).strip('"') if len(r) > 2 and r[2] else None, size))
    return sorted(out, key=lambda f: f.name)


def ingest_database(session: Any, database: str, sources: Sequence[SourceSpec]) -> list[SourceResult]:
    """Real account: every source's new stage files, loaded."""
    out = []
    for s in sources:
        staged = stage_files(session, database, s)
        new = new_files(session, database, s.name, staged)
        r = ingest_batches(session, database, s, new)
        r.files_skipped += len(staged) - len(new)
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
