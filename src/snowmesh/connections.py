"""``--connection NAME``: the parameters snow CLI would use for NAME, by snow CLI's own code.

The mesh and ``snow`` must act as the same user and role for the same name (`mesh deploy -c
prod` and `snow snowpark deploy -c prod` ship one project). ``snowflake.connector.connect(
connection_name=...)`` reads the same files (``$SNOWFLAKE_HOME`` or ``~/.snowflake``:
``connections.toml``, ``config.toml``) but not snow CLI's environment overrides
``SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>`` (e.g. ``SNOWFLAKE_CONNECTIONS_PROD_ROLE``), so the two could
connect as different roles. Here the name is resolved by snowflake-cli's
``snowflake.cli.api.config.get_connection_dict`` -- the function ``snow`` itself calls, with the
files and the overrides merged -- and the result is passed to the connector as keyword arguments.

Side-effecting (reads files and the environment); imports snowflake-cli lazily.
"""

from __future__ import annotations

from typing import Any

from snowmesh.errors import ConnectionConfigError


def resolve(name: str) -> dict[str, Any]:
    """NAME's connection parameters, merged exactly as snow CLI merges them."""
    from snowflake.cli.api.config import get_config_manager, get_connection_dict
    from snowflake.cli.api.exceptions import MissingConfigurationError

    get_config_manager().read_config()  # $SNOWFLAKE_HOME / ~/.snowflake, as `snow` reads them
    try:
        return dict(get_connection_dict(name))
    except (MissingConfigurationError, KeyError):
        raise ConnectionConfigError(
            f"connection {name!r} failed: {name!r} is not configured in connections.toml or config.toml under "
            f"$SNOWFLAKE_HOME or ~/.snowflake, nor in SNOWFLAKE_CONNECTIONS_{name.upper()}_* variables",
            hint=f"add it with `snow connection add -n {name}` (docs/shipping.md)",
        ) from None


__all__ = ["resolve"]
