"""mesh audit log lists every kind; the audit tables are append-only across runs."""

from __future__ import annotations

from collections import Counter

from snowmesh.auditlog import KINDS, recent

TABLES = ("DEPLOYS", "DEPLOY_STATEMENTS", "TASK_RUNS", "VALIDATION_RESULTS")


def snapshot(t) -> dict[str, Counter]:
    return {n: Counter(t.sql(f'SELECT * FROM "GOVERNANCE_DB"."AUDIT"."{n}"')) for n in TABLES}


def test_log_lists_entries_of_each_kind_newest_first(mesh_run) -> None:
    t = mesh_run.target
    for kind in KINDS:
        entries = recent(t.sql, 5, (kind,))
        assert entries and {e.kind for e in entries} == {kind}
    entries = recent(t.sql, 500)
    assert {e.kind for e in entries} == set(KINDS)
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    tasks = [e for e in entries if e.kind == "task" and e.ref == mesh_run.report.run_id]
    assert {e.subject for e in tasks} == {r.task for r in mesh_run.report.tasks}
    grants = [e for e in entries if e.kind == "grant"]
    assert all(e.detail.startswith("GRANT") for e in grants)
    assert len(recent(t.sql, 3)) == 3


def test_audit_tables_are_append_only_across_runs(mesh_run) -> None:
    from snowmesh.console import SilentReporter
    from snowmesh.pipeline.runner import RunReport, deploy, walk_mesh

    t, mesh = mesh_run.target, mesh_run.mesh
    before = snapshot(t)
    again = RunReport(run_id="auditlog0002")
    deploy(t, mesh, SilentReporter())  # a re-deploy and a re-walk converge: products keep their data
    walk_mesh(t, mesh, SilentReporter(), again)
    after = snapshot(t)
    for name in TABLES:
        assert not before[name] - after[name], f"{name}: a first-run row changed or vanished"
        assert sum(after[name].values()) > sum(before[name].values()), f"{name}: nothing appended"
    runs = {e.ref for e in recent(t.sql, 500, ("task",))}
    assert {mesh_run.report.run_id, "auditlog0002"} <= runs
