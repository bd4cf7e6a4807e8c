"""What each task of the graph does when the local walker (or a CLI command) runs it.

Each step is the same code the deployed procedure runs: product handlers from
procedures/<domain>/, the contract engine from procedures/governance/.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from governance.sql import fqn
from snowmesh.console import Reporter
from snowmesh.deploy.statements import Statement
from snowmesh.handlers import import_handler
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


def handler(p: Product, root: Path | None = None):
    """Import ``marketing.campaign_performance.build`` style handlers from the project's procedures/
    (snowmesh.handlers: no reinstall for a new domain); without ``root``, from the import path."""
    if root is not None:
        return import_handler(root, p.handler)
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
    message = handler(p, mesh.root)(target.session)
    outcome.built = True
    outcome.staged_rows = count_rows(target, staging_table(mesh, p))
    outcome.message = str(message)


def run_validate(target: Target, mesh: Mesh, p: Product, run_id: str, outcome: ProductOutcome) -> None:
    """The one-argument VALIDATE_PRODUCT's code: contract and staged table from the registry."""
    from governance.validate import validate_registered

    report = validate_registered(target.session, p.key, run_id)
    outcome.validation_passed = report.passed
    outcome.failed_checks = [
        f"{r.check}{'(' + r.column + ')' if r.column else ''}: observed {r.observed}, expected {r.expected}"
        for r in report.results
        if not r.passed and r.severity == "error"
    ]


def run_publish(target: Target, mesh: Mesh, p: Product, reporter: Reporter, outcome: ProductOutcome) -> None:
    """The domain's PUBLISH procedure's code (governance.publish.publish_product), and nothing else.

    Fail closed twice: without a passing validation in this run nothing is attempted, and
    publish_product itself refuses unless the audit's latest validation passed; either way the
    previously published table and views keep serving consumers. On the local account the tags and
    grants it renders cannot run (fakesnow enforces neither), so they are recorded, like the deploy's.
    """
    from governance.publish import PublishRefused, publish_product

    if not outcome.validation_passed:
        outcome.message = "not published: contract validation failed; the previous version keeps serving"
        return
    try:
        done = publish_product(target.session, p.key, local=target.is_local)
    except PublishRefused as exc:
        outcome.message = str(exc)
        return
    if done.deferred:
        record_rendered(target, p, done.deferred)
    outcome.published = True
    outcome.published_rows = count_rows(target, product_table(mesh, p))


def record_rendered(target: Target, p: Product, statements: tuple[str, ...]) -> None:
    """Record a local publish's tags and grants in the local account's catalog (deploy.apply.record)."""
    from snowmesh.deploy.apply import record
    from snowmesh.deploy.procedure_rights import publish_kind

    record(target, [Statement(*publish_kind(sql), sql, p.domain) for sql in statements])
