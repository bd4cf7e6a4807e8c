"""The local loader with awkward landed files: every row keeps its file and line, exactly.

The local account ships a batch of files as one gzip with file markers (snowmesh.ingest); these
files probe its edges: no final newline, a header-only file, a quoted field with a newline and a
comma in it, and a quote left open (that file is rejected, the rest loads). They land in a database of their own on the session's local
account, so the mesh's own tables are untouched.
"""

from __future__ import annotations

import gzip

import pytest
from scratch_domain import deploy_scratch_domain

from snowmesh.console import SilentReporter
from snowmesh.manifest.model import Column, Source

DB = "ODDITIES_DB"
SOURCE = Source("ODD_ROWS", "odd_rows", "csv_gzip",
                (Column("ID", "VARCHAR", True), Column("AMOUNT", "NUMBER(12,2)", True), Column("NOTE", "VARCHAR")))
HEADER = b"ID,AMOUNT,NOTE\n"
FILES = {
    "odd_rows/dt=2026-01-01/a.csv.gz": HEADER + b"A1,1.50,plain\nA2,x1,bad amount\nA3,2.00,\n",
    "odd_rows/dt=2026-01-02/b.csv.gz": HEADER + b"B1,3.00,no final newline\nB2,,missing amount",
    "odd_rows/dt=2026-01-03/c.csv.gz": HEADER,
    "odd_rows/dt=2026-01-04/d.csv.gz": HEADER + b'D1,4.00,"two\nlines, one comma"\nD2,oops,after the quoted newline\n',
}
EXPECTED_QUARANTINE = {
    ("odd_rows/dt=2026-01-01/a.csv.gz", 3, "bad NUMBER(12,2) in AMOUNT: x1"),
    ("odd_rows/dt=2026-01-02/b.csv.gz", 3, "missing AMOUNT"),
    ("odd_rows/dt=2026-01-04/d.csv.gz", 3, "bad NUMBER(12,2) in AMOUNT: oops"),
}


@pytest.fixture(scope="module")
def oddities(mesh_run):
    t, d = deploy_scratch_domain(mesh_run, "ODDITIES", DB, "mesh-oddities-landing", SOURCE)
    for key, body in FILES.items():
        t.s3.put_object(Bucket=d.bucket, Key=key, Body=gzip.compress(body))
    return t, d


def test_awkward_files_keep_file_and_line(oddities) -> None:
    from snowmesh.ingest import ingest_source

    t, d = oddities
    load = ingest_source(t, d, SOURCE, SilentReporter())
    assert (load.files_new, load.rows_landed, load.rows_loaded, load.rows_quarantined) == (4, 7, 4, 3)
    good = t.sql(f'SELECT "ID", "AMOUNT", "NOTE", "_FILE", "_LINE" FROM "{DB}"."RAW"."ODD_ROWS" ORDER BY "ID"')
    assert [(r[0], float(r[1]), r[2], r[4]) for r in good] == [
        ("A1", 1.5, "plain", 2), ("A3", 2.0, None, 4), ("B1", 3.0, "no final newline", 2),
        ("D1", 4.0, "two\nlines, one comma", 2),
    ]
    bad = t.sql(f'SELECT "_FILE", "_LINE", "REASON" FROM "{DB}"."RAW"."ODD_ROWS_QUARANTINE"')
    assert {(f, int(n), r) for f, n, r in bad} == EXPECTED_QUARANTINE
    ledger = t.sql(f'SELECT "FILE_NAME", "ROWS_LANDED" FROM "{DB}"."RAW"."INGESTED_FILES"')
    assert dict(ledger) == {
        "odd_rows/dt=2026-01-01/a.csv.gz": 3, "odd_rows/dt=2026-01-02/b.csv.gz": 2,
        "odd_rows/dt=2026-01-03/c.csv.gz": 0, "odd_rows/dt=2026-01-04/d.csv.gz": 2,
    }


def test_a_quote_left_open_rejects_its_file_and_the_rest_of_the_batch_loads(oddities) -> None:
    from snowmesh.ingest import ingest_source

    t, d = oddities
    ingest_source(t, d, SOURCE, SilentReporter())  # whatever is new from the test above
    before = [t.sql(f'SELECT COUNT(*) FROM "{DB}"."RAW"."{name}"')[0][0]
              for name in ("ODD_ROWS", "ODD_ROWS_QUARANTINE", "INGESTED_FILES")]
    t.s3.put_object(Bucket=d.bucket, Key="odd_rows/dt=2026-01-05/e.csv.gz",
                    Body=gzip.compress(HEADER + b'E1,5.00,ok\nE2,5.00,"never closed\nE3,1.00,x\n'))
    t.s3.put_object(Bucket=d.bucket, Key="odd_rows/dt=2026-01-06/f.csv.gz", Body=gzip.compress(HEADER + b"F1,6.00,x\n"))
    load = ingest_source(t, d, SOURCE, SilentReporter())
    assert (load.files_new, load.files_rejected, load.rows_rejected) == (2, 1, 3)
    assert (load.rows_landed, load.rows_loaded, load.rows_quarantined) == (4, 1, 0)  # landed counts e's 3 lines
    assert load.rejected == {"odd_rows/dt=2026-01-05/e.csv.gz": "quote left open at line 3"}
    after = [t.sql(f'SELECT COUNT(*) FROM "{DB}"."RAW"."{name}"')[0][0]
             for name in ("ODD_ROWS", "ODD_ROWS_QUARANTINE", "INGESTED_FILES")]
    assert after == [before[0] + 1, before[1], before[2] + 1]
    assert t.sql(f'SELECT "ID" FROM "{DB}"."RAW"."ODD_ROWS" WHERE "_FILE" LIKE \'%f.csv.gz\'') == [("F1",)]
    rejected = t.sql(f'SELECT "FILE_NAME", "REASON", "LINES" FROM "{DB}"."RAW"."REJECTED_FILES"')
    assert rejected == [("odd_rows/dt=2026-01-05/e.csv.gz", "quote left open at line 3", 3)]
    again = ingest_source(t, d, SOURCE, SilentReporter())  # recorded: never retried
    assert (again.files_new, again.files_rejected) == (0, 0)
