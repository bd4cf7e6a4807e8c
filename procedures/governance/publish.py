"""PUBLISH(product): promote a validated STAGING table to PRODUCTS and serve it, as the domain.

``CALL "MARKETING_DB"."PRODUCTS"."PUBLISH"('MARKETING.AD_CLICKS')`` is the PUBLISH_<P> task of the
domain's graph. Each domain database has its own PUBLISH, owned by the domain's engineer role
(snowmesh.deploy.plan.procedure_owners), so its owner's rights are exactly the domain's: it can
write its own PRODUCTS schema and no other domain's. The local walker
(snowmesh.pipeline.steps.run_publish) calls the same :func:`publish_product` and adds nothing.

What one publish does, all from the account (never from files):

1. the promote: PRODUCTS.<P> becomes a zero-copy clone of the validated STAGING.<P>;
2. the current view <P>_V<N> and every older major still inside its deprecation window
   (registry column SERVED_VERSIONS), each with its contract's explicit column list;
3. each view's column tags: CREATE OR REPLACE VIEW drops them, and the tags carry the masking;
4. the consumers' SELECT on each served view (registry column CONSUMERS): idempotent, so a first
   publish and the hundredth send the same statements;
5. one row in PRODUCTS.PUBLICATIONS_LOG: what consumers' streams see, so their graphs run after
   this publish instead of on a clock (docs/security.md, "Who triggers a consumer").

Inputs: the registry GOVERNANCE_DB.CATALOG.DATA_PRODUCTS and the audit
GOVERNANCE_DB.AUDIT.VALIDATION_RESULTS. Fail closed: unless the product's latest validation passed
every error-severity check, it raises with one sentence and changes nothing.

Handler for snowflake.yml: ``governance.publish.publish`` -- signature (PRODUCT VARCHAR), returns
VARCHAR. Stdlib + Snowpark only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from governance.product_health import AUDIT_TABLE, REGISTRY_TABLE
from governance.sql import check_ident, fqn, ident, literal, split_fqn

STAGING, PRODUCTS = "STAGING", "PRODUCTS"

# Column tags of a published view (snowmesh.policies creates the tags and their masking policies).
CLASSIFICATION_TAG = ("GOVERNANCE_DB", "CATALOG", "CLASSIFICATION")
DOMAIN_TAG = ("GOVERNANCE_DB", "CATALOG", "DATA_DOMAIN")
UNMASK_TAG = ("GOVERNANCE_DB", "CATALOG", "UNMASK_FOR")  # ',<DOMAIN>,...,': consumers' pipelines allowed
UNMASK_PREFIX = "unmask-for:"  # a contract column tag naming one allowed consumer domain
# Contract classes that are masked. "restricted" is where PII belongs (docs/contracts.md: public <
# internal < confidential < restricted); "pii" is accepted too should contracts ever spell it so.
PROTECTED = ("confidential", "restricted", "pii")

# The registry columns PUBLISH reads beyond product_health.REGISTRY_COLUMNS (snowmesh.catalog adds
# them after the health columns, so the table's physical column order never changes under it).
PUBLISH_COLUMNS: tuple[tuple[str, str], ...] = (("SERVED_VERSIONS", "VARCHAR"),)

# One row per publish, in the producer's PRODUCTS schema. Consumers never read it directly: they
# read the secure view PUBLICATIONS (change tracking on), on which each consumer domain keeps a
# stream that triggers its task graph (snowmesh.pipeline.dag). Product names may not take these
# names (snowmesh.manifest.checks).
PUBLICATIONS_LOG, PUBLICATIONS_VIEW = "PUBLICATIONS_LOG", "PUBLICATIONS"
PUBLICATIONS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("PRODUCT", "VARCHAR NOT NULL"),
    ("VERSION", "VARCHAR NOT NULL"),
    ("VIEW_NAME", "VARCHAR NOT NULL"),
    ("VALIDATION_RUN", "VARCHAR NOT NULL"),
    ("PUBLISHED_AT", "TIMESTAMP_NTZ NOT NULL"),
)


def consumer_role(consumer: str) -> str:
    """The database role, in the producer's database, through which a consumer domain reads."""
    return f"CONSUMER_{check_ident(consumer)}"


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
class Served:
    """An older major still served from the current table while ``today <= until``."""

    major: int
    view: str  # <P>_V<N>, in the product's PRODUCTS schema
    until: str  # ISO date: the old contract's x-product.deprecation_date
    contract: str  # the old contract's JSON: its properties are the view's columns

    @property
    def columns(self) -> list[str]:
        return list(json.loads(self.contract)["properties"])

    def to_json(self) -> dict[str, Any]:
        return {"major": self.major, "view": self.view, "until": self.until, "contract": self.contract}


