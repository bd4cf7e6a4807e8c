"""Run fakesnow's HTTP server with every session sharing one DuckDB instance persisted to disk.

``fakesnow -s`` ignores ``-d``, and its per-session FAKESNOW_DB_PATH gives each login its own
DuckDB instance, so a second login fails to attach the same files. Giving the server's
shared instance a db_path keeps one instance, on disk, for all sessions.

    python -m snowmesh.local.fakesnow_server --port 8123 --db-path .mesh/fakesnow
"""

from __future__ import annotations

import argparse

import fakesnow.server
import uvicorn
from fakesnow.instance import FakeSnow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-path", required=True)
    args = parser.parse_args()
    fakesnow.server.shared_fs = FakeSnow(db_path=args.db_path)
    uvicorn.run(fakesnow.server.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
