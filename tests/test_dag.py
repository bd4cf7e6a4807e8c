"""The task graphs: defined once with dagv1, walked in dependency order, matching the manifests.

Guards: producers before consumers, build -> validate -> publish per product."""

from __future__ import annotations

import importlib

from snowmesh.manifest import load_mesh
from snowmesh.pipeline.dag import FINALIZE, mesh_dags, walk


def test_producers_run_before_consumers_and_steps_in_order(root) -> None:
    mesh = load_mesh(root)
    dags = mesh_dags(mesh)
    names = [d.name for d, _, _ in dags]
    assert sorted(names) == sorted(d.name for d in mesh.domains)
    for d in mesh.domains:  # every domain after the domains whose products it reads (any number of domains)
        producers = {i.namespace for p in d.products for i in p.inputs if not i.is_raw} - {d.name}
        assert all(names.index(up) < names.index(d.name) for up in producers), (d.name, names)
    for domain, dag, specs in dags:
        order = [s.name for s in walk(dag, specs)]
        assert order[0] == f"{domain.name}_INGEST"
        assert specs[order[-1]].kind == FINALIZE
        for p in domain.products:
            i = [order.index(f"{step}_{p.name}") for step in ("BUILD", "VALIDATE", "PUBLISH")]
            assert i == sorted(i), (p.name, order)


def test_dag_schedule_and_warehouse_come_from_the_manifest(root) -> None:
    """A domain that reads no other domain runs on its cron; a consumer has no schedule: its producers'
    publications trigger it (snowmesh.pipeline.triggers, tests/test_triggers.py)."""
    mesh = load_mesh(root)
    for domain, dag, _ in mesh_dags(mesh):
        reads_others = bool(mesh.domain_edges()[domain.name])
        if reads_others:
            assert dag.schedule is None
        else:
            assert dag.schedule.expr == domain.cron and dag.schedule.timezone == domain.timezone
        assert dag.warehouse == domain.warehouse.name
        assert all(t.warehouse == domain.warehouse.name for t in dag.tasks)


def test_handler_lineage_declarations_agree_with_manifests(root) -> None:
    mesh = load_mesh(root)
    for p in mesh.products:
        d = mesh.domain(p.domain)
        module = importlib.import_module(p.handler.rsplit(".", 1)[0])
        declared = set(module.INPUTS)
        expected = set()
        for ref in p.inputs:
            if ref.is_raw:
                expected.add(f"{d.database}.RAW.{ref.name}")
            else:
                up = mesh.domain(ref.namespace)
                expected.add(f"{up.database}.PRODUCTS.{up.product(ref.name).view}")
        assert declared == expected, p.key
        assert module.OUTPUT == f"{d.database}.STAGING.{p.name}"
