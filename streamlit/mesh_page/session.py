"""Where the page's Snowpark Session comes from: one code path, two places.

In Streamlit in Snowflake the app runs inside an account that already holds a session:
``get_active_session()`` returns it. Anywhere else (``mesh page``, ``streamlit run``, tests)
there is none, and the page opens the embedded local account of the project with
``snowmesh.target.open_target`` -- only when ``mesh up`` has it running, so a page never
starts or stops servers behind the user's back.
"""

from __future__ import annotations

import atexit
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# streamlit/mesh_page/session.py -> the project root (holds domains/ and contracts/).
# SNOWMESH_PROJECT overrides it (mesh page sets it to its --project).
APP_DIR = Path(__file__).resolve().parents[1]


class PageUnavailable(Exception):
    """The page cannot reach any account; the message says what to do (one sentence + hint)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class PageSession:
    session: Any  # snowflake.snowpark.Session
    where: str  # "Snowflake" or "the local account on port N"
    project: Path | None  # the project root when local (manifests can be read from it)


def project_root() -> Path:
    return Path(os.environ.get("SNOWMESH_PROJECT") or APP_DIR.parent).resolve()


def active_session() -> Any | None:
    """The session Streamlit in Snowflake provides, or None outside Snowflake."""
    try:
        from snowflake.snowpark.context import get_active_session

        return get_active_session()
    except Exception:  # noqa: BLE001 - SnowparkSessionException: no (or several) sessions here
        return None


def open_local(root: Path) -> PageSession:
    """Open the running local account of ``root``; never start it (that is `mesh up`'s job)."""
    try:
        from snowmesh.local import servers
        from snowmesh.target import open_target
    except ImportError as exc:
        raise PageUnavailable(
            f"no Snowflake session and the snowmesh package is not importable ({exc})",
            hint="run the page from the project's venv: .venv/bin/mesh page",
        ) from None
    running = servers.running(root)
    if running is None:
        raise PageUnavailable(
            f"the local account is not running (state folder {servers.state_dir(root)})",
            hint="start it with `mesh up`, fill it with `mesh run`, then reload this page (or use `mesh page`)",
        )
    stack = ExitStack()
    try:
        target = stack.enter_context(open_target(root, None, keep_servers=True))
    except Exception as exc:  # noqa: BLE001 - LocalAccountError and connector errors: say it once
        stack.close()
        raise PageUnavailable(f"cannot open the local account: {exc}", hint="try `mesh down && mesh up`") from None
    # The Streamlit process keeps the session for its lifetime; close it (not Snowpark's exit
    # hook, which would retry a stopped server) when the process ends, or on close_local().
    _OPEN.append(stack)
    return PageSession(target.session, f"the local account on port {running.snowflake.port}", root)


_OPEN: list[ExitStack] = []


@atexit.register
def close_local() -> None:
    """Close every local-account connection the page opened (tests call it before stopping the servers)."""
    while _OPEN:
        _OPEN.pop().close()


def cache_key() -> str:
    """What a cached session depends on: the project and the local state folder."""
    return f"{project_root()}|{os.environ.get('SNOWMESH_STATE_DIR', '')}|{os.environ.get('SNOWMESH_PAGE_LOCAL', '')}"


def connect() -> PageSession:
    """Snowflake's session when there is one, else the local account."""
    session = active_session()
    if session is not None and os.environ.get("SNOWMESH_PAGE_LOCAL") != "1":
        return PageSession(session, "Snowflake", None)
    return open_local(project_root())
