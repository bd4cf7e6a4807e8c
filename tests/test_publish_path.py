"""One publish path (issue 12, defects 3 and 4): what the scheduled PUBLISH sends and what the local
walker sends or records come from the same code (procedures/governance/publish.py), run as the
domain that owns the product.

PUBLISH_<P> calls the domain's own ``<DB>.PRODUCTS.PUBLISH``, owned by its engineer; it promotes,
serves the current view and every older major still in its window, re-tags every served view
(CREATE OR REPLACE VIEW drops tags), grants the consumers' SELECT on each, and logs the publish.
The walker calls the same function and adds nothing; the local account records what it cannot run.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from sql_grammar import check

from governance.publish import (
    PUBLICATIONS_LOG,
    RegistryEntry,
    Served,
    publish_statements,
    runs_locally,
    view_tags,
)
from snowmesh import policies
from snowmesh.catalog import registry_entry_of
from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.procedure_rights import procedure_owner, publish_grants
from snowmesh.deploy.project_file import procedure_specs
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
MESH = load_mesh(ROOT)
TODAY = date.today()


def _normal(statements: list[str]) -> list[str]:
    """The documented local variants folded away: fakesnow's drop + clone in one transaction is the
    real account's CREATE OR REPLACE ... CLONE, and it cannot parse COPY GRANTS (it enforces no grant)."""
    out = []
    for sql in statements:
        if sql in ("BEGIN", "COMMIT") or sql.startswith("DROP TABLE IF EXISTS "):
            continue
        sql = re.sub(r"^CREATE (?:OR REPLACE )?TABLE (\S+) CLONE (\S+)(?: COPY GRANTS)?$", r"PROMOTE \2 TO \1", sql)
        out.append(sql.replace(" COPY GRANTS", ""))
    return out


@pytest.mark.parametrize("key", [p.key for p in MESH.products])
def test_local_and_scheduled_publish_send_the_same_statements(key) -> None:
    p = MESH.product(key)
    entry = registry_entry_of(MESH, p, TODAY)
    scheduled = publish_statements(entry, today=TODAY, run_id="r1")
    local = publish_statements(entry, local=True, today=TODAY, run_id="r1")
    assert _normal(scheduled) == _normal(local)
    for sql in scheduled:
        check(sql)  # each fits its documented grammar
    # What the walker runs locally vs. records: tags and grants only are recorded.
    recorded = [s for s in local if not runs_locally(s)]
    assert recorded and all(s.startswith("GRANT ") or " SET TAG " in s for s in recorded)


def test_the_publish_carries_tags_consumer_grants_and_the_publication() -> None:
    for p in MESH.products:
        entry = registry_entry_of(MESH, p, TODAY)
        sent = publish_statements(entry, today=TODAY, run_id="r1")
        views = [s for s in sent if s.startswith("CREATE OR REPLACE SECURE VIEW")]
        doc = json.loads((MESH.root / p.contract).read_text())
        protected = [c for c, _, _ in policies.protected_columns(doc)]
        tags = [s for s in sent if " SET TAG " in s]
        assert len(tags) >= len(protected) and tags[:len(protected)] == view_tags(entry, TODAY)[:len(protected)]
        # Consumers from the manifest, read independently of the plan: one SELECT per served view each.
        grants = [s for s in sent if s.startswith("GRANT SELECT ON VIEW")]
        assert len(grants) == len(views) * len(p.consumers)
        for c in p.consumers:
            assert any(f'"CONSUMER_{c}"' in g and f'"{p.view}"' in g for g in grants)
        assert sent[-1].startswith(f'INSERT INTO "{MESH.domain(p.domain).database}"."PRODUCTS"."{PUBLICATIONS_LOG}"')


def test_older_versions_are_served_by_the_procedure_itself() -> None:
    """An older major within its window: PUBLISH re-creates its view, tags it and grants it, from
    the registry row alone (SERVED_VERSIONS), and stops serving it the day after its deprecation date."""
    p = next(p for p in MESH.products if p.consumers)
    d = MESH.domain(p.domain)
    current = registry_entry_of(MESH, p, TODAY)
    old = json.loads(current.contract)
    old["properties"] = dict(list(old["properties"].items())[:2])  # an older major with fewer columns
    until = date(2031, 1, 31)
    entry = RegistryEntry(**{**current.__dict__, "served": (Served(0, f"{p.name}_V0", until.isoformat(), json.dumps(old)),)})
    sent = publish_statements(entry, today=until)
    v0 = f'"{d.database}"."PRODUCTS"."{p.name}_V0"'
    assert any(s.startswith(f"CREATE OR REPLACE SECURE VIEW {v0} COPY GRANTS") and
               s.endswith(f'FROM "{d.database}"."PRODUCTS"."{p.name}"') for s in sent)
    assert {c for c in p.consumers} == {g.split('"CONSUMER_')[1].split('"')[0] for g in sent
                                         if g.startswith(f"GRANT SELECT ON VIEW {v0}")}
    assert not [s for s in publish_statements(entry, today=date(2031, 2, 1)) if v0 in s]


def test_the_plan_models_exactly_the_procedures_grants_as_the_procedures_owner() -> None:
    """The proofs see what PUBLISH grants, sent by PUBLISH's owner -- the product's domain's engineer."""
    plan = build_plan(MESH, local=False, today=TODAY)
    assert plan.publish_grants == publish_grants(MESH, TODAY)
    expected = {(s, MESH.domain(p.domain).engineer_role) for p in MESH.products
                for s in publish_statements(registry_entry_of(MESH, p, TODAY), today=TODAY) if s.startswith("GRANT ")}
    assert {(g.sql, g.sender) for g in plan.publish_grants} == expected
    publish = {s.database: s for s in procedure_specs(MESH) if s.name == "PUBLISH"}
    assert set(publish) == {d.database for d in MESH.domains}
    for d in MESH.domains:
        assert procedure_owner(publish[d.database]) == d.engineer_role
        assert publish[d.database].schema == "PRODUCTS" and publish[d.database].arg_types == ("VARCHAR",)


def test_the_walker_records_what_the_publish_rendered(mesh_run) -> None:
    """The local walker ran the procedure's code: each product's grants and tags are in the local
    account's catalog, and each publish left a row in its domain's PUBLICATIONS_LOG."""
    t, mesh = mesh_run.target, mesh_run.mesh
    recorded = {r[0] for r in t.sql('SELECT "STATEMENT" FROM "GOVERNANCE_DB"."CATALOG"."ACCOUNT_OBJECTS"')}
    for p in mesh.products:
        entry = registry_entry_of(mesh, p, TODAY)
        rendered = [s for s in publish_statements(entry, local=True, today=TODAY) if not runs_locally(s)]
        assert set(rendered) <= recorded, p.key
        db = mesh.domain(p.domain).database
        n = t.sql(f'SELECT COUNT(*) FROM "{db}"."PRODUCTS"."{PUBLICATIONS_LOG}" WHERE "PRODUCT" = %s', (p.name,))
        assert int(n[0][0]) >= 1, p.key
