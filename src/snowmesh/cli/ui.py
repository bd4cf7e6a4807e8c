"""Rich implementation of the Reporter, and error printing at the CLI boundary."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, ConsoleDimensions
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

# Wide enough for any row we print: off a terminal nothing is cut or folded (a log or a script
# gets the whole value), and Rich tables only take the width their cells need.
UNBOUNDED_WIDTH = 4096


class StreamConsole(Console):
    """A Rich console that fits the terminal when its stream is one, and never cuts a cell when
    it is not. Rich alone assumes 80 columns off a terminal ("MARKET…" in a piped table), and with
    FORCE_COLOR it measures stdin's terminal even when stdout is a pipe.

    Colour is Rich's own rule: none off a terminal, none with NO_COLOR, forced with FORCE_COLOR
    (https://no-color.org, https://force-color.org). COLUMNS is a terminal's width, so it is
    ignored off a terminal (a CI shell may export it); an explicit ``width=`` is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._explicit_width = kwargs.get("width") is not None

    @property
    def size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)
        if not self._explicit_width and not _is_tty(self.file):
            return ConsoleDimensions(UNBOUNDED_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


def _is_tty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False


console = StreamConsole()  # results: tables, summaries, what a script reads
err_console = StreamConsole(stderr=True)  # progress, notes, warnings, errors


def _template(message: str) -> str:
    """A note's text without its numbers: the same note from another step is the same note."""
    return re.sub(r"\d+", "#", message)


class RichReporter:
    """Notes, warnings and progress bars on stderr, so stdout holds only results.

    Each note and warning is shown once per command: core code reports per step (the deploy,
    then each product's publish), and the same sentence four times is noise that hides signal.
    A repeat differs at most in its numbers; the first one is shown.
    Nested steps (a file load inside a task graph) share one live display: Rich allows only
    one at a time."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._live: Progress | None = None
        self._said: set[str] = set()

    def _first_time(self, message: str) -> bool:
        key = _template(message)
        if key in self._said:
            return False
        self._said.add(key)
        return True

    def info(self, message: str) -> None:
        if not self.quiet and self._first_time(message):
            err_console.print(escape(message), highlight=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        if self._first_time("warning: " + message):
            err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)

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
            console=err_console, transient=False,
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
