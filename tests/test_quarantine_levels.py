"""Quarantine at two levels for the csv_gzip landing format (the only one): a line, and a file.

A bad line goes to <SOURCE>_QUARANTINE with its file, line and reason, and the rest of its file
loads; a bad file goes to RAW.REJECTED_FILES with its reason and line count, and the rest of
the batch loads. The accounting is exact against the lines written here: per loaded file
landed = loaded + quarantined, and for the batch landed = loaded + quarantined + lines of
rejected files = the lines written (an unreadable file counts 0 lines: none could be read). The source lives in a database of its
own on the session's local account, so the mesh's tables are untouched.
"""

from __future__ import annotations

import gzip

import pytest
from scratch_domain import deploy_scratch_domain

from governance.ingest_sql import MAX_LINE_CHARS
from snowmesh.console import SilentReporter
from snowmesh.manifest.model import Column, Source

DB = "LEVELS_DB"
RAW = f'"{DB}"."RAW"'
SOURCE = Source("EVENTS", "events", "csv_gzip", (
    Column("ID", "VARCHAR", True), Column("AMOUNT", "NUMBER(12,2)", True), Column("DAY", "DATE"),
    Column("AT", "TIMESTAMP_NTZ"), Column("NOTE", "VARCHAR")))
HEADER = b"ID,AMOUNT,DAY,AT,NOTE\n"
GOOD = b"G%d,1.50,2026-03-01,2026-03-01 10:00:00,fine\n"

# (line bytes, expected reason) -- the lines of one file, after its header; None: a good line.
LINES: list[tuple[bytes, str | None]] = [
    (GOOD % 1, None),
    (b"F1,1.00,2026-03-01,2026-03-01 10:00:00\n", "4 fields, expected 5"),
    (b"F2,1.00,2026-03-01,2026-03-01 10:00:00,x,extra\n", "6 fields, expected 5"),
    (b"U1,1.00,2026-03-01,2026-03-01 10:00:00,caf\xe9\n", "invalid UTF-8 at byte 43 of the line"),
    (b"N1,1.00,2026-03-01,2026-03-01 10:00:00,a\x00b\n", "NUL byte in NOTE"),
    (b"L1,1.00,2026-03-01,2026-03-01 10:00:00," + b"x" * (MAX_LINE_CHARS + 1) + b"\n",
     f"line longer than {MAX_LINE_CHARS} bytes"),
    (b"B1,abc,2026-03-01,2026-03-01 10:00:00,x\n", "bad NUMBER(12,2) in AMOUNT: abc"),
    (b"D1,1.00,2026-02-30,2026-03-01 10:00:00,x\n", "bad DATE in DAY: 2026-02-30"),
    (b"T1,1.00,2026-03-01,2026-13-45 25:61:00,x\n", "bad TIMESTAMP_NTZ in AT: 2026-13-45 25:61:00"),
    (b",1.00,2026-03-01,2026-03-01 10:00:00,empty key\n", "missing ID"),
    (b"   ,1.00,2026-03-01,2026-03-01 10:00:00,blank key\n", "blank ID"),
    (b"\t ,1.00,2026-03-01,2026-03-01 10:00:00,tab key\n", "blank ID"),
    (b'Q1,1.00,2026-03-01,2026-03-01 10:00:00,say "hi"\n',
     "misplaced quote (a quote inside an unquoted field, or text after a closing quote)"),
    (b"\n", "blank line"),
    (b'G2,2.00,2026-03-02,2026-03-02 11:00:00,"quoted, with a comma\nand a newline"\n', None),
    (GOOD % 3, None),
]
LINE_FILE = "events/dt=2026-03-01/lines.csv.gz"
CRLF_FILE = "events/dt=2026-03-02/crlf.csv.gz"
CRLF_BODY = (HEADER + GOOD % 10 + GOOD % 11 + b'G12,1.00,,,"two\r\nlines"\n').replace(b"\n", b"\r\n")

# name -> (bytes as landed, expected reason, expected line count); None: the file loads.
GOOD_FILE = ("events/dt=2026-03-03/good.csv.gz", gzip.compress(HEADER + GOOD % 20 + GOOD % 21), None, 2)
FILES: list[tuple[str, bytes, str | None, int]] = [
    GOOD_FILE,
    ("events/dt=2026-03-04/plain.csv.gz", HEADER + GOOD % 30, "not gzip: Not a gzipped file (b'ID')", 0),
    ("events/dt=2026-03-05/truncated.csv.gz", gzip.compress(HEADER + GOOD % 31 * 50)[:40],
     "not gzip: Compressed file ended before the end-of-stream marker was reached", 0),
    ("events/dt=2026-03-06/empty.csv.gz", gzip.compress(b""), "empty file: no header line", 0),
    ("events/dt=2026-03-07/reordered.csv.gz", gzip.compress(b"ID,DAY,AMOUNT,AT,NOTE\nR1,2026-03-01,1.00,,\n"),
     "header ID,DAY,AMOUNT,AT,NOTE does not match the declared columns ID,AMOUNT,DAY,AT,NOTE", 1),
    ("events/dt=2026-03-08/renamed.csv.gz", gzip.compress(b"ID,AMOUNT_USD,DAY,AT,NOTE\n" + GOOD % 32 + GOOD % 33),
     "header ID,AMOUNT_USD,DAY,AT,NOTE does not match the declared columns ID,AMOUNT,DAY,AT,NOTE", 2),
    ("events/dt=2026-03-09/short_header.csv.gz", gzip.compress(b"ID,AMOUNT,DAY,AT\n" + GOOD % 34),
     "header line unreadable: 4 fields, expected 5", 1),
]