def served_from_json(text: str | None) -> tuple[Served, ...]:
    """The registry's SERVED_VERSIONS (a JSON list, '' or NULL for none); bad text fails loudly."""
    if not text:
        return ()
    out = []
    for item in json.loads(text):
        date.fromisoformat(str(item["until"]))
        out.append(Served(int(item["major"]), check_ident(str(item["view"])), str(item["until"]), str(item["contract"])))
    return tuple(out)


@dataclass(frozen=True)
class RegistryEntry:
    domain: str
    product: str
    version: str
    view_name: str  # DB.PRODUCTS.<PRODUCT>_V<MAJOR>
    contract: str  # the contract JSON
    consumers: tuple[str, ...] = ()  # consumer domains: SELECT on every served view
    served: tuple[Served, ...] = field(default=())

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

    def served_on(self, today: date) -> list[Served]:
        return [s for s in self.served if today <= date.fromisoformat(s.until)]


def split_key(product_key: str) -> tuple[str, str]:
    parts = str(product_key).strip().split(".")
    if len(parts) != 2:
        raise ValueError(f"{product_key!r}: expected DOMAIN.PRODUCT, e.g. 'MARKETING.AD_CLICKS'")
    return check_ident(parts[0]), check_ident(parts[1])


def registry_entry(session: Any, product_key: str, registry: str = REGISTRY_TABLE) -> RegistryEntry:
    domain, product = split_key(product_key)
    rows = session.sql(
        f'SELECT "VERSION", "VIEW_NAME", "CONTRACT", "CONSUMERS", "SERVED_VERSIONS" FROM {fqn(*split_fqn(registry))} '
        f'WHERE "DOMAIN" = {literal(domain)} AND "PRODUCT" = {literal(product)}'
    ).collect()
    if len(rows) != 1:
        raise ValueError(f"{domain}.{product} is not in {registry} ({len(rows)} rows): deploy the mesh first")
    version, view_name, contract, consumers, served = rows[0]
    names = tuple(check_ident(c) for c in str(consumers or "").split(",") if c)
    return RegistryEntry(domain, product, str(version), str(view_name), str(contract), names,
                         served_from_json(served))


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


def promote_statements(entry: RegistryEntry, *, local: bool = False) -> list[str]:
    """PRODUCTS.<P> becomes a zero-copy clone of the validated STAGING.<P>, atomically."""
    staged = fqn(*split_fqn(entry.staging_table))
    published = fqn(*split_fqn(entry.product_table))
    if local:
        # fakesnow rejects CREATE OR REPLACE ... CLONE over an existing table; DuckDB has
        # transactional DDL, so drop + clone in one transaction is just as atomic. The views come
        # after: a DuckDB transaction may write only one database, and fakesnow keeps view
        # comments in another; views bind by name, so they serve throughout.
        return ["BEGIN", f"DROP TABLE IF EXISTS {published}", f"CREATE TABLE {published} CLONE {staged}", "COMMIT"]
    # An atomic replace and a zero-copy clone on Snowflake; COPY GRANTS keeps the table's grants.
    return [f"CREATE OR REPLACE TABLE {published} CLONE {staged} COPY GRANTS"]


def view_sql(entry: RegistryEntry, view: str, columns: list[str], comment: str, *, local: bool = False) -> str:
    """A served view over the product table. COPY GRANTS keeps consumers' SELECT across the replace
    (fakesnow cannot parse it and enforces no grant); the documented clause order puts COPY GRANTS
    before COMMENT (https://docs.snowflake.com/en/sql-reference/sql/create-view#syntax)."""
    cols = ", ".join(ident(c) for c in columns)
    name = fqn(entry.database, PRODUCTS, check_ident(view))
    grants = "" if local else " COPY GRANTS"
    return (f"CREATE OR REPLACE SECURE VIEW {name}{grants} COMMENT = {literal(comment)} "
            f"AS SELECT {cols} FROM {fqn(*split_fqn(entry.product_table))}")


