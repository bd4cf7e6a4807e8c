"""Consumers run when a producer publishes, not on a clock (issue 12, defect 16).

On fixture meshes of several domains (four_domains: ALPHA reads BETA and GAMMA, both read DELTA):
each consumer's graph root is a triggered task on streams of its producers' PUBLICATIONS views,
the plan creates what that takes (the view grant, the stream, the table the root consumes the
streams into) as the right roles, the proofs cover it, and the local walker follows the same rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sql_grammar import check

from snowmesh.access import audit_plan
from snowmesh.deploy.plan import GRANTS_ROLE, build_plan
from snowmesh.deploy.statements import Kind
from snowmesh.deploy.tasks import deploy_steps, first_deploy
from snowmesh.manifest import load_mesh
from snowmesh.pipeline import triggers
from snowmesh.pipeline.dag import mesh_dags

ROOT = Path(__file__).resolve().parents[1]
FOUR = load_mesh(ROOT / "tests" / "fixtures" / "meshes" / "four_domains")
MESHES = [FOUR, load_mesh(ROOT)]


def _upstream(mesh, d) -> set[str]:
    """Who ``d`` waits for, read from the manifests independently of Mesh.domain_edges: the domains
    whose products its products read, and those listing it as a consumer."""
    out = {i.namespace for p in d.products for i in p.inputs if not i.is_raw and i.namespace != d.name}
    out |= {o.name for o in mesh.domains for p in o.products if d.name in p.consumers and o.name != d.name}
    return out


@pytest.mark.parametrize("mesh", MESHES, ids=["four_domains", "repo"])
def test_a_consumers_root_is_triggered_by_each_producers_publications(mesh) -> None:
    steps = {s.domain: s for s in deploy_steps(mesh)}
    for d, dag, _ in mesh_dags(mesh):
        ups = _upstream(mesh, d)
        step = steps[d.name]
        if not ups:  # reads nobody: its own cron, and dagv1's dummy root
            assert dag.schedule is not None and step.condition is None
            continue
        assert dag.schedule is None
        streams = [f"{d.database}.STAGING.{u}_PUBLICATIONS" for u in sorted(ups)]
        assert sorted(step.condition.split(" OR ")) == sorted(f"SYSTEM$STREAM_HAS_DATA('{s}')" for s in streams)
        body = step.root_definition  # one DML that reads every stream: that is what advances their offsets
        assert body.startswith(f'INSERT INTO "{d.database}"."STAGING"."PUBLICATIONS_SEEN"')
        for s in streams:
            assert '"' + s.replace(".", '"."') + '"' in body
        assert body.count("UNION ALL") == len(streams) - 1
        assert step.tasks[0].schedule == f"WHEN {step.condition}" and step.owner == d.engineer_role


@pytest.mark.parametrize("mesh", MESHES, ids=["four_domains", "repo"])
def test_a_first_deploy_resumes_every_triggered_root(mesh) -> None:
    for c in first_deploy(mesh):
        if c.step.condition:
            assert c.ops[-1].verb == "resume" and c.ops[-1].name == c.step.dag.name
            root = c.ops[0].task
            assert root.condition == c.step.condition and root.schedule is None


@pytest.mark.parametrize("mesh", MESHES, ids=["four_domains", "repo"])
def test_the_plan_creates_the_streams_as_the_consumer_after_the_producer_grants_the_view(mesh) -> None:
    plan = build_plan(mesh, local=False)
    sql = [s.sql for s in plan.statements]
    for d in mesh.domains:
        for u in sorted(_upstream(mesh, d)):
            p = mesh.domain(u)
            view = f'"{p.database}"."PRODUCTS"."PUBLICATIONS"'
            grant = next(s for s in plan.statements
                         if s.sql == f'GRANT SELECT ON VIEW {view} TO DATABASE ROLE "{p.database}"."CONSUMER_{d.name}"')
            stream = next(s for s in plan.statements if s.kind == Kind.STREAM and s.sql.startswith(
                f'CREATE STREAM IF NOT EXISTS "{d.database}"."STAGING"."{u}_PUBLICATIONS" ON VIEW {view}'))
            made = sql.index(next(q for q in sql if q.startswith(f"CREATE SECURE VIEW IF NOT EXISTS {view}")))
            assert made < sql.index(grant.sql) < sql.index(stream.sql)
            assert grant.sender == GRANTS_ROLE and stream.sender == d.engineer_role
            check(stream.sql)
            assert "CHANGE_TRACKING = TRUE" in sql[made]
    # Only consumers have streams; the local plan records them (fakesnow has none).
    local = build_plan(mesh, local=True)
    streams = [s for s in local.statements if s.kind == Kind.STREAM]
    assert len(streams) == sum(len(_upstream(mesh, d)) for d in mesh.domains)
    assert all(not s.locally_executable for s in streams)


def test_proof_7_catches_a_consumer_that_cannot_create_its_stream() -> None:
    """CREATE STREAM needs CREATE STREAM on the schema and SELECT on the view: without the first the
    senders proof names the statement (the rest of the plan is unchanged)."""
    plan = build_plan(FOUR, local=False)
    kept = [s if " CREATE STREAM" not in s.sql else type(s)(s.kind, s.object_name, s.sql.replace(", CREATE STREAM", ""),
                                                            s.domain, s.sender, s.terraform)
            for s in plan.all]
    messages = [v.message for v in audit_plan(FOUR, statements=kept).check("senders").violations]
    assert messages and all("CREATE STREAM" in m and "_PUBLICATIONS" in m for m in messages)
    assert audit_plan(FOUR).check("senders").ok


def test_the_walker_runs_a_consumer_only_after_a_producer_published() -> None:
    """The local walker's rule, the same as the triggered root's: any producer's publication runs it."""
    alpha, delta = FOUR.domain("ALPHA"), FOUR.domain("DELTA")
    assert triggers.not_triggered(FOUR, delta, set()) is None  # no producers: its own schedule
    why = triggers.not_triggered(FOUR, alpha, set())
    assert why is not None and "BETA" in why and "GAMMA" in why
    assert triggers.not_triggered(FOUR, alpha, {f"DELTA.{FOUR.domain('DELTA').products[0].name}"}) is not None
    gamma_product = FOUR.domain("GAMMA").products[0].key
    assert triggers.not_triggered(FOUR, alpha, {gamma_product}) is None