@pytest.fixture(scope="module")
def levels(mesh_run):
    t, d = deploy_scratch_domain(mesh_run, "LEVELS", DB, "mesh-levels-landing", SOURCE)
    return t, d


def _ingest(t, d):
    from snowmesh.ingest import ingest_source

    return ingest_source(t, d, SOURCE, SilentReporter())


def _count(t, table: str, file: str) -> int:
    return int(t.sql(f'SELECT COUNT(*) FROM {RAW}."{table}" WHERE "_FILE" = %s', (file,))[0][0])


def test_bad_lines_are_quarantined_and_the_rest_of_the_file_loads(levels) -> None:
    t, d = levels
    t.s3.put_object(Bucket=d.bucket, Key=LINE_FILE, Body=gzip.compress(HEADER + b"".join(b for b, _ in LINES)))
    t.s3.put_object(Bucket=d.bucket, Key=CRLF_FILE, Body=gzip.compress(CRLF_BODY))
    load = _ingest(t, d)

    expected = {(LINE_FILE, i + 2, why) for i, (_, why) in enumerate(LINES) if why}
    got = t.sql(f'SELECT "_FILE", "_LINE", "REASON" FROM {RAW}."EVENTS_QUARANTINE" WHERE "_FILE" = %s', (LINE_FILE,))
    assert {(f, int(n), r) for f, n, r in got} == expected
    good = t.sql(f'SELECT "ID", "_LINE", "NOTE" FROM {RAW}."EVENTS" WHERE "_FILE" = %s ORDER BY "_LINE"', (LINE_FILE,))
    assert [(i, int(n), note) for i, n, note in good] == [
        ("G1", 2, "fine"), ("G2", 16, "quoted, with a comma\nand a newline"), ("G3", 17, "fine")]
    # CRLF line ends are valid CSV: every line loads, the quoted CRLF stays inside its value.
    crlf = t.sql(f'SELECT "ID", "NOTE" FROM {RAW}."EVENTS" WHERE "_FILE" = %s ORDER BY "_LINE"', (CRLF_FILE,))
    assert [i for i, _ in crlf] == ["G10", "G11", "G12"] and crlf[2][1] in ("two\nlines", "two\r\nlines")
    assert _count(t, "EVENTS_QUARANTINE", CRLF_FILE) == 0

    written = len(LINES) + 3
    bad = sum(1 for _, why in LINES if why)
    assert (load.files_new, load.files_rejected, load.rows_rejected) == (2, 0, 0)
    assert (load.rows_landed, load.rows_loaded, load.rows_quarantined) == (written, written - bad, bad)
    ledger = dict(t.sql(f'SELECT "FILE_NAME", "ROWS_LANDED" FROM {RAW}."INGESTED_FILES"'))
    assert ledger == {LINE_FILE: len(LINES), CRLF_FILE: 3}
    assert _count(t, "EVENTS", LINE_FILE) + _count(t, "EVENTS_QUARANTINE", LINE_FILE) == len(LINES)


def test_bad_files_are_rejected_and_the_rest_of_the_batch_loads(levels) -> None:
    t, d = levels
    for key, body, _, _ in FILES:
        t.s3.put_object(Bucket=d.bucket, Key=key, Body=body)
    load = _ingest(t, d)

    rejected = {f: (r, int(n)) for f, r, n in t.sql(f'SELECT "FILE_NAME", "REASON", "LINES" FROM {RAW}."REJECTED_FILES"')}
    assert rejected == {key: (why, lines) for key, _, why, lines in FILES if why}
    assert load.rejected == {key: why for key, _, why, _ in FILES if why}
    good_key = GOOD_FILE[0]
    assert [r[0] for r in t.sql(f'SELECT "ID" FROM {RAW}."EVENTS" WHERE "_FILE" = %s ORDER BY 1', (good_key,))] == [
        "G20", "G21"]
    for key, _, why, _ in FILES:
        if why:  # nothing of a rejected file is loaded, quarantined or in the ledger
            assert _count(t, "EVENTS", key) == _count(t, "EVENTS_QUARANTINE", key) == 0
    # Exact accounting for the batch: written = loaded + quarantined + lines of rejected files.
    written = sum(lines for _, _, _, lines in FILES)
    assert (load.files_new, load.files_rejected) == (len(FILES), len(FILES) - 1)
    assert load.rows_landed == written == load.rows_loaded + load.rows_quarantined + load.rows_rejected
    assert (load.rows_loaded, load.rows_quarantined, load.rows_rejected) == (2, 0, written - 2)


