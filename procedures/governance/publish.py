"""PUBLISH_PRODUCT(product): promote a validated STAGING table to PRODUCTS and re-create its view.

``CALL GOVERNANCE_DB.CATALOG.PUBLISH_PRODUCT('MARKETING.AD_CLICKS')`` is the PUBLISH_<P> task of
the domain's graph; the local walker (snowmesh.pipeline.steps.run_publish) calls the same
:func:`publish_product`. Everything it needs comes from the account, not from files:

- the registry GOVERNANCE_DB.CATALOG.DATA_PRODUCTS: the view's name (hence the database) and the
  contract JSON, whose properties are the view's explicit column list;
- the audit GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS: the product's latest validation run.

Fail closed: unless that latest run passed every error-severity check, it raises with one
sentence and changes nothing, so the previously published table and view keep serving.

Handler for snowflake.yml: ``governance.publish.publish`` -- signature (PRODUCT VARCHAR),
returns VARCHAR. Stdlib + Snowpark only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from governance.product_health import AUDIT_TABLE, REGISTRY_TABLE
from governance.sql import check_ident, fqn, ident, literal, split_fqn

STAGING, PRODUCTS = "STAGING", "PRODUCTS"


class PublishRefused(RuntimeError):
    """The product may not be published (never validated, or its latest validation failed)."""


@dataclass(frozen=True)
class RegistryEntry:
    domain: str
    product: str
    version: str
    view_name: str  # DB.PRODUCTS.<PRODUCT>_V<MAJOR>
    contract: str  # the contract JSON

    @property
    def key(self) -> str:
        return f"{self.domain}.{self.product}"

    @property
    def database(self) -> str:
        return split_fqn(self.view_name)[0]

    @property
    def staging_table(self) -> str:
        return f"{self.database}.{STAGING}.{self.product}"

    @property
    def product_table(self) -> str:
        return f"{self.database}.{PRODUCTS}.{self.product}"

    @property
    def columns(self) -> list[str]:
        """The contract's properties, in order: the published view's interface."""
        return list(json.loads(self.contract)["properties"])


def split_key(product_key: str) -> tuple[str, str]:
    parts = str(product_key).strip().split(".")
    if len(parts) != 2:
        raise ValueError(f"{product_key!r}: expected DOMAIN.PRODUCT, e.g. 'MARKETING.AD_CLICKS'")
    return check_ident(parts[0]), check_ident(parts[1])


def registry_entry(session: Any, product_key: str, registry: str = REGISTRY_TABLE) -> RegistryEntry:
    domain, product = split_key(product_key)
    rows = session.sql(
        f'SELECT "VERSION", "VIEW_NAME", "CONTRACT" FROM {fqn(*split_fqn(registry))} '
        f'WHERE "DOMAIN" = {literal(domain)} AND "PRODUCT" = {literal(product)}'
    ).collect()
    if len(rows) != 1:
        raise ValueError(f"{domain}.{product} is not in {registry} ({len(rows)} rows): deploy the mesh first")
    version, view_name, contract = (str(v) for v in rows[0])
    return RegistryEntry(domain, product, version, view_name, contract)


def latest_validation_sql(product: str, audit: str = AUDIT_TABLE) -> str:
    """The product's latest validation run: its id and how many error-severity checks failed."""
    return (
        'SELECT "RUN_ID", MAX("VALIDATED_AT") AS "AT", '
        "COUNT_IF(NOT \"PASSED\" AND \"SEVERITY\" = 'error') AS \"ERRORS\" "
        f'FROM {fqn(*split_fqn(audit))} WHERE "PRODUCT" = {literal(check_ident(product))} '
        'GROUP BY "RUN_ID" ORDER BY "AT" DESC, "RUN_ID" DESC LIMIT 1'
    )


def check_latest_validation(session: Any, entry: RegistryEntry, audit: str = AUDIT_TABLE) -> str:
    """The passing run's id; raises :class:`PublishRefused` otherwise (fail closed)."""
    keeps = "not published: the previous version keeps serving"
    try:
        rows = session.sql(latest_validation_sql(entry.product, audit)).collect()
    except Exception as exc:
        raise PublishRefused(f"{entry.key}: no validation found ({type(exc).__name__}); {keeps}") from exc
    if not rows:
        raise PublishRefused(f"{entry.key}: never validated; {keeps}")
    run_id, _, errors = rows[0]
    if int(errors):
        raise PublishRefused(
            f"{entry.key}: the latest validation (run {run_id}) failed {int(errors)} error check(s); {keeps}"
        )
    return str(run_id)


def publish_statements(entry: RegistryEntry, *, local: bool = False) -> list[str]:
    """The promote and the view, in order. ``local``: the local account's variant (fakesnow)."""
    staged = fqn(*split_fqn(entry.staging_table))
    published = fqn(*split_fqn(entry.product_table))
    cols = ", ".join(ident(c) for c in entry.columns)
    major = entry.version.split(".")[0]
    comment = literal(f"{entry.key} v{major}: published by PUBLISH_PRODUCT after a passing validation")
    view = fqn(*split_fqn(entry.view_name))
    if local:
        # fakesnow rejects CREATE OR REPLACE ... CLONE over an existing table; DuckDB has
        # transactional DDL, so drop + clone in one transaction is just as atomic. The view
        # comes after: a DuckDB transaction may write only one database, and fakesnow keeps
        # view comments in another; views bind by name, so it serves throughout. COPY GRANTS
        # does not parse there (and grants are not enforced).
        return ["BEGIN", f"DROP TABLE IF EXISTS {published}", f"CREATE TABLE {published} CLONE {staged}", "COMMIT",
                f"CREATE OR REPLACE SECURE VIEW {view} COMMENT = {comment} AS SELECT {cols} FROM {published}"]
    # An atomic replace and a zero-copy clone on Snowflake; COPY GRANTS keeps consumers' SELECT.
    return [f"CREATE OR REPLACE TABLE {published} CLONE {staged} COPY GRANTS",
            # The documented clause order: COPY GRANTS before COMMENT
            # (https://docs.snowflake.com/en/sql-reference/sql/create-view#syntax).
            f"CREATE OR REPLACE SECURE VIEW {view} COPY GRANTS COMMENT = {comment} AS SELECT {cols} FROM {published}"]


def publish_product(session: Any, product_key: str, *, local: bool = False) -> str:
    """Promote and re-create the view if the latest validation passed; a sentence saying what it did."""
    entry = registry_entry(session, product_key)
    run_id = check_latest_validation(session, entry)
    in_tx = False
    try:
        for stmt in publish_statements(entry, local=local):
            session.sql(stmt).collect()
            in_tx = (in_tx or stmt == "BEGIN") and stmt != "COMMIT"
    except Exception:
        if in_tx:
            session.sql("ROLLBACK").collect()
        raise
    return f"{entry.key}: published {entry.view_name} (validation run {run_id})"


def publish(session: Any, product: str) -> str:
    """Stored-procedure handler of PUBLISH_PRODUCT(PRODUCT): always the real account's statements."""
    return publish_product(session, product, local=False)
