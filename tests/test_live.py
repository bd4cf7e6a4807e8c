"""Live-account certification: what the local account cannot show, checked on a real Snowflake account.

Skipped unless ``SNOWMESH_LIVE_CONNECTION`` names a snow CLI connection (~/.snowflake/connections.toml).
docs/shipping.md ("Certifying a release on your account") gives the order: terraform apply, snow
snowpark deploy, mesh deploy -c NAME, run the graphs once, then ``pytest -m live``. The connection's
user must hold the domains' roles (engineer and analyst) so the tests can switch to them.

Guards, on the account: deploy converges, CALL of an analyst procedure, the task graphs deployed and
started, masking seen as a consumer role, SHOW GRANTS with no drift from the manifests.
Each check reads the account; only test_deploy_converges changes it (a deploy the release makes anyway).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONNECTION = os.environ.get("SNOWMESH_LIVE_CONNECTION", "")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not CONNECTION, reason="live account tests: set SNOWMESH_LIVE_CONNECTION=<snow CLI connection>"),
]


@pytest.fixture(scope="module")
def mesh() -> Any:
    from snowmesh.manifest import load_mesh

    return load_mesh(ROOT)


@pytest.fixture(scope="module")
def target() -> Iterator[Any]:
    from snowmesh.target import open_target

    with open_target(ROOT, CONNECTION) as t:
        assert not t.is_local, "SNOWMESH_LIVE_CONNECTION must name a real account, not the local one"
        yield t


def _as_role(target: Any, role: str, sql: str) -> list[tuple]:
    """Run ``sql`` under ``role`` (USE ROLE is per session: docs.snowflake.com/en/sql-reference/sql/use-role),
    then return to the connection's role."""
    before = target.sql("SELECT CURRENT_ROLE()")[0][0]
    target.sql(f'USE ROLE "{role}"')
    try:
        return target.sql(sql)
    finally:
        target.sql(f'USE ROLE "{before}"')


def test_deploy_converges(mesh) -> None:
    """mesh deploy -c exits 0, and a second deploy does too (idempotent forms, compare-then-apply);
    that the graphs then compare unchanged is test_task_graphs_are_deployed_and_started."""
    from snowmesh.cli.main import run_app

    assert run_app(["deploy", "--project", str(ROOT), "-c", CONNECTION]) == 0
    assert run_app(["deploy", "--project", str(ROOT), "-c", CONNECTION]) == 0


def test_task_graphs_are_deployed_and_started(target, mesh) -> None:
    """Compare-then-apply as a dry run reads the account: nothing to create, alter or resume."""
    from snowmesh.deploy.tasks import deploy_dags, root_for

    changes = deploy_dags(root_for(target.conn), mesh, dry_run=True)
    assert changes and all(c.ops == () for c in changes), [o.call for c in changes for o in c.ops]


def test_show_grants_has_no_drift_from_the_manifests(mesh) -> None:
    """mesh audit access -c: the six proofs hold on the account's SHOW GRANTS and nothing drifts."""
    from snowmesh.access import audit_account
    from snowmesh.access.showgrants import target_query
    from snowmesh.target import open_target

    with open_target(ROOT, CONNECTION) as t:
        report = audit_account(mesh, target_query(t), CONNECTION)
    assert report.ok, report.to_dict()


def _a_value(target: Any, spec: Any, column: str) -> str:
    """A real value for a filter argument (e.g. a channel): one found in a view the procedure reads."""
    for view in spec.inputs:
        db, schema, name = view.split(".")
        has = target.sql(f'SELECT COUNT(*) FROM "{db}".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = '
                         f"'{schema}' AND TABLE_NAME = '{name}' AND COLUMN_NAME = '{column}'")[0][0]
        if not has:
            continue
        value = target.sql(f'SELECT MIN("{column}") FROM "{db}"."{schema}"."{name}"')[0][0]
        if value is not None:
            return "'" + str(value).replace("'", "''") + "'"
    raise AssertionError(f"no view read by {spec.fqn} has a value for its argument {column}")


def test_analyst_procedure_call_returns_its_table(target, mesh) -> None:
    """CALL of each analyst procedure as its caller role returns the columns snowflake.yml declares
    (RETURNS TABLE (...)); the wide October window of the generated data has rows."""
    import re

    from snowmesh.deploy.project_file import procedure_specs

    analyst = [s for s in procedure_specs(mesh) if s.callers]
    assert analyst, "the mesh declares no analyst procedure"
    for spec in analyst:
        dates = iter(("'2000-01-01'", "'2100-01-01'"))
        args = ", ".join(next(dates) if n.endswith("_DATE") else _a_value(target, spec, n) for n, _ in spec.arguments)
        declared = [c.split()[0] for c in re.fullmatch(r"TABLE \((.*)\)", spec.returns).group(1).split(", ")]
        role = mesh.domain(spec.callers[0]).analyst_role
        before = target.sql("SELECT CURRENT_ROLE()")[0][0]
        with target.conn.cursor() as cur:
            cur.execute(f'USE ROLE "{role}"')
            try:
                cur.execute(f"CALL {spec.fqn}({args})")
                got, rows = [d.name for d in cur.description], cur.fetchall()
            finally:
                cur.execute(f'USE ROLE "{before}"')
        assert got == declared, (spec.fqn, got)
        assert rows, f"{spec.fqn} returned no row: run the task graphs once before certifying"


def test_a_consumer_role_sees_confidential_columns_masked(target, mesh) -> None:
    """As a consumer's analyst, a producer view's protected columns come back masked (NULL for a
    number, '***MASKED***' for text: snowmesh.policies); as the producer's engineer, they do not."""
    import json

    from snowmesh.policies import protected_columns

    checked = 0
    for d in mesh.domains:
        for p in d.products:
            if not p.consumers:
                continue
            doc = json.loads((ROOT / p.contract).read_text())
            for column, _, sql_type in protected_columns(doc):
                view = f'"{d.database}"."PRODUCTS"."{p.view}"'
                owner = _as_role(target, d.engineer_role, f'SELECT COUNT("{column}") FROM {view}')[0][0]
                assert owner > 0, f"{view} has no data: run the task graphs once before certifying"
                for c in p.consumers:
                    seen = _as_role(target, mesh.domain(c).analyst_role,
                                    f'SELECT DISTINCT "{column}" FROM {view} LIMIT 5')
                    masked = {("***MASKED***",)} if sql_type.startswith("VARCHAR") else {(None,)}
                    assert set(seen) == masked, (view, column, c, seen)
                    checked += 1
    assert checked > 0, "no protected column is shared with a consumer: nothing was certified"


def test_a_consumer_role_cannot_read_raw_or_staging(target, mesh) -> None:
    """Consumers reach published views only (docs/security.md): RAW and STAGING raise for them."""
    for d in mesh.domains:
        for c in sorted({c for p in d.products for c in p.consumers}):
            role = mesh.domain(c).analyst_role
            for s in d.sources[:1]:
                with pytest.raises(Exception, match="(?i)does not exist or not authorized|insufficient privileges"):
                    _as_role(target, role, f'SELECT 1 FROM "{d.database}"."RAW"."{s.name}" LIMIT 1')
            for p in d.products[:1]:
                with pytest.raises(Exception, match="(?i)does not exist or not authorized|insufficient privileges"):
                    _as_role(target, role, f'SELECT 1 FROM "{d.database}"."STAGING"."{p.name}" LIMIT 1')