def test_a_rejected_file_is_not_retried_but_a_fixed_copy_under_a_new_name_loads(levels) -> None:
    t, d = levels
    again = _ingest(t, d)
    assert (again.files_new, again.files_rejected, again.rows_landed) == (0, 0, 0)
    fixed = "events/dt=2026-03-07/reordered-fixed.csv.gz"
    t.s3.put_object(Bucket=d.bucket, Key=fixed, Body=gzip.compress(b"ID,AMOUNT,DAY,AT,NOTE\nR1,1.00,2026-03-01,,\n"))
    load = _ingest(t, d)
    assert (load.files_new, load.files_rejected, load.rows_loaded) == (1, 0, 1)
    assert t.sql(f'SELECT "AMOUNT", "DAY" FROM {RAW}."EVENTS" WHERE "_FILE" = %s', (fixed,))[0][0] == 1


class _RealCopy:
    """The real account's loader over the local session, with COPY ... ON_ERROR = CONTINUE answered as
    Snowflake documents its output (fakesnow cannot run it): the landing rows COPY would write for
    the records it parsed, and one report row per file."""

    def __init__(self, session, landing_rows, report) -> None:
        self.session, self.landing_rows, self.report, self.copies = session, landing_rows, report, []

    def sql(self, text: str):
        if text.startswith("COPY INTO"):
            self.copies.append(text)
            into = text.split()[2]  # the loader's own scratch table
            for row in self.landing_rows:
                self.session.sql(f'INSERT INTO {into} ("ID", "AMOUNT", "DAY", "AT", "NOTE", "_EXTRA", '
                                 f'"_FILE", "_LINE") VALUES ({", ".join(_lit(v) for v in row)})').collect()
            report = self.report
            return type("R", (), {"collect": lambda self: report})()
        return self.session.sql(text)


def _lit(v) -> str:
    return "NULL" if v is None else (str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'")


def test_the_real_accounts_copy_skips_become_quarantine_and_rejected_rows(levels) -> None:
    from governance import ingest as shared
    from snowmesh.ingest import source_spec

    t, _ = levels
    f, g = "events/dt=2026-04-01/real.csv.gz", "events/dt=2026-04-02/real-broken.csv.gz"
    header = (f, 1, "ID", "AMOUNT", "DAY", "AT", "NOTE")
    # The format keeps an empty field as '' (a NULL is a field the record lacks), and a SELECT in
    # COPY ignores the field count: line 9 is short (no NOTE), line 10 has a sixth field.
    kept = [(f, n, f"R{n}", "1.00", "2026-04-01", "", "") for n in (2, 4, 7)]
    short, long = (f, 9, "S9", "1.00", "", "", None), (f, 10, "X10", "1.00", "", "", "")
    landing = [(*r[2:], None, r[0], r[1]) for r in [header, *kept, short]]  # METADATA$FILENAME: the stage path
    landing.append((*long[2:], "surplus", long[0], long[1]))
    first = "Number of columns in file (4) does not match that of the corresponding table (5)"
    report = [  # COPY's output names the file by its URL. file, status, rows_parsed, rows_loaded, error_limit, errors_seen, first_error, first_error_line
        (f"s3://mesh-levels-landing/{f}", "PARTIALLY_LOADED", 10, 6, 10, 4, first, 3),
        (f"s3://mesh-levels-landing/{g}", "LOAD_FAILED", 0, 0, 1, 1, "Invalid data encountered during decompression", None),
    ]
    fake = _RealCopy(t.session, landing, report)
    load = shared.ingest_source(fake, DB, source_spec(SOURCE), [shared.StagedFile(f, "m1"), shared.StagedFile(g, "m2")],
                                qualified_scratch=False)
    assert fake.copies and "ON_ERROR = CONTINUE" in fake.copies[0] and "EVENTS_LANDING" not in fake.copies[0]
    assert load.rejected == {g: "unreadable: Invalid data encountered during decompression"}
    quarantined = t.sql(f'SELECT "_LINE", "REASON" FROM {RAW}."EVENTS_QUARANTINE" WHERE "_FILE" = %s ORDER BY 1', (f,))
    assert [(int(n), r) for n, r in quarantined] == [(3, first)] + [
        (n, f"rejected by COPY (this file's first error, line 3: {first})") for n in (5, 6, 8)] + [
        (9, "fewer than 5 fields"), (10, "more than 5 fields")]
    loaded = t.sql(f'SELECT "ID", "AT" IS NULL, "NOTE" FROM {RAW}."EVENTS" WHERE "_FILE" = %s ORDER BY "_LINE"', (f,))
    assert loaded == [("R2", True, None), ("R4", True, None), ("R7", True, None)]  # '' is NULL again
    assert (load.rows_landed, load.rows_loaded, load.rows_quarantined) == (9, 3, 6)
