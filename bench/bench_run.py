"""Benchmark ``mesh run`` end to end at several scales: wall time per step and peak memory.

    .venv/bin/python bench/bench_run.py                 # 100k and 1M clicks
    .venv/bin/python bench/bench_run.py 100000 1000000 10000000

Each scale runs in its own process on a fresh scratch local account (SNOWMESH_STATE_DIR in a
temp folder), so its peak memory is its own. Transactions scale with clicks (a tenth). Peak
memory is the client's max RSS plus the fakesnow and moto servers' peak RSS (VmHWM), each
measured by the kernel. Results are printed, appended to bench/results/run.jsonl, and
summarised: seconds per step, and seconds per million clicks between scales (linearity).
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _quarantine_matches(target, mesh, landed) -> bool:
    """At scale too, every quarantined (file, line) is exactly a row the generator corrupted."""
    from governance.sql import fqn

    for d in mesh.domains:
        for s in d.sources:
            expected = {(f.key, line) for f in landed if f.source == s.name for line, _ in f.corrupt_lines}
            rows = target.sql(f'SELECT "_FILE", "_LINE" FROM {fqn(d.database, "RAW", s.quarantine_table)}')
            if {(f, int(n)) for f, n in rows} != expected:
                return False
    return True


def run_scale(clicks: int) -> dict:
    from snowmesh.console import SilentReporter
    from snowmesh.landing import LandOptions, land_mesh
    from snowmesh.local import servers
    from snowmesh.manifest import load_mesh
    from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
    from snowmesh.target import open_target

    mesh = load_mesh(ROOT)
    reporter = SilentReporter()
    steps: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mesh-bench-") as state:
        os.environ["SNOWMESH_STATE_DIR"] = state
        t0 = time.perf_counter()
        with open_target(ROOT, None, keep_servers=False) as target:
            steps["start local account"] = time.perf_counter() - t0
            srv = servers.running(ROOT)
            t = time.perf_counter()
            report = RunReport(run_id=f"bench{clicks}")
            report.deploy = deploy(target, mesh, reporter)
            steps["deploy"] = time.perf_counter() - t
            t = time.perf_counter()
            landed = land_mesh(target, mesh, LandOptions(clicks=clicks, seed=42), reporter)
            steps["generate + land in S3"] = time.perf_counter() - t
            walk_mesh(target, mesh, reporter, report)
            for task in report.tasks:
                steps[f"{task.dag}.{task.task}"] = task.seconds
            quarantine_exact = _quarantine_matches(target, mesh, landed)
            server_peak = sum(_vm_hwm_kib(s.pid) for s in (srv.snowflake, srv.s3)) if srv else 0
        total = time.perf_counter() - t0
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    ok = all(t.status == "SUCCEEDED" for t in report.tasks)
    return {
        "clicks": clicks,
        "ok": ok,
        "total_s": round(total, 2),
        "peak_rss_mib": round((client_peak + server_peak) / 1024, 1),
        "client_peak_mib": round(client_peak / 1024, 1),
        "servers_peak_mib": round(server_peak / 1024, 1),
        "rows": {l.source: l.rows_landed for l in report.loads},
        "quarantined": {l.source: l.rows_quarantined for l in report.loads},
        "quarantine_lines_match_generator": quarantine_exact,
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
    }


def _run_child(clicks: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", str(clicks)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def summary(results: list[dict]) -> str:
    """Steps side by side, then the marginal cost per million clicks between successive scales."""
    steps = list(dict.fromkeys(k for r in results for k in r["steps_s"]))
    head = f"{'step':52}" + "".join(f"{r['clicks']:>12,}" for r in results)
    lines = [head, "-" * len(head)]
    for k in steps:
        lines.append(f"{k:52}" + "".join(f"{r['steps_s'].get(k, 0):12.2f}" for r in results))
    lines.append(f"{'TOTAL s':52}" + "".join(f"{r['total_s']:12.2f}" for r in results))
    lines.append(f"{'peak RSS MiB (client + servers)':52}" + "".join(f"{r['peak_rss_mib']:12.0f}" for r in results))
    lines.append(f"{'quarantine lines = generator':52}" + "".join(f"{r['quarantine_lines_match_generator']!s:>12}" for r in results))
    for a, b in itertools.pairwise(results):
        per_m = (b["total_s"] - a["total_s"]) / ((b["clicks"] - a["clicks"]) / 1e6)
        lines.append(f"{a['clicks']:,} -> {b['clicks']:,} clicks: {per_m:.1f} s per extra million clicks")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(run_scale(int(argv[1]))))
        return
    scales = sorted(int(a) for a in argv) or [100_000, 1_000_000]
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for clicks in scales:
        result = _run_child(clicks)
        results.append(result)
        print(json.dumps(result, indent=2), flush=True)
        with open(out / "run.jsonl", "a") as f:
            f.write(json.dumps(result) + "\n")
    print(summary(results))


if __name__ == "__main__":
    main(sys.argv[1:])
