"""``--connection NAME`` resolves exactly as snow CLI does (issue 12, defect 10).

The same environment -- a SNOWFLAKE_HOME with connections.toml and a SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>
override -- is given to `snow connection list` (a subprocess: snow CLI as users run it) and to
snowmesh.connections.resolve; both must give the same parameters, the override included. And the
real-account target connects with exactly those parameters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SNOW = Path(sys.executable).with_name("snow")


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    h = tmp_path / "snowflake"
    h.mkdir()
    toml = h / "connections.toml"
    toml.write_text('[prod]\naccount = "myorg-myacct"\nuser = "DEPLOYER"\nrole = "SYSADMIN"\n'
                    'warehouse = "MARKETING_WH"\nauthenticator = "SNOWFLAKE_JWT"\n'
                    'private_key_file = "/keys/deployer.p8"\n')
    toml.chmod(0o600)
    env = {"SNOWFLAKE_HOME": str(h), "SNOWFLAKE_CONNECTIONS_PROD_ROLE": "MESH_DEPLOYER",
           "SNOWFLAKE_CONNECTIONS_PROD_WAREHOUSE": "FINANCE_WH"}
    for k in [k for k in os.environ if k.startswith("SNOWFLAKE_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _snow_parameters(env: dict[str, str], name: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_")} | env
    out = subprocess.run([str(SNOW), "connection", "list", "--format", "json"], env=clean, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    return next(c["parameters"] for c in json.loads(out) if c["connection_name"] == name)


def test_resolve_gives_what_snow_cli_gives_overrides_included(home) -> None:
    from snowmesh.connections import resolve

    ours = resolve("prod")
    assert ours == _snow_parameters(home, "prod")
    assert ours["role"] == "MESH_DEPLOYER" and ours["warehouse"] == "FINANCE_WH"  # the environment wins
    assert ours["user"] == "DEPLOYER" and ours["private_key_file"] == "/keys/deployer.p8"  # the file's rest


def test_an_unknown_connection_is_one_clear_error(home) -> None:
    from snowmesh.connections import resolve
    from snowmesh.errors import ConnectionConfigError

    with pytest.raises(ConnectionConfigError) as exc:
        resolve("staging")
    assert exc.value.exit_code == 2 and "'staging' is not configured" in exc.value.message
    assert "snow connection add -n staging" in (exc.value.hint or "")


def test_the_real_target_connects_with_snow_clis_parameters(home, monkeypatch, tmp_path) -> None:
    from snowmesh import target

    seen: dict[str, Any] = {}

    class Connection:
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs)

    class Builder:
        def configs(self, _: Any) -> Builder:
            return self

        def create(self) -> object:
            return object()

    monkeypatch.setattr(target, "MeshConnection", Connection)
    monkeypatch.setattr(target.Session, "builder", Builder())
    t = target._real(tmp_path, "prod")
    assert t.name == "prod" and not t.is_local
    assert {k: v for k, v in seen.items() if k != "network_timeout"} == _snow_parameters(home, "prod")
    assert "connection_name" not in seen  # the connector's own lookup ignores snow's overrides
