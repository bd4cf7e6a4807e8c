"""``open_target`` for the contract commands, without the 30-second hang at interpreter exit.

Snowpark registers ``Session._close_at_exit``; it calls ``cancel_all`` unless the connector
connection reports closed. On the local account the connector's close fails half-way
(fakesnow answers the logout with "Connection is closed"), so at exit Snowpark retries the
stopped server until its network timeout. The local session has nothing left to cancel, so
we drop that hook. (The same fix belongs in snowmesh.target.Target.close.)
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from snowmesh.target import Target, open_target


@contextmanager
def target_for(
    root: Path, connection: str | None = None, *, keep_servers: bool | None = None
) -> Iterator[Target]:
    with open_target(root, connection, keep_servers=keep_servers) as target:
        try:
            yield target
        finally:
            if target.is_local:
                atexit.unregister(target.session._close_at_exit)