def served_views(entry: RegistryEntry, today: date) -> list[tuple[str, list[str], dict[str, Any], str]]:
    """(view, columns, contract, comment) of every view one publish serves: the current major first."""
    major = entry.version.split(".")[0]
    current = split_fqn(entry.view_name)[2]
    out = [(current, entry.columns, json.loads(entry.contract),
            f"{entry.key} v{major}: published by PUBLISH after a passing validation")]
    for s in entry.served_on(today):
        out.append((s.view, s.columns, json.loads(s.contract),
                    f"{entry.key} v{s.major} (deprecated until {s.until}): served from the v{major} table"))
    return out


def grant_statements(entry: RegistryEntry, today: date) -> list[str]:
    """SELECT on every served view to each consumer's database role (GRANT is idempotent)."""
    return [f"GRANT SELECT ON VIEW {fqn(entry.database, PRODUCTS, view)} "
            f"TO DATABASE ROLE {fqn(entry.database, consumer_role(c))}"
            for view, _, _, _ in served_views(entry, today) for c in entry.consumers]


def view_tags(entry: RegistryEntry, today: date | None = None) -> list[str]:
    """The column tags of every view the entry serves."""
    return [sql for view, _, doc, _ in served_views(entry, today or date.today())
            for _, sql in tag_statements((entry.database, PRODUCTS, view), entry.domain, doc)]


def event_sql(entry: RegistryEntry, run_id: str) -> str:
    """The publication consumers' streams see (PUBLICATIONS_LOG, append-only)."""
    cols = ", ".join(ident(c) for c, _ in PUBLICATIONS_COLUMNS)
    values = ", ".join(literal(v) for v in (entry.product, entry.version, entry.view_name, run_id))
    return f"INSERT INTO {fqn(entry.database, PRODUCTS, PUBLICATIONS_LOG)} ({cols}) VALUES ({values}, SYSDATE())"


def publish_statements(entry: RegistryEntry, *, local: bool = False, today: date | None = None,
                       run_id: str = "") -> list[str]:
    """Everything one publish sends, in order: promote, each served view and its tags, the consumers'
    grants, the publication. ``local``: the local account's variant of the promote and the views."""
    today = today or date.today()
    out = promote_statements(entry, local=local)
    for view, columns, doc, comment in served_views(entry, today):
        out.append(view_sql(entry, view, columns, comment, local=local))
        out += [sql for _, sql in tag_statements((entry.database, PRODUCTS, view), entry.domain, doc)]
    out += grant_statements(entry, today)
    out.append(event_sql(entry, run_id))
    return out


def runs_locally(sql: str) -> bool:
    """What the local account can execute of a publish; the rest (tags, grants) is recorded by the walker,
    because fakesnow enforces neither (shared/EMULATION.md)."""
    return not (sql.startswith("GRANT ") or (sql.startswith("ALTER VIEW ") and " SET TAG " in sql))


@dataclass(frozen=True)
class Published:
    sentence: str
    sent: tuple[str, ...]  # executed, in order
    deferred: tuple[str, ...] = ()  # local account only: rendered, not executable there

    def __str__(self) -> str:
        return self.sentence


def publish_product(session: Any, product_key: str, *, local: bool = False, today: date | None = None) -> Published:
    """Publish if the latest validation passed. The same statements on both targets but for the
    local variant of the promote and the views; locally, tags and grants come back as ``deferred``."""
    entry = registry_entry(session, product_key)
    run_id = check_latest_validation(session, entry)
    statements = publish_statements(entry, local=local, today=today, run_id=run_id)
    sent, deferred = [], []
    in_tx = False
    try:
        for stmt in statements:
            if local and not runs_locally(stmt):
                deferred.append(stmt)
                continue
            session.sql(stmt).collect()
            sent.append(stmt)
            in_tx = (in_tx or stmt == "BEGIN") and stmt != "COMMIT"
    except Exception:
        if in_tx:
            session.sql("ROLLBACK").collect()
        raise
    views = len(served_views(entry, today or date.today()))
    sentence = (f"{entry.key}: published {entry.view_name}" + (f" and {views - 1} older version(s)" if views > 1 else "")
                + f" (validation run {run_id})")
    return Published(sentence, tuple(sent), tuple(deferred))


def publish(session: Any, product: str) -> str:
    """Stored-procedure handler of <DB>.PRODUCTS.PUBLISH(PRODUCT): always the real account's statements."""
    return publish_product(session, product, local=False).sentence
