"""Rich implementation of the Reporter, and error printing at the CLI boundary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from snowmesh.errors import MeshError

console = Console()
err_console = Console(stderr=True)


class RichReporter:
    """Progress bars for long steps. Nested steps (a file load inside a task graph) share
    one live display: Rich allows only one at a time."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._live: Progress | None = None

    def info(self, message: str) -> None:
        if not self.quiet:
            console.print(message)

    def warn(self, message: str) -> None:
        err_console.print(f"[yellow]warning:[/] {message}")

    @contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        if self.quiet:
            yield lambda n=1: None
            return
        if self._live is not None:
            live = self._live
            task = live.add_task(f"  {description}", total=total)
            try:
                yield lambda n=1: live.advance(task, n)
            finally:
                live.update(task, visible=False)
            return
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        ) as live:
            self._live = live
            task = live.add_task(description, total=total)
            try:
                yield lambda n=1: live.advance(task, n)
            finally:
                self._live = None


def print_error(exc: MeshError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
