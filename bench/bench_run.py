"""Benchmark ``mesh run`` end to end at several scales: wall time per step and peak memory.

    .venv/bin/python bench/bench_run.py                 # 100k and 1M clicks
    .venv/bin/python bench/bench_run.py 100000 1000000 10000000
    .venv/bin/python bench/bench_run.py --smoke         # CI: 100k clicks, about 10 s

Each scale runs in its own process on a fresh scratch local account (SNOWMESH_STATE_DIR in a
temp folder), so its peak memory is its own. Transactions scale with clicks (a tenth). Peak
memory is the client's max RSS plus the fakesnow and moto servers' peak RSS (VmHWM), each
measured by the kernel. Each scale's figures are one line of bench/results/run.jsonl in the
bench format (bench/figures.py, bench/README.md); then a summary: seconds per step, and seconds
per million clicks between scales (linearity). Exit 1 if a run fails (a task, or a quarantined
line the generator did not corrupt); the figures are reported against the targets, not gated.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import figures  # bench/figures.py: a script's own folder is on sys.path
from memwatch import MemWatch, StepReporter, task_names

ROOT = Path(__file__).resolve().parents[1]
SMOKE_CLICKS = 100_000  # also the CI report's figure (README: a 100k-click benchmark as a report)
GIB = 1024**3
# Issue 15's memory targets (peak of client + fakesnow + moto) and the linearity target.
TARGETS = {"peak_rss_bytes": {"1000000": GIB, "10000000": 3 * GIB}, "seconds_per_extra_million_clicks": 6.0}


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


def run_scale(clicks: int, smoke: bool = False) -> dict:
    from snowmesh.landing import LandOptions, land_mesh
    from snowmesh.local import servers
    from snowmesh.manifest import load_mesh
    from snowmesh.pipeline.dag import mesh_dags
    from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh
    from snowmesh.target import open_target

    mesh = load_mesh(ROOT)
    steps: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mesh-bench-") as state:
        os.environ["SNOWMESH_STATE_DIR"] = state
        t0 = time.perf_counter()
        with open_target(ROOT, None, keep_servers=False) as target:
            steps["start local account"] = time.perf_counter() - t0
            srv = servers.running(ROOT)
            pids = {"client": os.getpid(), **({"fakesnow": srv.snowflake.pid, "moto": srv.s3.pid} if srv else {})}
            watch = MemWatch(pids)
            reporter = StepReporter(watch, {dag.name for _, dag, _ in mesh_dags(mesh)})
            t = time.perf_counter()
            report = RunReport(run_id=f"bench{clicks}")
            with watch.step("deploy"):
                report.deploy = deploy(target, mesh, reporter)
            steps["deploy"] = time.perf_counter() - t
            t = time.perf_counter()
            with watch.step("generate + land in S3"):
                landed = land_mesh(target, mesh, LandOptions(clicks=clicks, seed=42), reporter)
            steps["generate + land in S3"] = time.perf_counter() - t
            walk_mesh(target, mesh, reporter, report)
            for task in report.tasks:
                steps[f"{task.dag}.{task.task}"] = task.seconds
            quarantine_exact = _quarantine_matches(target, mesh, landed)
            watch.stop()
            server_hwm = {s.name: figures.vm_hwm_bytes(s.pid) for s in srv.all} if srv else {}
        total = time.perf_counter() - t0
    client_peak = figures.own_peak_rss_bytes()
    tasks_ok = all(t.status == "SUCCEEDED" for t in report.tasks)
    per_step = task_names(watch.peaks(), [(t.dag, t.task) for t in report.tasks])
    return figures.figure_line(
        "run",
        {"clicks": clicks},
        ok=tasks_ok and quarantine_exact,
        seconds={"total": total, **steps},
        peak_rss_bytes=client_peak + sum(server_hwm.values()),
        figures={
            "client_peak_rss_bytes": client_peak,
            "servers_peak_rss_bytes": sum(server_hwm.values()),
            **{f"{name}_peak_rss_bytes": v for name, v in server_hwm.items()},
            # Resident memory per step and process, sampled every 50 ms (bench/memwatch.py).
            "step_peak_rss_bytes": per_step,
            "tasks_succeeded": tasks_ok,
            "quarantine_lines_match_generator": quarantine_exact,
            "rows": {l.source: l.rows_landed for l in report.loads},
            "quarantined": {l.source: l.rows_quarantined for l in report.loads},
        },
        targets=TARGETS,
        smoke=smoke,
    )


def _run_child(clicks: int, smoke: bool) -> dict:
    cmd = [sys.executable, __file__, "--one", str(clicks)] + (["--smoke"] if smoke else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:  # the child's own traceback, not just its exit code
        sys.stderr.write(out.stderr)
        raise SystemExit(f"bench_run: the {clicks:,}-click run exited with code {out.returncode}")
    return json.loads(out.stdout)


def summary(results: list[dict]) -> str:
    """Steps side by side, then the marginal cost per million clicks between successive scales."""
    steps = list(dict.fromkeys(k for r in results for k in r["seconds"] if k != "total"))
    head = f"{'step':52}" + "".join(f"{r['scale']['clicks']:>12,}" for r in results)
    lines = [head, "-" * len(head)]
    for k in steps:
        lines.append(f"{k:52}" + "".join(f"{r['seconds'].get(k, 0):12.2f}" for r in results))
    lines.append(f"{'TOTAL s':52}" + "".join(f"{r['seconds']['total']:12.2f}" for r in results))
    lines.append(f"{'peak RSS GiB (client + servers)':52}"
                 + "".join(f"{r['peak_rss_bytes'] / GIB:12.2f}" for r in results))
    lines.append(f"{'quarantine lines = generator':52}"
                 + "".join(f"{r['figures']['quarantine_lines_match_generator']!s:>12}" for r in results))
    for r in results:
        limit = TARGETS["peak_rss_bytes"].get(str(r["scale"]["clicks"]))
        if limit:
            verdict = "meets" if r["peak_rss_bytes"] <= limit else "MISSES"
            lines.append(f"{r['scale']['clicks']:,} clicks: peak {r['peak_rss_bytes'] / GIB:.2f} GiB {verdict} "
                         f"the target <= {limit / GIB:.0f} GiB")
    for r in results:
        per_step = r["figures"].get("step_peak_rss_bytes") or {}
        procs = list(dict.fromkeys(name for p in per_step.values() for name in p))
        if per_step:
            lines.append(f"\n{r['scale']['clicks']:,} clicks: resident MiB per step (sampled)")
            lines.append(f"{'step':52}" + "".join(f"{name:>12}" for name in procs))
            for step, p in per_step.items():
                lines.append(f"{step:52}" + "".join(f"{p.get(name, 0) / 2**20:12.0f}" for name in procs))
    for a, b in itertools.pairwise(results):
        per_m = (b["seconds"]["total"] - a["seconds"]["total"]) / ((b["scale"]["clicks"] - a["scale"]["clicks"]) / 1e6)
        lines.append(f"{a['scale']['clicks']:,} -> {b['scale']['clicks']:,} clicks: {per_m:.1f} s per extra million "
                     f"clicks (target <= {TARGETS['seconds_per_extra_million_clicks']:.0f})")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clicks", nargs="*", type=int, help="scales, in clicks (default: 100000 1000000)")
    ap.add_argument("--smoke", action="store_true", help=f"one small scale ({SMOKE_CLICKS:,} clicks) for CI")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process of one scale
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_scale(args.one, args.smoke)))
        return 0
    scales = [SMOKE_CLICKS] if args.smoke else sorted(args.clicks) or [100_000, 1_000_000]
    results = []
    for clicks in scales:
        result = _run_child(clicks, args.smoke)
        results.append(result)
        path = figures.append(result)
        print(json.dumps(result), flush=True)
    print(f"figures appended to {path}")
    print(summary(results))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
