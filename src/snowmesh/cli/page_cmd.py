"""``mesh page``: the Streamlit page (streamlit/streamlit_app.py) against the local account.

    mesh page                      # start the local account if needed, serve on 127.0.0.1:8501
    mesh page --port 8600 --print  # print the streamlit command instead of running it

The local account stays up afterwards (like ``mesh up``; ``mesh down`` stops it). The page
reads what ``mesh run`` wrote; on an empty account it says to run the mesh first.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from snowmesh.errors import InputError

APP_FILE = Path("streamlit") / "streamlit_app.py"
STREAMLIT_PIN = "streamlit==1.67.0"


def streamlit_command(root: Path, port: int, address: str = "127.0.0.1") -> list[str]:
    """``streamlit run`` headless, without telemetry, on one loopback port."""
    return [
        sys.executable, "-m", "streamlit", "run", str(root / APP_FILE),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.address", address, "--server.port", str(port),
    ]  # fmt: skip


def page_env(root: Path) -> dict[str, str]:
    """The page opens this project's local account (SNOWMESH_STATE_DIR passes through)."""
    return {**os.environ, "SNOWMESH_PROJECT": str(root), "SNOWMESH_PAGE_LOCAL": "1"}


def _streamlit_installed() -> bool:
    spec = importlib.util.find_spec("streamlit")
    # A bare namespace match is the project's own streamlit/ folder, not the package.
    return spec is not None and spec.origin is not None


def register(app: typer.Typer) -> None:
    @app.command("page")
    def page(
        project: Annotated[Path, typer.Option("--project", "-p", help="Project root (holds streamlit/ and domains/).")] = Path("."),
        port: Annotated[int, typer.Option(help="Loopback port to serve the page on.")] = 8501,
        print_only: Annotated[bool, typer.Option("--print", help="Print the streamlit command; start nothing.")] = False,
    ) -> None:
        """Serve the Streamlit page (catalog, ROI, lineage, cost) against the local account."""
        from snowmesh.cli.ui import console
        from snowmesh.local import servers

        root = project.resolve()
        if not (root / APP_FILE).is_file():
            raise InputError(f"no {APP_FILE} under {root}", hint="run from the project root or pass --project")
        if not 1 <= port <= 65535:
            raise InputError(f"--port must be between 1 and 65535, got {port}")
        from snowmesh.manifest import load_mesh

        load_mesh(root)  # the front door: the page draws only a mesh that passed it
        cmd = streamlit_command(root, port)
        if print_only:
            print(shlex.join(cmd))
            return
        if not _streamlit_installed():
            raise InputError("streamlit is not installed in this environment",
                             hint=f"{sys.executable} -m pip install '{STREAMLIT_PIN}'")
        srv = servers.running(root)
        if srv is None:
            srv = servers.start(root)
            console.print(f"local account started: Snowflake on {srv.snowflake.url} (`mesh down` stops it)")
        console.print(f"page on http://127.0.0.1:{port} (Ctrl-C stops it)")
        sys.stdout.flush()
        os.chdir(root)
        # streamlit replaces this process: Ctrl-C and a kill reach it directly, nothing is orphaned.
        os.execve(cmd[0], cmd, page_env(root))
