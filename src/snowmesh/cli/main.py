"""``mesh``: run a data mesh on Snowflake and AWS, or on the embedded local account."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer

from snowmesh.cli import ui
from snowmesh.cli.ui import FormatOpt, ProjectOpt, console, report_error
from snowmesh.errors import InputError, MeshError

app = typer.Typer(
    name="mesh",
    help="A Snowpark-native data mesh: manifests, contracts, zero-copy sharing and governance.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
)


_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"mesh (snowmesh) {version('snowmesh')}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors (accepted anywhere on the line).")]
    = False,
    _show_version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    _state["debug"] = _state["debug"] or debug


def _load(project: Path):
    from snowmesh.manifest import load_mesh

    return load_mesh(project)


@app.command()
def up(project: ProjectOpt = Path(".")) -> None:
    """Start the local account (fakesnow + moto S3) and keep it running."""
    from snowmesh.cli.ui import RichReporter
    from snowmesh.local import servers

    srv = servers.start(project.resolve(), reporter=RichReporter())
    console.print(f"local account up: Snowflake on {srv.snowflake.url} (pid {srv.snowflake.pid}), "
                  f"S3 on {srv.s3.url} (pid {srv.s3.pid})")


@app.command()
def down(
    project: ProjectOpt = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Stop them even while a command holds the run lock.")] = False,
) -> None:
    """Stop the local account's servers (data in .mesh/fakesnow stays); refused while a run uses them."""
    from snowmesh.local import lock, servers

    holder = lock.holder(servers.state_dir(project.resolve()))
    if holder is not None and holder.alive and not force:
        raise lock.LockHeld(f"not stopping the local account: {holder.describe()} holds the run lock and uses it",
                            hint="wait for it to finish, or mesh down --force (that command then fails)")
    stopped = servers.stop(project.resolve())
    console.print("local account stopped" if stopped else "local account was not running")


@app.command()
def plan(project: ProjectOpt = Path("."), local: Annotated[bool, typer.Option(help="Render the local-account variant.")] = False,
         fmt: FormatOpt = "text") -> None:
    """Print the SQL a deploy would run (nothing is executed)."""
    from snowmesh.cli.run_cmd import statement_dict
    from snowmesh.deploy.plan import build_plan

    mesh = _load(project)
    p = build_plan(mesh, local=local)
    result = {"local": local, "statements": [statement_dict(s, local=local) for s in p.all]}
    ui.emit(result, fmt, _print_plan)


def _print_plan(result: dict) -> None:
    for stmt in result["statements"]:
        where = "" if not result["local"] or stmt["executed"] else "  -- recorded, not executed on the local account"
        print(f"{stmt['sql']};{where}")


def _register_commands() -> None:
    """Each ``snowmesh/cli/<noun>_cmd.py`` module adds its commands with ``register(app)``."""
    import importlib
    import pkgutil

    import snowmesh.cli as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.endswith("_cmd"):
            importlib.import_module(f"snowmesh.cli.{info.name}").register(app)


_register_commands()


def main() -> None:  # pragma: no cover - console script wrapper
    entry()


def _take_debug(argv: list[str]) -> list[str]:
    """Remove ``--debug`` from anywhere before a ``--`` separator and remember it: Click would only
    accept it before the command, but users add it to the end of a failed command line."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" in argv[:end]:
        _state["debug"] = True
    return [a for a in argv[:end] if a != "--debug"] + argv[end:]


def _usage_hint(exc: click.UsageError) -> str:
    path = exc.ctx.command_path if exc.ctx is not None else "mesh"
    return f"try `{path} --help`"


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI and map expected failures to exit codes, with no traceback."""
    _state["debug"] = False
    args = _take_debug(list(sys.argv[1:] if argv is None else argv))
    ui.begin_command(args)  # under --format json an error is a JSON document too
    try:
        # standalone_mode=False: click returns typer.Exit's code instead of exiting.
        rc = app(args=args, prog_name="mesh", standalone_mode=False)
    except MeshError as exc:
        if _state["debug"]:
            traceback.print_exc()  # then the same message and exit code as without --debug
        report_error(exc)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        report_error(InputError(exc.format_message(), hint=_usage_hint(exc)))
        return 2
    except click.exceptions.Abort:
        return 130
    return rc if isinstance(rc, int) else 0


def entry() -> None:
    sys.exit(run_app(sys.argv[1:]))
