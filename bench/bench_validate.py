"""Benchmark: validate a 10M-row product with ~12 data checks, against hand-written DuckDB.

    .venv/bin/python bench/bench_validate.py [--rows 10000000] [--repeat 3]
    .venv/bin/python bench/bench_validate.py --smoke     # CI: 100k rows, once, a few seconds

On a scratch local account (a temporary SNOWMESH_STATE_DIR, removed afterwards):

1. one CTAS over GENERATOR (Snowflake SQL that fakesnow runs on DuckDB) creates the table;
2. ``governance.validate.validate_table`` runs the contract (schema checks from metadata, then
   every data check in ONE aggregate query); we count the SQL statements it sends;
3. a copy of the table's DuckDB file is opened read-only, and one hand-written DuckDB
   aggregate query computes the same figures directly (runs alternate with step 2).

It reports wall times (best of --repeat; also the median of the paired ratios), the number of
data queries (must be 1) and the ratio ours / DuckDB (target <= 1.5x, reported, not gated: shared
machines vary). The figures are one line of bench/results/validate.jsonl in the bench format
(bench/figures.py, bench/README.md). Exit 1 unless it is one data query with the same figures as
DuckDB's and the contract passed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import figures  # bench/figures.py: a script's own folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
DB, SCHEMA, TABLE = "BENCH_DB", "DATA", "EVENTS"
SMOKE_ROWS = 100_000

CREATE = f"""CREATE OR REPLACE TABLE "{DB}"."{SCHEMA}"."{TABLE}" AS
SELECT
  'EV-' || SEQ8() AS "EVENT_ID",
  CASE MOD(SEQ8(), 5) WHEN 0 THEN 'search' WHEN 1 THEN 'social' WHEN 2 THEN 'display'
       WHEN 3 THEN 'email' ELSE 'video' END AS "CHANNEL",
  CAST(MOD(SEQ8() * 7919, 100000) / 100 AS NUMBER(12,2)) AS "AMOUNT_USD",
  CASE WHEN MOD(SEQ8(), 10) = 0 THEN NULL ELSE 'note ' || MOD(SEQ8(), 997) END AS "NOTE",
  CAST('{{now}}' AS TIMESTAMP_NTZ) AS "UPDATED_AT"
FROM TABLE(GENERATOR(ROWCOUNT => {{rows}}))"""

CONTRACT: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": TABLE,
    "type": "object",
    "additionalProperties": False,
    "x-product": {"domain": "BENCH", "name": TABLE, "owner": "bench@example.com", "version": "1.0.0"},
    "x-sla": {"freshness_column": "UPDATED_AT", "max_age_hours": 24},
    "x-quality": {"row_count": {"min": 1}, "max_null_pct": {"NOTE": 15}},
    "required": ["EVENT_ID", "CHANNEL", "AMOUNT_USD", "UPDATED_AT"],
    "properties": {
        "EVENT_ID": {"type": "string", "pattern": "^EV-[0-9]+$", "x-unique": True},
        "CHANNEL": {"type": "string", "enum": ["search", "social", "display", "email", "video"]},
        "AMOUNT_USD": {"type": "number", "x-snowflake-type": "NUMBER(12,2)", "minimum": 0, "maximum": 1000},
        "NOTE": {"type": ["string", "null"], "maxLength": 20},
        "UPDATED_AT": {"type": "string", "format": "date-time"},
    },
}

# The same figures, written by hand for DuckDB, in build_checks order.
DUCKDB_QUERY = f"""SELECT
  COUNT(*),
  COUNT(*) - COUNT(EVENT_ID),
  COUNT(EVENT_ID) - COUNT(DISTINCT EVENT_ID),
  COUNT_IF(NOT regexp_full_match(EVENT_ID, 'EV-[0-9]+')),
  COUNT(*) - COUNT(CHANNEL),
  COUNT_IF(CHANNEL NOT IN ('search', 'social', 'display', 'email', 'video')),
  COUNT(*) - COUNT(AMOUNT_USD),
  COUNT_IF(AMOUNT_USD < 0),
  COUNT_IF(AMOUNT_USD > 1000),
  ROUND(100 * (COUNT(*) - COUNT(NOTE)) / COUNT(*), 4),
  COUNT_IF(LENGTH(NOTE) > 20),
  COUNT(*) - COUNT(UPDATED_AT),
  ROUND(date_diff('second', MAX(UPDATED_AT), CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)) / 3600, 2)
