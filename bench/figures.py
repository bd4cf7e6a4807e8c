"""One JSON format for every benchmark's figures (bench/README.md documents it).

Each benchmark run appends one line per scale to ``<results>/<bench>.jsonl``:

    {"bench": "run", "scale": {"clicks": 1000000}, "ok": true,
     "seconds": {"total": 10.7, "deploy": 1.2, ...},
     "peak_rss_bytes": 1492000000, "figures": {...}, "targets": {...},
     "at": "2026-12-01T10:40:00Z", "machine": "x86_64, 2 cores, Python 3.11.9", "smoke": false}

``<results>`` is ``bench/results`` (git-ignored), or ``$BENCH_RESULTS_DIR`` (the CI smoke writes
to a scratch folder). ``python bench/figures.py FILE...`` checks that every line of the files has
this shape and ``ok: true``; CI runs it after the smoke runs, so a benchmark that stops writing
its figures, or writes them in another shape, fails CI instead of rotting.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

# key -> the type its value must have (bool before int: a bool is an int in Python).
SHAPE: dict[str, type | tuple[type, ...]] = {
    "bench": str,
    "scale": dict,
    "ok": bool,
    "seconds": dict,
    "peak_rss_bytes": int,
    "figures": dict,
    "targets": dict,
    "at": str,
    "machine": str,
    "smoke": bool,
}


def results_dir() -> Path:
    return Path(os.environ.get("BENCH_RESULTS_DIR") or RESULTS)


def vm_hwm_bytes(pid: int) -> int:
    """A process's peak resident memory (VmHWM, measured by the kernel); 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def own_peak_rss_bytes() -> int:
    """This process's peak resident memory (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def figure_line(
    bench: str,
    scale: dict[str, int],
    *,
    ok: bool,
    seconds: dict[str, float],
    peak_rss_bytes: int,
    figures: dict[str, Any] | None = None,
    targets: dict[str, Any] | None = None,
    smoke: bool = False,
) -> dict[str, Any]:
    line = {
        "bench": bench,
        "scale": scale,
        "ok": bool(ok),
        "seconds": {k: round(float(v), 3) for k, v in seconds.items()},
        "peak_rss_bytes": int(peak_rss_bytes),
        "figures": figures or {},
        "targets": targets or {},
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "smoke": smoke,
    }
    problems = check_line(line)
    if problems:  # a benchmark bug, not a measurement: say so before writing anything
        raise ValueError(f"{bench}: figures not in the bench format: {'; '.join(problems)}")
    return line


def append(line: dict[str, Any]) -> Path:
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{line['bench']}.jsonl"
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")
    return path


def check_line(line: Any) -> list[str]:
    """What is wrong with one line's shape (empty: nothing)."""
    if not isinstance(line, dict):
        return [f"a line is a JSON object, not {type(line).__name__}"]
    problems = [f"missing {k!r}" for k in SHAPE if k not in line]
    problems += [f"unknown key {k!r}" for k in line if k not in SHAPE]
    for k, t in SHAPE.items():
        if k in line and (not isinstance(line[k], t) or (t is int and isinstance(line[k], bool))):
            problems.append(f"{k!r} is {type(line[k]).__name__}, expected {t.__name__}")
    if isinstance(line.get("seconds"), dict):
        if "total" not in line["seconds"]:
            problems.append("'seconds' has no 'total'")
        problems += [f"seconds[{k!r}] is not a number" for k, v in line["seconds"].items()
                     if not isinstance(v, int | float) or isinstance(v, bool)]
    if isinstance(line.get("scale"), dict):
        if not line["scale"]:
            problems.append("'scale' is empty")
        problems += [f"scale[{k!r}] is not a positive integer" for k, v in line["scale"].items()
                     if not isinstance(v, int) or isinstance(v, bool) or v < 1]
    if isinstance(line.get("peak_rss_bytes"), int) and line["peak_rss_bytes"] <= 0:
        problems.append("'peak_rss_bytes' is not positive")
    return problems


def check_files(paths: Iterable[Path]) -> list[str]:
    """Every problem in the files, as ``file:line: problem``; a line with ``ok: false`` is one."""
    problems: list[str] = []
    for path in paths:
        lines = path.read_text().splitlines()
        if not lines:
            problems.append(f"{path}: no figures")
        for n, text in enumerate(lines, 1):
            try:
                line = json.loads(text)
            except ValueError as e:
                problems.append(f"{path}:{n}: not JSON ({e})")
                continue
            problems += [f"{path}:{n}: {p}" for p in check_line(line)]
            if isinstance(line, dict) and line.get("ok") is False:
                problems.append(f"{path}:{n}: ok is false: {json.dumps(line.get('figures'))}")
    return problems


if __name__ == "__main__":
    found = check_files(Path(a) for a in sys.argv[1:])
    print("\n".join(found) or f"{len(sys.argv) - 1} file(s) in the bench format, every line ok")
    sys.exit(1 if found or len(sys.argv) < 2 else 0)
