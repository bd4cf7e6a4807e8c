"""The local account's memory settings: DuckDB's limit, threads and spill folder, moto on disk.

The figures themselves are benchmark figures (bench/bench_run.py, bench/README.md), not tested
here; what is tested is that the servers run with the settings docs/local-account.md states.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from snowmesh.local import fakesnow_server as fs
from snowmesh.local.probes import answers, free_port
from snowmesh.local.servers import Server

MB = 10**6


def test_defaults_and_overrides_of_the_duckdb_settings():
    got = fs.duckdb_settings({})
    assert (got["memory_limit"], got["threads"]) == ("auto", str(os.cpu_count()))
    assert got["temp_directory"].endswith("duckdb-spill")
    got = fs.duckdb_settings({fs.MEMORY_LIMIT_ENV: " 1.5GiB ", fs.THREADS_ENV: "1"})
    assert (got["memory_limit"], got["threads"]) == ("1.5GiB", "1")
    assert fs.duckdb_settings({fs.MEMORY_LIMIT_ENV: "AUTO"})["memory_limit"] == "auto"


@pytest.mark.parametrize(("data", "load", "limit"), [
    (0, 0, 256 * MB),  # an empty account: the floor
    (50 * MB, 17 * MB, 256 * MB),  # 1M clicks: tables and files both under the floor
    (100 * MB, 0, 400 * MB),  # 4 x the data on disk
    (10 * MB, 100 * MB, 800 * MB),  # 8 x an announced load
    (600 * MB, 170 * MB, 1250 * MB),  # 10M clicks: the cap
    (10**12, 10**12, 1250 * MB),
])
def test_the_automatic_limit_follows_the_data_and_the_load_between_floor_and_cap(data, load, limit):
    assert fs.auto_limit(data, load) == limit


def _post(url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def lone_server(tmp_path: Path):
    """A fakesnow server of its own (the shared one must keep its settings for the other tests)."""
    def start(**env: str) -> str:
        port = free_port()
        (tmp_path / "db").mkdir(exist_ok=True)
        proc = subprocess.Popen([sys.executable, "-m", "snowmesh.local.fakesnow_server", "--port", str(port),
                                 "--db-path", str(tmp_path / "db")], env={**os.environ, "TMPDIR": str(tmp_path), **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        server = Server("fakesnow", proc.pid, port)
        deadline = time.monotonic() + 30
        while not answers(server):  # the readiness check `mesh up` uses
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        return server.url

    procs: list[subprocess.Popen] = []
    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def test_an_announced_load_raises_duckdbs_own_limit_and_never_lowers_it(lone_server):
    url = lone_server()
    status, got = _post(url + "/snowmesh/expect-load", b'{"bytes": 17000000}')
    assert (status, got["auto"], got["memory_limit"]) == (200, True, "244.1 MiB")  # 256MB, as DuckDB prints it
    assert _post(url + "/snowmesh/expect-load", b'{"bytes": 100000000}')[1]["memory_limit"] == "762.9 MiB"  # 800MB
    assert _post(url + "/snowmesh/expect-load", b'{"bytes": 1000}')[1]["memory_limit"] == "762.9 MiB"
    status, got = _post(url + "/snowmesh/expect-load", b'{"bytes": "lots"}')
    assert (status, got["ok"]) == (400, False)


def test_a_fixed_limit_is_kept_whatever_the_load(lone_server):
    url = lone_server(**{fs.MEMORY_LIMIT_ENV: "300MB"})
    status, got = _post(url + "/snowmesh/expect-load", b'{"bytes": 170000000}')
    assert (status, got["auto"], got["memory_limit"]) == (200, False, "286.1 MiB")  # 300MB


@pytest.mark.parametrize(("env", "message"), [
    ({fs.MEMORY_LIMIT_ENV: "lots"}, "SNOWMESH_DUCKDB_MEMORY_LIMIT='lots': expected auto or a size such as 256MB"),
    ({fs.MEMORY_LIMIT_ENV: "1GB'; DROP TABLE x; --"}, "expected auto or a size"),
    ({fs.THREADS_ENV: "0"}, "SNOWMESH_DUCKDB_THREADS='0': expected a positive whole number"),
    ({fs.THREADS_ENV: "two"}, "expected a positive whole number"),
])
def test_a_malformed_setting_stops_the_server_with_one_message(env, message):
    with pytest.raises(SystemExit, match=message):
        fs.duckdb_settings(env)


def test_the_running_server_has_the_limit_the_threads_and_the_spill_folder(mesh_run, scratch_state):
    t = mesh_run.target
    (limit, threads, spill), = t.sql("SELECT current_setting('memory_limit'), current_setting('threads'), "
                                     "current_setting('temp_directory')")
    assert limit == "244.1 MiB"  # auto, a small account: the floor, 256MB = 256,000,000 bytes as DuckDB prints it
    assert int(threads) == os.cpu_count()
    assert spill == str(scratch_state / "tmp" / "duckdb-spill")
