"""Crash safety: a `mesh run` killed (as by kill -9) at a statement of any step converges, on the next
plain `mesh run` (no `mesh down` in between), to the products of an uninterrupted run with the same seed.

The kill comes from the executor's test hook (snowmesh.target, SNOWMESH_TEST_KILL_AFTER="N:REGEX":
os._exit(137) right after the N-th statement matching REGEX). The sweep is a chain on ONE state
folder: each run is killed at a later step than the one before, so every kill lands on work that
no earlier run finished (first loads, first builds, first publishes) and the next run starts from
exactly what the kill left: open transactions in a surviving server, orphaned servers, half-done
steps. After the last kill one plain run must finish and every product must match the baseline.

Boundaries covered (CI: the six marked "ci", one per step; all eight with SNOWMESH_CRASH_SWEEP_ALL=1;
"tx" kills inside an open transaction, so the surviving fakesnow is wedged until the next run's
health probe restarts it):
    deploy    tx ci  after DELETE of the product registry rewrite (DELETE + INSERT)
    ingest    tx ci  after a source's rows went into RAW, before its ledger rows commit
    build        ci  after the first product's staging table is written
    validate     ci  after the first validation's results are written, before its publish
    publish   tx ci  after the CLONE of the product table (DROP + CLONE in one transaction)
    publish          after the secure view is re-created, before its grants, tags and audit
    ingest    tx     after the consumer domain's first rows went into RAW (the second task graph)
    registry     ci  after the health UPDATE of the product registry at the end of the run
A full sweep over every statement number is N runs of ~15 s each (N ~ 400): run it by hand with
SNOWMESH_CRASH_SWEEP_STRIDE=K (every K-th statement, each on a fresh state folder).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

OPTIONS = ["--clicks", "2000", "--seed", "11", "--days", "7", "--corrupt-fraction", "0.002"]
VOLATILE = {"UPDATED_AT"}  # a product's build time: differs between any two runs

# (step, kill point, leaves an open transaction behind, in the CI chain)
KILL_CHAIN = [
    ("deploy: registry rewrite, inside its transaction", r'1:^DELETE FROM "GOVERNANCE_DB"\."CATALOG"\."DATA_PRODUCTS"',
     True, True),
    ("ingest: rows in RAW, ledger not committed", r'1:^(INSERT|MERGE) INTO "MARKETING_DB"\."RAW"\."AD_CLICKS"[ (]',
     True, True),
    ("build: first staging table written", r"1:^CREATE OR REPLACE TABLE \S*STAGING\S*\.", False, True),
    ("validate: results written, not published", r'1:^INSERT INTO "GOVERNANCE_DB"\."AUDIT"\."VALIDATION_RESULTS"',
     False, True),
    ("publish: CLONE inside its transaction", r"1:\bCLONE\b", True, True),
    ("publish: view re-created, grants and tags not", r"1:^CREATE OR REPLACE SECURE VIEW", False, False),
    ("ingest of the consumer graph, inside its transaction",
     r'1:^(INSERT|MERGE) INTO "FINANCE_DB"\."RAW"\."TRANSACTIONS"[ (]', True, False),
    ("registry: health refresh at the end", r'1:^UPDATE "GOVERNANCE_DB"\."CATALOG"\."DATA_PRODUCTS"', False, True),
]
# CI runs one kill per step (6 runs + the final one, ~2 min on 2 busy cores); all eight by hand
# with SNOWMESH_CRASH_SWEEP_ALL=1.
CHAIN = [k for k in KILL_CHAIN if k[3] or os.environ.get("SNOWMESH_CRASH_SWEEP_ALL")]


def _run(root: Path, state: Path, kill: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SNOWMESH_STATE_DIR": str(state)}
    env.pop("SNOWMESH_TEST_KILL_AFTER", None)
    if kill:
        env["SNOWMESH_TEST_KILL_AFTER"] = kill
    return subprocess.run([sys.executable, "-m", "snowmesh", "run", "-p", str(root), *OPTIONS], capture_output=True,
                          text=True, env=env, timeout=600, check=False)


def _fingerprint(root: Path, state: Path) -> dict[str, tuple[int, str]]:
    """Rows and a SHA-256 of the sorted rows of every published view (volatile columns left out),
    plus the row counts of the raw tables and ledgers (a doubled load shows there first)."""
    from snowmesh.manifest import load_mesh
    from snowmesh.manifest.model import PRODUCTS
    from snowmesh.target import open_target

    old = os.environ.get("SNOWMESH_STATE_DIR")
    os.environ["SNOWMESH_STATE_DIR"] = str(state)
    try:
        mesh = load_mesh(root)
        out: dict[str, tuple[int, str]] = {}
        with open_target(root, None) as t:
            for d in mesh.domains:
                for p in d.products:
                    with t.conn.cursor() as cur:
                        cur.execute(f'SELECT * FROM "{d.database}"."{PRODUCTS}"."{p.view}"')
                        names = [c.name for c in cur.description]
                        keep = [i for i, n in enumerate(names) if n not in VOLATILE]
                        rows = sorted(repr(tuple(r[i] for i in keep)) for r in cur.fetchall())
                    out[p.key] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
                for table in [*(s.name for s in d.sources), "INGESTED_FILES"]:
                    n = t.sql(f'SELECT COUNT(*) FROM "{d.database}"."RAW"."{table}"')[0][0]
                    out[f"{d.database}.RAW.{table}"] = (int(n), "")
        return out
    finally:
        if old is None:
            os.environ.pop("SNOWMESH_STATE_DIR", None)
        else:
            os.environ["SNOWMESH_STATE_DIR"] = old


@pytest.fixture(scope="module")
def baseline(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    state = tmp_path_factory.mktemp("baseline")
    r = _run(root, state)
    assert r.returncode == 0, r.stderr
    fp = _fingerprint(root, state)
    assert all(n > 0 for n, _ in fp.values()), fp  # every product and table has rows: the comparison means something
    return fp


def test_every_step_killed_then_resumed_converges(root: Path, tmp_path: Path, baseline: dict) -> None:
    state = tmp_path / "state"
    wedged = False
    for step, kill, in_transaction, _ in CHAIN:
        r = _run(root, state, kill)
        assert r.returncode == 137, f"kill point not reached ({step}: {kill}): exit {r.returncode}\n{r.stderr[-2000:]}"
        if wedged:  # the previous kill left a dead client's transaction open in the surviving server
            assert "open transaction" in r.stderr and "restarted it" in r.stderr, (step, r.stderr[-2000:])
        wedged = in_transaction
    final = _run(root, state)
    assert final.returncode == 0, final.stderr[-3000:]
    assert "Traceback" not in final.stderr
    assert "left by `mesh run`" in final.stderr  # the killed run's servers, adopted with a note
    assert _fingerprint(root, state) == baseline
    assert not (state / "servers.json").exists()  # the adopting run stopped them at its end


@pytest.mark.skipif(not os.environ.get("SNOWMESH_CRASH_SWEEP_STRIDE"), reason="by hand: a full sweep takes an hour")
def test_full_sweep(root: Path, tmp_path: Path, baseline: dict) -> None:
    stride = int(os.environ["SNOWMESH_CRASH_SWEEP_STRIDE"])
    n = 1
    while True:
        state = tmp_path / f"kill-{n}"
        r = _run(root, state, str(n))
        if r.returncode == 0:  # the run has fewer statements than n: the sweep is done
            break
        assert r.returncode == 137, (n, r.stderr[-2000:])
        resumed = _run(root, state)
        assert resumed.returncode == 0, (n, resumed.stderr[-2000:])
        assert _fingerprint(root, state) == baseline, f"killed after statement {n}"
        n += stride
