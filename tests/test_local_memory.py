"""The local account's memory settings: DuckDB's limit, threads and spill folder, moto on disk.

The figures themselves are benchmark figures (bench/bench_run.py, bench/README.md), not tested
here; what is tested is that the servers run with the settings docs/local-account.md states.
"""

from __future__ import annotations

import pytest

from snowmesh.local import fakesnow_server as fs


def test_defaults_and_overrides_of_the_duckdb_settings():
    got = fs.duckdb_settings({})
    assert (got["memory_limit"], got["threads"]) == (fs.DEFAULT_MEMORY_LIMIT, str(fs.DEFAULT_THREADS)) == ("256MB", "1")
    assert got["temp_directory"].endswith("duckdb-spill")
    got = fs.duckdb_settings({fs.MEMORY_LIMIT_ENV: " 1.5GiB ", fs.THREADS_ENV: "1"})
    assert (got["memory_limit"], got["threads"]) == ("1.5GiB", "1")


@pytest.mark.parametrize(("env", "message"), [
    ({fs.MEMORY_LIMIT_ENV: "lots"}, "SNOWMESH_DUCKDB_MEMORY_LIMIT='lots': expected a size such as 256MB"),
    ({fs.MEMORY_LIMIT_ENV: "1GB'; DROP TABLE x; --"}, "expected a size"),
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
    assert limit == "244.1 MiB"  # 256MB = 256,000,000 bytes, as DuckDB prints it
    assert int(threads) == 1
    assert spill == str(scratch_state / "tmp" / "duckdb-spill")
