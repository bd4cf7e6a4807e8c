"""What each task of the graph does when the local walker (or a CLI command) runs it.

Each step is the same code the deployed procedure runs: product handlers from
procedures/<domain>/, the contract engine from procedures/governance/.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field

from governance.sql import fqn
from snowmesh.console import Reporter
from snowmesh.deploy.apply import apply
from snowmesh.deploy.plan import build_plan, publish_view
from snowmesh.ingest import SourceLoad, ingest_domain
from snowmesh.manifest.model import PRODUCTS, STAGING, Mesh, Product
from snowmesh.target import Target


@dataclass
class ProductOutcome:
    product: str
    built: bool = False
    staged_rows: int | None = None
    validation_passed: bool | None = None
    failed_checks: list[str] = field(default_factory=list)
    published: bool = False
    published_rows: int | None = None
    message: str = ""


def handler(p: Product):
    """Import ``marketing.campaign_performance.build`` style handlers from procedures/."""
    module_name, func = p.handler.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), func)


def staging_table(mesh: Mesh, p: Product) -> str:
    return f"{mesh.domain(p.domain).database}.{STAGING}.{p.name}"


def product_table(mesh: Mesh, p: Product) -> str:
    return f"{mesh.domain(p.domain).database}.{PRODUCTS}.{p.name}"


def count_rows(target: Target, table: str) -> int:
    return int(target.sql(f"SELECT COUNT(*) FROM {fqn(*table.split('.'))}")[0][0])


def run_ingest(target: Target, mesh: Mesh, domain: str, reporter: Reporter) -> list[SourceLoad]:
    return ingest_domain(target, mesh.domain(domain), reporter)


def run_build(target: Target, mesh: Mesh, p: Product, outcome: ProductOutcome) -> None:
    message = handler(p)(target.session)
    outcome.built = True
    outcome.staged_rows = count_rows(target, staging_table(mesh, p))
    outcome.message = str(message)


def run_validate(target: Target, mesh: Mesh, p: Product, run_id: str, outcome: ProductOutcome) -> None:
    from governance.validate import validate_table, write_audit

    contract = json.loads((mesh.root / p.contract).read_text())
    report = validate_table(target.session, contract, staging_table(mesh, p), run_id=run_id)
    write_audit(target.session, report)
    outcome.validation_passed = report.passed
    outcome.failed_checks = [
        f"{r.check}{'(' + r.column + ')' if r.column else ''}: observed {r.observed}, expected {r.expected}"
        for r in report.results
        if not r.passed and r.severity == "error"
    ]


def run_publish(target: Target, mesh: Mesh, p: Product, reporter: Reporter, outcome: ProductOutcome) -> None:
    """Promote STAGING -> PRODUCTS (a zero-copy clone on Snowflake) and (re)create the view.

    Fail closed: without a passing validation nothing changes, and the previously
    published table and view keep serving consumers.
    """
    if not outcome.validation_passed:
        outcome.message = "not published: contract validation failed; the previous version keeps serving"
        return
    staged, published = fqn(*staging_table(mesh, p).split(".")), fqn(*product_table(mesh, p).split("."))
    view = publish_view(mesh, p, local=target.is_local)
    if target.is_local:
        # fakesnow rejects CREATE OR REPLACE ... CLONE over an existing table; DuckDB has
        # transactional DDL, so drop + clone in one transaction is just as atomic. The view
        # comes after: a DuckDB transaction may write only one database, and fakesnow keeps
        # view comments in another; views bind by name, so it serves throughout.
        target.sql("BEGIN")
        try:
            target.sql(f"DROP TABLE IF EXISTS {published}")
            target.sql(f"CREATE TABLE {published} CLONE {staged}")
            target.sql("COMMIT")
        except Exception:
            target.sql("ROLLBACK")
            raise
        target.sql(view.sql)
    else:
        # An atomic replace and a zero-copy clone on Snowflake; COPY GRANTS keeps consumers' SELECT.
        target.sql(f"CREATE OR REPLACE TABLE {published} CLONE {staged} COPY GRANTS")
        target.sql(view.sql)
    plan = build_plan(mesh, local=target.is_local)
    grants = [g for g in plan.publish_grants if g.object_name.endswith(f".{p.view}")]
    apply(target, grants, reporter, description=f"grant {p.view}")
    outcome.published = True
    outcome.published_rows = count_rows(target, product_table(mesh, p))
