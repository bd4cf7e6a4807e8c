"""One publish path (issue 12, defect 4): what the scheduled PUBLISH_PRODUCT sends and what the local
walker sends or records come from the same code (procedures/governance/publish.py).

Done: the view's column tags. CREATE OR REPLACE VIEW drops them, and only the client-side path
used to set them again, so the scheduled publish left protected columns unmasked. Still open (the
strict xfail): older versions' views and the consumers' grants are added by the walker alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sql_grammar import check

from governance.publish import RegistryEntry, publish_statements, view_tags
from snowmesh import policies
from snowmesh.deploy import plan as plan_mod
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
MESH = load_mesh(ROOT)


def _entry(p) -> RegistryEntry:
    """The registry row the procedure reads (snowmesh.catalog writes it from the same manifest)."""
    d = MESH.domain(p.domain)
    return RegistryEntry(p.domain, p.name, f"{p.major}.0.0", f"{d.database}.PRODUCTS.{p.view}",
                         (MESH.root / p.contract).read_text())


@pytest.mark.parametrize("key", [p.key for p in MESH.products])
def test_the_scheduled_publish_tags_the_view_as_the_walker_does(key) -> None:
    p = MESH.product(key)
    scheduled = publish_statements(_entry(p))
    tags = scheduled[2:]
    walker = [s.sql for s in policies.view_tag_statements(MESH, p.domain, p.view,
                                                          json.loads((MESH.root / p.contract).read_text()))]
    assert tags == walker == view_tags(_entry(p))  # the same statements, from the same function
    protected = [c for c, _, _ in policies.protected_columns(json.loads((MESH.root / p.contract).read_text()))]
    assert len(tags) == len(protected)
    assert scheduled[1].startswith("CREATE OR REPLACE SECURE VIEW") and all(t.startswith("ALTER VIEW") for t in tags)
    for sql in scheduled:
        check(sql)  # each fits its documented grammar
    # Locally the view is created without tags (fakesnow cannot hold them); the walker records them.
    assert not [s for s in publish_statements(_entry(p), local=True) if "SET TAG" in s]
    assert set(walker) <= {s.sql for s in plan_mod.publish_statements(MESH, p, local=True)}


def test_a_campaign_performance_publish_keeps_spend_masked_for_consumers() -> None:
    tags = view_tags(_entry(MESH.product("MARKETING.CAMPAIGN_PERFORMANCE")))
    assert [t.split(" MODIFY COLUMN ")[1].split(" ")[0] for t in tags] == ['"SPEND_USD"', '"CLICK_COST_USD"',
                                                                          '"CPC_USD"']
    assert all("\"GOVERNANCE_DB\".\"CATALOG\".\"CLASSIFICATION\" = 'confidential'" in t for t in tags)


@pytest.mark.xfail(strict=True, reason="defect 4 open: older versions' views (within their deprecation window) and "
                   "the consumers' SELECT grants are rendered by snowmesh.deploy.plan.publish_statements for the "
                   "walker only; the registry does not carry the older contracts, so PUBLISH_PRODUCT cannot")
def test_local_and_scheduled_publish_send_the_same_statements() -> None:
    for p in MESH.products:
        walker = {s.sql for s in plan_mod.publish_statements(MESH, p)}
        assert walker <= set(publish_statements(_entry(p)))
        grants = {g.sql for g in plan_mod.build_plan(MESH, local=False).publish_grants if g.object_name.endswith(p.view)}
        assert grants <= set(publish_statements(_entry(p)))
