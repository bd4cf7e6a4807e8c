"""Ingest loads in bounded batches, one transaction each, with the same exact accounting.

``governance.ingest.ingest_batches`` splits a source's new files into runs of at most
``BATCH_MAX_BYTES`` compressed bytes, so the warehouse's working set of one load stays the same at
any scale. Here the bound is one byte, so every file is a batch of its own: the rows loaded, the
quarantined lines and the ledger must be exactly what one batch would give, and a re-run loads
nothing. The source lives in a database of its own on the session's local account.
"""

from __future__ import annotations

import dataclasses
import gzip

import pytest
from scratch_domain import deploy_scratch_domain

from governance import ingest as shared
from snowmesh.console import SilentReporter
from snowmesh.manifest.model import Column, Source

DB = "BATCHES_DB"
RAW = f'"{DB}"."RAW"'
SOURCE = Source("TICKS", "ticks", "csv_gzip", (Column("ID", "VARCHAR", True), Column("AMOUNT", "NUMBER(12,2)", True)))
FILES = {  # key -> lines after the header; a line with "bad" in it cannot load
    f"ticks/dt=2026-03-0{i}/part-00000.csv.gz": [f"T{i}-{j},{j}.25" for j in range(40)] + [f"T{i}-bad,{i}x"] * (i % 3)
    for i in range(1, 6)
}


@pytest.fixture(scope="module")
def batches(mesh_run):
    t, d = deploy_scratch_domain(mesh_run, "BATCHES", DB, "mesh-batches-landing", SOURCE)
    for key, lines in FILES.items():
        t.s3.put_object(Bucket=d.bucket, Key=key, Body=gzip.compress(("ID,AMOUNT\n" + "\n".join(lines) + "\n").encode()))
    return t, d


def test_every_file_its_own_batch_loads_exactly_once(batches, monkeypatch) -> None:
    from snowmesh.ingest import ingest_source

    t, d = batches
    calls: list[list[str]] = []
    one_batch = shared.ingest_source

    def counted(session, database, spec, files, *args, **kwargs):
        calls.append([f.name for f in files])
        return one_batch(session, database, spec, files, *args, **kwargs)

    monkeypatch.setattr(shared, "BATCH_MAX_BYTES", 1)
    monkeypatch.setattr(shared, "ingest_source", counted)
    load = ingest_source(t, d, SOURCE, SilentReporter())

    assert calls == [[key] for key in sorted(FILES)]  # one transaction per file, in key order
    bad = {key: sum("bad" in line for line in lines) for key, lines in FILES.items()}
    landed = sum(len(lines) for lines in FILES.values())
    assert (load.files_new, load.files_rejected) == (len(FILES), 0)
    assert (load.rows_landed, load.rows_loaded, load.rows_quarantined) == (landed, landed - sum(bad.values()),
                                                                           sum(bad.values()))
    ledger = {f: (int(n), int(ok), int(q)) for f, n, ok, q in t.sql(
        f'SELECT "FILE_NAME", "ROWS_LANDED", "ROWS_LOADED", "ROWS_QUARANTINED" FROM {RAW}."INGESTED_FILES"')}
    assert ledger == {key: (len(lines), len(lines) - bad[key], bad[key]) for key, lines in FILES.items()}
    quarantined = t.sql(f'SELECT "_FILE", "_LINE" FROM {RAW}."TICKS_QUARANTINE"')
    assert sorted((f, int(n)) for f, n in quarantined) == sorted(
        (key, i + 2) for key, lines in FILES.items() for i, line in enumerate(lines) if "bad" in line)
    assert int(t.sql(f'SELECT COUNT(*) FROM {RAW}."TICKS"')[0][0]) == landed - sum(bad.values())

    again = ingest_source(t, d, SOURCE, SilentReporter())
    assert (again.files_new, again.files_skipped, again.rows_landed) == (0, len(FILES), 0)


def test_the_next_batch_is_packed_while_this_one_loads_and_a_failure_packs_no_further(mesh_run, monkeypatch) -> None:
    """Locally the client's half of batch k+1 (download, screen, write) overlaps batch k's SQL:
    one batch ahead and no more, so a failure at batch 2 never packs batch 4, loads nothing of
    batch 2, and leaves no batch file behind."""
    import threading

    import snowmesh.ingest as local
    from snowmesh.errors import StepFailed
    from snowmesh.local import servers

    source = dataclasses.replace(SOURCE, name="TOCKS", prefix="tocks")
    t, d = deploy_scratch_domain(mesh_run, "PREFETCH", "PREFETCH_DB", "mesh-prefetch-landing", source)
    keys = [f"tocks/dt=2026-04-0{i}/part-00000.csv.gz" for i in range(1, 6)]
    for k in keys:
        t.s3.put_object(Bucket=d.bucket, Key=k, Body=gzip.compress(f"ID,AMOUNT\n{k[-20:]},1.00\n".encode()))
    packed: list[str] = []
    ahead_at_load: list[list[str]] = []
    second_packing = threading.Event()
    real_pack, real_load = local.pack, local._local_load

    def pack(target, dom, spec, names, folder, advance):
        packed.append(names[0])
        if names == [keys[1]]:
            second_packing.set()
        return real_pack(target, dom, spec, names, folder, advance)

    def load(target, dom, spec, p):
        ahead_at_load.append(sorted(p.shipped))
        if p.shipped == [keys[0]]:  # batch 2's packing starts while batch 1 is still loading
            assert second_packing.wait(10)
        if p.shipped == [keys[1]]:
            raise StepFailed("batch 2 fails")
        return real_load(target, dom, spec, p)

    monkeypatch.setattr(shared, "BATCH_MAX_BYTES", 1)
    monkeypatch.setattr(local, "pack", pack)
    monkeypatch.setattr(local, "_local_load", load)
    def batch_files() -> set:  # ours: not fakesnow's stage folders
        return {f for f in (servers.state_dir(t.root) / "tmp").rglob("batch-*.csv.gz") if "fakesnow_bucket" not in str(f)}

    before = batch_files()
    with pytest.raises(StepFailed, match="batch 2 fails"):
        local.ingest_source(t, d, source, SilentReporter())

    assert ahead_at_load == [[keys[0]], [keys[1]]]
    assert packed[:2] == keys[:2] and keys[3] not in packed  # batch 3 at most (queued during batch 2)
    ledger = [r[0] for r in t.sql('SELECT "FILE_NAME" FROM "PREFETCH_DB"."RAW"."INGESTED_FILES"')]
    assert ledger == [keys[0]]  # batch 1 committed, batch 2 rolled back
    assert batch_files() == before
