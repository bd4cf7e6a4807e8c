"""Zero copy, by content: after the session's mesh run, no table of a consumer's database holds a
producer's rows, and the consumer's database holds only the tables the plan creates and its
handlers declare as outputs.

Guards: zero-copy sharing (a consumer reads the producer's granted views in place; docs/architecture.md).
"""

from __future__ import annotations

import importlib
from typing import Any

from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.statements import Kind


def _tables(t: Any, db: str) -> dict[str, list[str]]:
    """SCHEMA.TABLE -> its columns, for every base table of ``db`` (read from the account)."""
    rows = t.sql(f'SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM "{db}".INFORMATION_SCHEMA.COLUMNS '
                 "WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA' ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION")
    views = {f"{s}.{n}" for s, n in t.sql(f'SELECT TABLE_SCHEMA, TABLE_NAME FROM "{db}".INFORMATION_SCHEMA.VIEWS')}
    out: dict[str, list[str]] = {}
    for schema, table, column in rows:
        if f"{schema}.{table}" not in views:
            out.setdefault(f"{schema}.{table}", []).append(column)
    return out


def _consumers(mesh: Any) -> list[tuple[Any, Any]]:
    """(producer domain, consumer domain) for every declared consumer."""
    return sorted({(d.name, c) for d in mesh.domains for p in d.products for c in p.consumers})


def test_no_consumer_table_holds_a_producers_rows(mesh_run) -> None:
    """Hash every row of each producer view over its columns; a consumer table carrying those
    columns must match none of them (a copy, however named, would match all)."""
    t, mesh = mesh_run.target, mesh_run.mesh
    pairs = _consumers(mesh)
    assert pairs, "the mesh declares no consumer: nothing to check"
    for producer_name, consumer_name in pairs:
        producer, consumer = mesh.domain(producer_name), mesh.domain(consumer_name)
        tables = _tables(t, consumer.database)
        for p in producer.products:
            view = f'"{producer.database}"."PRODUCTS"."{p.view}"'
            cols = [c for (c,) in t.sql(f"SELECT COLUMN_NAME FROM \"{producer.database}\".INFORMATION_SCHEMA.COLUMNS "
                                        f"WHERE TABLE_SCHEMA = 'PRODUCTS' AND TABLE_NAME = '{p.view}'")]
            n_rows = int(t.sql(f"SELECT COUNT(*) FROM {view}")[0][0])
            assert cols and n_rows > 0, p.view
            for name, have in tables.items():
                shared = [c for c in cols if c in have]
                if len(shared) < len(cols):
                    continue  # cannot hold the view's rows: it lacks some of its columns
                key = ", ".join(f'"{c}"' for c in cols)
                schema, table = name.split(".")
                hits = t.sql(f'SELECT COUNT(*) FROM "{consumer.database}"."{schema}"."{table}" '
                             f"WHERE HASH({key}) IN (SELECT HASH({key}) FROM {view})")[0][0]
                assert int(hits) == 0, f"{consumer.database}.{name} holds {hits} row(s) of {p.view}"


def test_consumer_tables_are_the_plans_and_the_declared_outputs(mesh_run) -> None:
    """Every table in a consumer's database is one the plan creates or a handler declares (OUTPUT)
    and the publish clones; an undeclared table (a copy of a producer view) fails here."""
    t, mesh = mesh_run.target, mesh_run.mesh
    plan = build_plan(mesh, local=True)
    for _, consumer_name in _consumers(mesh):
        d = mesh.domain(consumer_name)
        expected = {s.object_name.split(".", 1)[1] for s in plan.all
                    if s.kind == Kind.TABLE and s.object_name.startswith(f"{d.database}.")}
        for p in d.products:
            module, _ = p.handler.rsplit(".", 1)
            declared = importlib.import_module(module).OUTPUT  # what the handler says it writes
            assert declared == f"{d.database}.STAGING.{p.name}", (p.key, declared)
            expected |= {f"STAGING.{p.name}", f"PRODUCTS.{p.name}"}  # the build, then the promoted clone
        found = set(_tables(t, d.database))
        assert found - expected == set(), f"{d.database} holds undeclared tables: {sorted(found - expected)}"


def test_the_consumers_handler_reads_the_producers_views_in_place(mesh_run) -> None:
    t, mesh = mesh_run.target, mesh_run.mesh
    for producer_name, consumer_name in _consumers(mesh):
        producer = mesh.domain(producer_name)
        for p in mesh.domain(consumer_name).products:
            module = importlib.import_module(p.handler.rsplit(".", 1)[0])
            sql = " ".join(module.transform(t.session).queries["queries"])
            for read in module.INPUTS:
                if read.startswith(f"{producer.database}."):
                    assert read.startswith(f"{producer.database}.PRODUCTS."), read  # a granted view, never RAW
                    assert read in sql
            assert f"{producer.database}.RAW" not in sql and f"{producer.database}.STAGING" not in sql
