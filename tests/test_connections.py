"""``--connection NAME`` resolves exactly as snow CLI does (issue 12, defect 10).

The same environment -- a SNOWFLAKE_HOME with connections.toml and a SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>
override -- is given to `snow connection list` and to snowmesh.connections.resolve, each in a fresh
process as users run them (both read the config paths when snowflake.connector is first imported,
so a process started with another SNOWFLAKE_HOME could not be re-pointed); both must give the same
parameters, the override included. And the real-account target connects with exactly those.
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


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment both processes get (passed explicitly: this process's own is untouched)."""
    h = tmp_path_factory.mktemp("snowflake")
    toml = h / "connections.toml"
    toml.write_text('[prod]\naccount = "myorg-myacct"\nuser = "DEPLOYER"\nrole = "SYSADMIN"\n'
                    'warehouse = "MARKETING_WH"\nauthenticator = "SNOWFLAKE_JWT"\n'
                    'private_key_file = "/keys/deployer.p8"\n')
    toml.chmod(0o600)
    return {"SNOWFLAKE_HOME": str(h), "SNOWFLAKE_CONNECTIONS_PROD_ROLE": "MESH_DEPLOYER",
            "SNOWFLAKE_CONNECTIONS_PROD_WAREHOUSE": "FINANCE_WH"}


@pytest.fixture(scope="module")
def snow_prod(home) -> dict[str, Any]:
    return _snow_parameters(home, "prod")


def _env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_")} | env


def _snow_parameters(env: dict[str, str], name: str) -> dict[str, Any]:
    out = subprocess.run([str(SNOW), "connection", "list", "--format", "json"], env=_env(env), capture_output=True,
                         text=True, timeout=120, check=True).stdout
    return next(c["parameters"] for c in json.loads(out) if c["connection_name"] == name)


def _mesh(env: dict[str, str], script: str) -> Any:
    """Run ``script`` (which prints JSON) in a fresh Python process with ``env``."""
    out = subprocess.run([sys.executable, "-c", script], env=_env(env), capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


RESOLVE = "import json; from snowmesh.connections import resolve; print(json.dumps(resolve({name!r})))"


def test_resolve_gives_what_snow_cli_gives_overrides_included(home, snow_prod) -> None:
    ours = _mesh(home, RESOLVE.format(name="prod"))
    assert ours == snow_prod
    assert ours["role"] == "MESH_DEPLOYER" and ours["warehouse"] == "FINANCE_WH"  # the environment wins
    assert ours["user"] == "DEPLOYER" and ours["private_key_file"] == "/keys/deployer.p8"  # the file's rest


def test_an_unknown_connection_is_one_clear_error(home) -> None:
    err = _mesh(home, "import json\nfrom snowmesh.connections import resolve\nfrom snowmesh.errors import MeshError\n"
                      "try:\n    resolve('staging')\nexcept MeshError as e:\n"
                      "    print(json.dumps([e.exit_code, e.message, e.hint]))")
    assert err[0] == 2 and "'staging' is not configured" in err[1] and "snow connection add -n staging" in err[2]


TARGET = """
import json
from pathlib import Path
from snowmesh import target
seen = {}
class Connection:
    def __init__(self, **kwargs):
        seen.update(kwargs)
class Builder:
    def configs(self, _):
        return self
    def create(self):
        return object()
target.MeshConnection = Connection
target.Session.builder = Builder()
t = target._real(Path("."), "prod")
print(json.dumps({"name": t.name, "local": t.is_local, "kwargs": seen}))
"""


def test_the_real_target_connects_with_snow_clis_parameters(home, snow_prod) -> None:
    got = _mesh(home, TARGET)
    assert got["name"] == "prod" and not got["local"]
    kwargs = got["kwargs"]
    assert {k: v for k, v in kwargs.items() if k != "network_timeout"} == snow_prod
    assert "connection_name" not in kwargs  # the connector's own lookup ignores snow's overrides
