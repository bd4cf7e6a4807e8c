"""Two loaders on the same source at the same time: every file is recorded, loaded or rejected once.

Each loader has its own connection and Snowpark Session to the session's local account (two
fakesnow sessions, two DuckDB transactions), like two ``mesh run`` or a ``mesh run`` beside the
scheduled task. A barrier holds both at the promotion until both have loaded every file as
new, the worst interleaving: only the INGEST_LOCKS row decides who records what. The source
lives in a database of its own, so the mesh's tables are untouched.
"""

from __future__ import annotations

import gzip
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from scratch_domain import deploy_scratch_domain

from governance import ingest as shared
from snowmesh.console import SilentReporter
from snowmesh.manifest.model import Column, Source

DB = "RACE_DB"
SOURCE = Source("RACE_ROWS", "race_rows", "csv_gzip",
                (Column("ID", "VARCHAR", True), Column("AMOUNT", "NUMBER(12,2)", True)))
FILES, ROWS = 8, 40
BAD_EVERY = 10  # every 10th row of a file has a bad amount: quarantined once, too


def _body(f: int) -> bytes:
    lines = [f"K{f}_{i},{'oops' if i % BAD_EVERY == 0 else f'{i}.25'}" for i in range(ROWS)]
    return ("ID,AMOUNT\n" + "\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def race(mesh_run):
    t, d = deploy_scratch_domain(mesh_run, "RACE", DB, "mesh-race-landing", SOURCE)
    for f in range(FILES):
        t.s3.put_object(Bucket=d.bucket, Key=f"race_rows/dt=2026-02-{f + 1:02d}/part-00000.csv.gz",
                        Body=gzip.compress(_body(f)))
    t.s3.put_object(Bucket=d.bucket, Key="race_rows/dt=2026-02-28/broken.csv.gz", Body=b"not gzip at all\n")
    return t, d


def _second_target(t):
    from snowmesh.target import _local

    return _local(t.root, t.servers)


def test_two_loaders_at_once_record_each_file_once(race, monkeypatch) -> None:
    from snowmesh.ingest import ingest_source

    t, d = race
    other = _second_target(t)
    barrier = threading.Barrier(2, timeout=120)
    take_lock = shared._lock

    def lock_after_both_loaded(*args, **kwargs):
        barrier.wait()  # both have typed every file as new; now both claim at once
        return take_lock(*args, **kwargs)

    monkeypatch.setattr(shared, "_lock", lock_after_both_loaded)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            loads = list(pool.map(lambda target: ingest_source(target, d, SOURCE, SilentReporter()), (t, other)))
    finally:
        other.close()

    # Together the two loaders recorded every file exactly once, and each saw all of them.
    assert sorted(l.files_new for l in loads) == [0, FILES + 1]
    assert all(l.files_new + l.files_skipped == FILES + 1 for l in loads)
    winner = next(l for l in loads if l.files_new)
    bad = len(range(0, ROWS, BAD_EVERY))
    assert (winner.rows_landed, winner.rows_loaded, winner.rows_quarantined) == (
        FILES * ROWS, FILES * (ROWS - bad), FILES * bad)
    assert (winner.files_rejected, winner.rows_rejected) == (1, 0)

    raw = f'"{DB}"."RAW"'
    n, distinct = t.sql(f'SELECT COUNT(*), COUNT(DISTINCT "ID") FROM {raw}."RACE_ROWS"')[0]
    assert (n, distinct) == (FILES * (ROWS - bad), FILES * (ROWS - bad))
    q, q_distinct = t.sql(f'SELECT COUNT(*), COUNT(DISTINCT "_FILE" || \':\' || "_LINE") FROM {raw}."RACE_ROWS_QUARANTINE"')[0]
    assert (q, q_distinct) == (FILES * bad, FILES * bad)
    ledger = t.sql(f'SELECT "FILE_NAME", COUNT(*), MAX("ROWS_LANDED") FROM {raw}."INGESTED_FILES" GROUP BY "FILE_NAME"')
    assert len(ledger) == FILES and all((c, landed) == (1, ROWS) for _, c, landed in ledger)
    rejected = t.sql(f'SELECT "FILE_NAME", "REASON" FROM {raw}."REJECTED_FILES"')
    assert len(rejected) == 1 and rejected[0][0].endswith("broken.csv.gz") and rejected[0][1].startswith("not gzip")


def test_a_later_loader_finds_nothing_new(race) -> None:
    from snowmesh.ingest import ingest_source

    t, d = race
    again = ingest_source(t, d, SOURCE, SilentReporter())
    assert (again.files_new, again.files_skipped, again.rows_landed) == (0, FILES + 1, 0)


def test_the_same_name_with_new_content_is_a_new_file(race) -> None:
    """The ledger keys a file on its name and MD5 (S3's ETag), as COPY's own load metadata does."""
    from snowmesh.ingest import ingest_source

    t, d = race
    key = "race_rows/dt=2026-02-01/part-00000.csv.gz"
    t.s3.put_object(Bucket=d.bucket, Key=key, Body=gzip.compress(b"ID,AMOUNT\nNEW_1,1.00\n"))
    load = ingest_source(t, d, SOURCE, SilentReporter())
    assert (load.files_new, load.rows_loaded) == (1, 1)
    rows = t.sql(f'SELECT "FILE_MD5" FROM "{DB}"."RAW"."INGESTED_FILES" WHERE "FILE_NAME" = %s', (key,))
    assert len(rows) == 2 and len({r[0] for r in rows}) == 2


def test_a_ledger_from_before_md5s_is_upgraded_and_its_files_match_by_name(mesh_run) -> None:
    """A local account deployed before FILE_MD5 existed: the deploy adds the column, and its
    old rows (no MD5) still mark their files as loaded."""
    from snowmesh.ingest import ingest_source

    t = mesh_run.target
    db = "OLDLEDGER_DB"
    t.sql(f'CREATE DATABASE IF NOT EXISTS "{db}"')
    t.sql(f'CREATE SCHEMA IF NOT EXISTS "{db}"."RAW"')
    t.sql(f'CREATE TABLE "{db}"."RAW"."INGESTED_FILES" ("SOURCE" VARCHAR NOT NULL, "FILE_NAME" VARCHAR NOT NULL, '
          '"ROWS_LANDED" NUMBER NOT NULL, "ROWS_LOADED" NUMBER NOT NULL, "ROWS_QUARANTINED" NUMBER NOT NULL, '
          '"LOADED_AT" TIMESTAMP_NTZ NOT NULL)')
    old = "race_rows/dt=2026-01-01/part-00000.csv.gz"
    t.sql(f"INSERT INTO \"{db}\".\"RAW\".\"INGESTED_FILES\" VALUES ('RACE_ROWS', '{old}', 2, 2, 0, SYSDATE())")
    _, d = deploy_scratch_domain(mesh_run, "OLDLEDGER", db, "mesh-oldledger-landing", SOURCE)  # the deploy upgrades it
    t.s3.put_object(Bucket=d.bucket, Key=old, Body=gzip.compress(b"ID,AMOUNT\nO1,1.00\nO2,2.00\n"))
    t.s3.put_object(Bucket=d.bucket, Key="race_rows/dt=2026-01-02/part-00000.csv.gz",
                    Body=gzip.compress(b"ID,AMOUNT\nN1,1.00\n"))
    load = ingest_source(t, d, SOURCE, SilentReporter())
    assert (load.files_new, load.files_skipped, load.rows_loaded) == (1, 1, 1)
    md5s = dict(t.sql(f'SELECT "FILE_NAME", "FILE_MD5" FROM "{db}"."RAW"."INGESTED_FILES"'))
    assert md5s[old] is None and md5s["race_rows/dt=2026-01-02/part-00000.csv.gz"]
