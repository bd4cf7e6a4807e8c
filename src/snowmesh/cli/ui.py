"""Rich implementation of the Reporter, error printing at the CLI boundary, the options every command
shares, and the one JSON emitter of ``--format json``."""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path, PurePath
from typing import Annotated, Any

import click
import typer
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


# --------------------------------------------------------------------------- options every command shares

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project root (holds domains/ and contracts/).")]
ConnectionOpt = Annotated[
    str | None,
    typer.Option("--connection", "-c", help="snow CLI connection name; default: the embedded local account."),
]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")]

FORMATS = ("text", "json")


class _FormatChoice(click.Choice):
    """``text`` (for people) or ``json`` (for scripts). ``table``, the old name of ``text`` in
    ``mesh products`` and ``mesh contract validate``, is still read as ``text``, with a note."""

    def __init__(self) -> None:
        super().__init__(list(FORMATS), case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() == "table":
            err_console.print("note: --format table is now called --format text", highlight=False)
            return "text"
        return super().convert(value, param, ctx).lower()


FormatOpt = Annotated[str, typer.Option(
    "--format", "-f", click_type=_FormatChoice(),
    help="text (for people) or json (one JSON document on stdout; docs/cli-json.md).")]


# --------------------------------------------------------------------------- one JSON document on stdout

_output = {"json": False, "emitted": False}


def begin_command(argv: list[str]) -> None:
    """Called by the CLI entry before parsing: remember whether JSON was asked for, so that an
    error (even a usage error, raised before any option is converted) still answers in JSON."""
    end = argv.index("--") if "--" in argv else len(argv)
    words = argv[:end]
    wanted = any(w.lower() in ("--format=json", "-f=json") for w in words) or any(
        a in ("--format", "-f") and b.lower() == "json" for a, b in itertools.pairwise(words))
    _output.update(json=wanted, emitted=False)


def jsonable(value: Any) -> Any:
    """Plain JSON values: dates and times as ISO 8601 strings, decimals as numbers, dataclasses as
    objects, enums as their value, paths as strings, tuples and sets as lists."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # NaN and Infinity are not JSON
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def write_json(document: Any) -> None:
    """The one JSON document of this command, on stdout (notes and progress stay on stderr)."""
    sys.stdout.write(json.dumps(jsonable(document), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    _output["emitted"] = True


def emit(result: Any, fmt: str, render: Callable[[Any], None]) -> None:
    """Show a command's result: ``render`` it for people, or dump it as its JSON document."""
    if fmt == "json":
        write_json(result)
    else:
        render(result)


def error_document(exc: MeshError, **extra: Any) -> dict[str, Any]:
    """``{"error": {"message", "hint", "exit_code"}}``, plus a command's own keys (``extra``)."""
    return {**extra, "error": {"message": exc.message, "hint": exc.hint, "exit_code": exc.exit_code}}


def report_error(exc: MeshError) -> None:
    """An expected failure at the CLI boundary: one line (and a hint) on stderr; under
    ``--format json`` also the error document on stdout, unless the command already wrote one."""
    print_error(exc)
    if _output["json"] and not _output["emitted"]:
        write_json(error_document(exc))
