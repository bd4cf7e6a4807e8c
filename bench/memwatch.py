"""Where the memory goes: resident memory of named processes, sampled per step of a benchmark.

    watch = MemWatch({"client": os.getpid(), "fakesnow": pid1, "moto": pid2})
    with watch.step("deploy"):
        ...
    watch.stop()
    watch.peaks()   # {"deploy": {"client": bytes, "fakesnow": bytes, "moto": bytes}, ...}

A daemon thread reads each process's VmRSS from /proc every ``interval`` seconds and charges the
sample to the step that is running, so a step's figure is the highest resident memory seen while
it ran (a peak shorter than the interval can be missed; the kernel's VmHWM / ru_maxrss, which the
benchmarks report as the total, cannot miss one). Not a module of the project: bench only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from snowmesh.console import SilentReporter


def vm_rss_bytes(pid: int) -> int:
    """A process's resident memory now (VmRSS); 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemWatch:
    def __init__(self, pids: dict[str, int], interval: float = 0.05) -> None:
        self.pids = dict(pids)
        self.interval = interval
        self._step = "(between steps)"
        self._peaks: dict[str, dict[str, int]] = {}
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="memwatch", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        now = {name: vm_rss_bytes(pid) for name, pid in self.pids.items()}
        with self._lock:
            peak = self._peaks.setdefault(self._step, dict.fromkeys(self.pids, 0))
            for name, rss in now.items():
                peak[name] = max(peak.get(name, 0), rss)

    def _run(self) -> None:
        while not self._done.is_set():
            self._sample()
            time.sleep(self.interval)

    def enter(self, name: str) -> None:
        """From now on, samples belong to ``name`` (the previous step ends)."""
        self._sample()  # the last word of the step that ends
        with self._lock:
            self._step = name
        self._sample()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.enter(name)
        try:
            yield
        finally:
            self.enter("(between steps)")

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self._sample()

    def peaks(self) -> dict[str, dict[str, int]]:
        """Per step, per process: the highest resident memory seen, in bytes (steps in run order)."""
        with self._lock:
            return {step: dict(p) for step, p in self._peaks.items() if step != "(between steps)"}


class StepReporter(SilentReporter):
    """A silent Reporter that moves ``watch`` to the next step at each task of a task graph.

    ``walk_mesh`` opens one progress bar per graph and advances it once per finished task, in
    walk order; the steps are named ``<graph>#<i>`` and renamed after the run (``task_names``).
    Any other progress bar (an ingest's files) stays within the task that opened it.
    """

    def __init__(self, watch: MemWatch, graphs: set[str]) -> None:
        super().__init__()
        self.watch, self.graphs = watch, graphs

    @contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator:
        if description not in self.graphs:
            yield lambda n=1: None
            return
        done = [0]

        def advance(n: int = 1) -> None:
            done[0] += n
            self.watch.enter(f"{description}#{done[0]}")

        self.watch.enter(f"{description}#0")
        try:
            yield advance
        finally:
            self.watch.enter("(between steps)")


def task_names(peaks: dict[str, dict[str, int]], tasks: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``<graph>#<i>`` -> ``<graph>.<its i-th task>`` (``tasks``: (graph, task) in walk order)."""
    index: dict[str, list[str]] = {}
    for dag, task in tasks:
        index.setdefault(dag, []).append(task)
    out = {}
    for step, p in peaks.items():
        dag, sep, i = step.rpartition("#")
        if sep and dag in index and i.isdigit() and int(i) < len(index[dag]):
            step = f"{dag}.{index[dag][int(i)]}"
        out[step] = p
    return out
