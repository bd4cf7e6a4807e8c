"""Who triggers a consumer domain's task graph: its producers' publications, not a clock.

Every task of a Snowflake task graph lives in one database and schema with one owner, so a
graph cannot wait for another domain's task. Instead each PUBLISH appends a row to its
domain's ``PRODUCTS.PUBLICATIONS_LOG`` (governance.publish), read through the secure view
``PRODUCTS.PUBLICATIONS`` (change tracking on). A consumer domain keeps one stream per
producer on that view, in its own STAGING, and its graph's root is a triggered task: no
schedule, ``WHEN SYSTEM$STREAM_HAS_DATA(...) OR ...``, whose body consumes the streams into
``STAGING.PUBLICATIONS_SEEN`` (a DML statement advances a stream's offset). So the consumer
runs after each publish of any product it reads, however long the producer took
(https://docs.snowflake.com/en/user-guide/tasks-triggered,
https://docs.snowflake.com/en/user-guide/streams-intro). A domain that reads no other domain
keeps its cron. The local walker follows the same rule (snowmesh.pipeline.runner).

Pure: the mesh in, names and SQL out.
"""

from __future__ import annotations

from governance.publish import PUBLICATIONS_COLUMNS, PUBLICATIONS_VIEW
from governance.sql import fqn, ident, literal
from snowmesh.deploy.statements import Statement
from snowmesh.manifest.model import PRODUCTS, STAGING, Domain, Mesh

SEEN_TABLE = "PUBLICATIONS_SEEN"
SEEN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("PRODUCER", "VARCHAR NOT NULL"),
    *PUBLICATIONS_COLUMNS,
    ("SEEN_AT", "TIMESTAMP_NTZ NOT NULL"),
)


def producers(mesh: Mesh, d: Domain) -> list[Domain]:
    """The domains whose publications trigger ``d``'s graph (Mesh.domain_edges), in manifest order."""
    upstream = mesh.domain_edges()[d.name]
    return [p for p in mesh.domains if p.name in upstream]


def stream_name(producer: Domain) -> str:
    return f"{producer.name}_PUBLICATIONS"


def stream(d: Domain, producer: Domain) -> tuple[str, str, str]:
    return (d.database, STAGING, stream_name(producer))


def publications_view(producer: Domain) -> tuple[str, str, str]:
    return (producer.database, PRODUCTS, PUBLICATIONS_VIEW)


def condition(mesh: Mesh, d: Domain) -> str | None:
    """The triggered root's WHEN, or None for a domain that reads no other domain (it keeps its cron)."""
    names = [".".join(stream(d, p)) for p in producers(mesh, d)]
    return " OR ".join(f"SYSTEM$STREAM_HAS_DATA({literal(n)})" for n in names) or None


def root_definition(mesh: Mesh, d: Domain) -> str:
    """The triggered root's body: consume every producer's stream into PUBLICATIONS_SEEN."""
    cols = ", ".join(ident(c) for c, _ in SEEN_COLUMNS)
    picked = ", ".join(ident(c) for c, _ in PUBLICATIONS_COLUMNS)
    selects = [f"SELECT {literal(p.name)}, {picked}, SYSDATE() FROM {fqn(*stream(d, p))} "
               "WHERE METADATA$ACTION = 'INSERT'" for p in producers(mesh, d)]
    return f"INSERT INTO {fqn(d.database, STAGING, SEEN_TABLE)} ({cols}) " + " UNION ALL ".join(selects)


def plan_statements(mesh: Mesh, d: Domain) -> list[Statement]:
    """What the deploy creates so ``d``'s graph runs after its producers publish, each with its sender:
    SELECT on every producer's PUBLICATIONS view for ``d``'s consumer role (the grants role: managed
    access), the table ``d``'s triggered root consumes the streams into, and one stream per producer
    (``d``'s engineer: CREATE STREAM on its STAGING, SELECT on the view through that role)."""
    from dataclasses import replace

    from governance.publish import consumer_role
    from snowmesh.deploy import render as r
    from snowmesh.deploy.plan import GRANTS_ROLE

    ups = producers(mesh, d)
    if not ups:
        return []
    out = [replace(r.grant_on(["SELECT"], "VIEW", list(publications_view(p)), consumer_role(d.name),
                              database_role_of=p.database), domain=p.name, sender=GRANTS_ROLE) for p in ups]
    own = {"domain": d.name, "sender": d.engineer_role}
    seen = r.table(d.database, STAGING, SEEN_TABLE, [f"{ident(c)} {t}" for c, t in SEEN_COLUMNS],
                   comment="Publications of the producers that this domain graph ran after (its triggered root appends)")
    out.append(replace(seen, **own))
    out += [replace(r.stream_on_view(*stream(d, p), publications_view(p),
                                     comment=f"Publications of {p.name}: triggers the {d.name} pipeline"), **own)
            for p in ups]
    return out


def not_triggered(mesh: Mesh, d: Domain, published: set[str]) -> str | None:
    """Why ``d``'s graph does not run after this round of its producers (``published``: DOMAIN.PRODUCT
    keys published in it), or None when it runs: a domain with no producers runs on its own schedule;
    a consumer runs when any producer published, as its stream-triggered root does on a real account."""
    ups = producers(mesh, d)
    if not ups or any(k.split(".", 1)[0] in {u.name for u in ups} for k in published):
        return None
    return f"not triggered: no product of {', '.join(u.name for u in ups)} was published in this run"


__all__ = [
    "SEEN_COLUMNS",
    "SEEN_TABLE",
    "condition",
    "not_triggered",
    "producers",
    "publications_view",
    "root_definition",
    "stream",
    "stream_name",
]
