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

# Column tags of a published view (snowmesh.policies creates the tags and their masking policies).
# CREATE OR REPLACE VIEW drops a view's column tags, so every publish sets them again, here: the
# scheduled PUBLISH_PRODUCT and the local walker run this code (docs/security.md).
CLASSIFICATION_TAG = ("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION")
DOMAIN_TAG = ("GOVERNANCE_DB", "CATALOG", "DATA_DOMAIN")
UNMASK_TAG = ("GOVERNANCE_DB", "CATALOG", "UNMASK_FOR")  # ',<DOMAIN>,...,': consumers' pipelines allowed
UNMASK_PREFIX = "unmask-for:"  # a contract column tag naming one allowed consumer domain
# Contract classes that are masked. "restricted" is where PII belongs (docs/contracts.md: public <
# internal < confidential < restricted); "pii" is accepted too should contracts ever spell it so.
PROTECTED = ("confidential", "restricted", "pii")


def unmask_for(prop: dict[str, Any]) -> list[str]:
    """The consumer domains a contract column's tags allow to read it in clear ("unmask-for:FINANCE")."""
    return sorted(check_ident(str(t)[len(UNMASK_PREFIX):]) for t in prop.get("x-tags", ())
                  if str(t).startswith(UNMASK_PREFIX))


def column_tag_sql(view: tuple[str, ...], column: str, tags: list[tuple[tuple[str, ...], str]]) -> str:
    """ALTER VIEW v MODIFY COLUMN c SET TAG t1 = 'x', t2 = 'y' (overwrites: idempotent)."""
    sets = ", ".join(f"{fqn(*t)} = {literal(v)}" for t, v in tags)
    return f"ALTER VIEW {fqn(*view)} MODIFY COLUMN {ident(column)} SET TAG {sets}"


def tag_statements(view: tuple[str, ...], domain: str, contract: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, SQL) tagging every protected column of ``view`` with its class, owning domain and allow-list."""
    out = []
    for col, prop in contract.get("properties", {}).items():
        cls = str(prop.get("x-classification", "")).lower()
        if cls not in PROTECTED:
            continue
        tags = [(CLASSIFICATION_TAG, cls), (DOMAIN_TAG, check_ident(domain))]
        if allowed := unmask_for(prop):
            tags.append((UNMASK_TAG, f",{','.join(allowed)},"))
        out.append((col, column_tag_sql(view, col, tags)))
    return out


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
    """The promote, the view and its column tags, in order. ``local``: the local account's variant
    (fakesnow): no tags -- it cannot hold them, so the walker records the same tag statements
    (:func:`view_tags`) instead of running them."""
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
    # Tags after the view: as the view's owner, with APPLY on the tags (Terraform grants APPLY TAG).
    return [f"CREATE OR REPLACE TABLE {published} CLONE {staged} COPY GRANTS",
            # The documented clause order: COPY GRANTS before COMMENT
            # (https://docs.snowflake.com/en/sql-reference/sql/create-view#syntax).
            f"CREATE OR REPLACE SECURE VIEW {view} COPY GRANTS COMMENT = {comment} AS SELECT {cols} FROM {published}",
            *view_tags(entry)]


def view_tags(entry: RegistryEntry) -> list[str]:
    """The column tags of the entry's published view (from the registry's contract)."""
    return [sql for _, sql in tag_statements(split_fqn(entry.view_name), entry.domain, json.loads(entry.contract))]


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