FROM "{SCHEMA}"."{TABLE}" """


class CountingSession:
    """Forwards to the Snowpark Session and records every SQL text the engine sends."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.sent = inner, []

    def sql(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(query)
        return self.inner.sql(query, *args, **kwargs)


def timed(fn) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="100k rows, once: the CI smoke run")
    args = ap.parse_args()
    if args.smoke:
        args.rows, args.repeat = SMOKE_ROWS, 1

    state = Path(tempfile.mkdtemp(prefix="snowmesh-bench-"))
    os.environ["SNOWMESH_STATE_DIR"] = str(state)  # never the user's .mesh
    try:
        return run(args, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run(args: argparse.Namespace, state: Path) -> int:
    import duckdb

    from governance.checks import build_checks
    from governance.contract import parse_contract
    from governance.validate import validate_table
    from snowmesh.local import servers
    from snowmesh.target import open_target

    started = time.perf_counter()
    contract = parse_contract(CONTRACT, "bench contract")
    table = f"{DB}.{SCHEMA}.{TABLE}"
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with open_target(ROOT, None, keep_servers=False) as target:
        srv = servers.running(ROOT)
        target.sql(f'CREATE DATABASE IF NOT EXISTS "{DB}"')
        target.sql(f'CREATE SCHEMA IF NOT EXISTS "{DB}"."{SCHEMA}"')
        t0 = time.perf_counter()
        target.sql(CREATE.format(now=now, rows=args.rows))
        create_s = time.perf_counter() - t0
        rows = target.sql(f'SELECT COUNT(*) FROM "{DB}"."{SCHEMA}"."{TABLE}"')[0][0]

        # The reference reads a copy of the same DuckDB file (the server holds the original):
        # runs alternate ours / reference, so load from other processes hits both alike.
        copy_dir = state / "reference"
        copy_dir.mkdir()
        for f in servers.db_dir(ROOT).glob(f"{DB}.db*"):
            shutil.copy(f, copy_dir / f.name)
        session = CountingSession(target.session)
        ours, duck = [], []
        with duckdb.connect(str(copy_dir / f"{DB}.db"), read_only=True) as con:
            for _ in range(args.repeat):
                t, report = timed(lambda: validate_table(session, contract, table))
                ours.append(t)
                t, duck_row = timed(lambda: con.execute(DUCKDB_QUERY).fetchone())
                duck.append(t)
        statements = len(session.sent) // args.repeat
        data_queries = report.queries
        ours_values = [r.observed for r in report.results if r.check not in ("type", "nullable")]
        server_peak = figures.vm_hwm_bytes(srv.snowflake.pid) if srv else 0
    servers.stop(ROOT)
    ours_s, duck_s = min(ours), min(duck)
    median_ratio = statistics.median(o / d for o, d in zip(ours, duck))

    checks = build_checks(contract)
    ratio = ours_s / duck_s
    ours_text, duck_text = [str(v) for v in ours_values], [_fmt(v) for v in duck_row]
    mismatched = [f"{c.name}({c.column or ''}): ours {o}, duckdb {d}"
                  for c, o, d in zip(checks, ours_text, duck_text) if not _same(c.kind, o, d)]
    figures_match = len(ours_text) == len(duck_text) and not mismatched
    ok = data_queries == 1 and figures_match and report.passed and rows == args.rows
    line = figures.figure_line(
        "validate",
        {"rows": args.rows},
        ok=ok,
        seconds={"total": time.perf_counter() - started, "create_table": create_s, "validate": ours_s,
                 "duckdb": duck_s},
        peak_rss_bytes=figures.own_peak_rss_bytes() + server_peak,
        figures={
            "rows_counted": rows,
            "data_checks": len(checks),
            "schema_checks": sum(1 for r in report.results if r.check in ("type", "nullable")),
            "ratio": round(ratio, 2),
            "median_pairwise_ratio": round(median_ratio, 2),
            "repeat": args.repeat,
            "data_queries": data_queries,
            "sql_statements_per_validation": statements,
            "passed": report.passed,
            "figures_match": figures_match,
            "mismatched": mismatched if len(ours_text) == len(duck_text) else [f"{ours_text} vs {duck_text}"],
            "duckdb": duckdb.__version__,
        },
        targets={"data_queries": 1, "ratio": 1.5},
        smoke=args.smoke,
    )
    print(f"rows                  {rows:,}")
    print(f"data checks           {len(checks)} (+{line['figures']['schema_checks']} schema checks from metadata)")
    print(f"create (one CTAS)     {create_s:.2f} s")
    print(f"validate_table        {ours_s:.3f} s  ({data_queries} data query, {statements} SQL statements)")
    print(f"hand-written DuckDB   {duck_s:.3f} s")
    print(
        f"ratio                 {ratio:.2f}x best/best, {median_ratio:.2f}x median of pairs  (target <= 1.5x)"
    )
    print(f"same figures          {figures_match}; contract passed: {report.passed}")
    for m in line["figures"]["mismatched"]:
        print(f"  differs: {m}")
    print(f"figures appended to {figures.append(line)}")
    return 0 if ok else 1


def _same(kind: str, ours: str, duck: str) -> bool:
    """Equal figures; freshness is hours since now rounded to 0.01 h (36 s), and the two queries
    run seconds apart, so it may differ by one step."""
    if kind == "freshness" and ours != duck:
        try:
            return abs(float(ours) - float(duck)) <= 0.0101
        except ValueError:
            return False
    return ours == duck


def _fmt(v: Any) -> str:
    from governance.checks import fmt

    return fmt(v)


if __name__ == "__main__":
    sys.exit(main())
