"""Render ``terraform/domains.auto.tfvars.json`` from the loaded mesh.

The manifests are the single source of truth. Terraform never re-derives a name: every
Snowflake and AWS name it creates comes from this file, and this file takes the names from
the same model properties the SQL renderer uses (``Domain.engineer_role``,
``Warehouse.monitor``, ``Product.view`` ...). The naming helpers below are the ones for the
objects Terraform creates on a real account (storage integration, IAM role, Glue database,
consumer and governance database roles); the SQL plan imports them rather than spell the
names again.

``render_tfvars`` is pure (Mesh in, dict out). ``write_tfvars`` writes the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from governance.ingest import SOURCES_TABLE  # the source registry INGEST() reads
from governance.publish import PUBLICATIONS_VIEW
from governance.sql import split_fqn
from snowmesh.federation import federation_vars
from snowmesh.manifest.model import PRODUCTS, RAW, SCHEMAS, Domain, Mesh

TFVARS_PATH = Path("terraform") / "domains.auto.tfvars.json"

GOVERNANCE_DB = "GOVERNANCE_DB"
GOVERNANCE_SCHEMAS = ("CATALOG", "AUDIT")
LANDING_STAGE = "LANDING"
READ_ROLE, WRITE_ROLE, CREATE_ROLE = "R", "W", "C"
# GOVERNANCE_DB's one database role: what INGEST() (owner's rights, the domain engineer's) needs
# of the governance database -- SELECT on the source registry, nothing in AUDIT.
SOURCES_READER_ROLE = "SOURCES_READER"


def storage_integration_name(domain: Domain) -> str:
    """One storage integration per domain, allowed only on that domain's landing bucket.

    Named after the LANDING stage it serves. Terraform creates it on a real account; the SQL
    plan renders it (same name) only for the local account, where it is recorded.
    """
    return f"{domain.name}_LANDING_INTEGRATION"


def iam_role_name(domain: Domain) -> str:
    """The AWS IAM role the domain's storage integration assumes."""
    return f"snowmesh-{domain.name.lower()}-snowflake-landing"


def glue_database_name(domain: Domain) -> str:
    """Glue catalog names are lower case (letters, digits, underscore)."""
    return f"{domain.name.lower()}_landing"


def consumer_role_name(consumer: str) -> str:
    """Database role, in the producer's database, holding a consumer domain's read access."""
    return f"CONSUMER_{consumer}"


def _domain_vars(d: Domain) -> dict[str, Any]:
    return {
        "owner": d.owner,
        "description": d.description,
        "database": d.database,
        "schemas": list(SCHEMAS),
        "raw_schema": RAW,
        "products_schema": PRODUCTS,
        "database_roles": {"read": READ_ROLE, "write": WRITE_ROLE, "create": CREATE_ROLE},
        "account_roles": {
            "engineer": d.engineer_role,
            "analyst": d.analyst_role,
            "wh_usage": d.wh_usage_role,
        },
        "warehouse": {
            "name": d.warehouse.name,
            "size": d.warehouse.size,
            "auto_suspend_seconds": d.warehouse.auto_suspend_seconds,
            "monthly_credit_quota": d.warehouse.monthly_credit_quota,
            "monitor": d.warehouse.monitor,
        },
        "landing": {
            "bucket": d.bucket,
            "prefixes": sorted({s.prefix for s in d.sources}),
            "stage": LANDING_STAGE,
            "storage_integration": storage_integration_name(d),
            "iam_role": iam_role_name(d),
            "glue_database": glue_database_name(d),
        },
        "products": {
            p.name: {"view": p.view, "major": p.major, "consumers": sorted(p.consumers)} for p in d.products
        },
    }


def consumer_grants(mesh: Mesh) -> dict[str, dict[str, Any]]:
    """One entry per (producer, consumer) pair: the published views that consumer may SELECT.

    Keyed ``<PRODUCER_DB>.CONSUMER_<CONSUMER>`` -- the database role Terraform creates.
    """
    out: dict[str, dict[str, Any]] = {}
    for producer in mesh.domains:
        consumers = sorted({c for p in producer.products for c in p.consumers})
        for consumer in consumers:
            role = consumer_role_name(consumer)
            out[f"{producer.database}.{role}"] = {
                "producer": producer.name,
                "producer_database": producer.database,
                "consumer": consumer,
                "database_role": role,
                "schema": PRODUCTS,
                # PUBLICATIONS: the consumer's stream on it triggers its graph (snowmesh.pipeline.triggers).
                "views": sorted([*(p.view for p in producer.products if consumer in p.consumers), PUBLICATIONS_VIEW]),
            }
    return out


def governance_vars() -> dict[str, Any]:
    """GOVERNANCE_DB, its schemas, and the source registry its one database role may read."""
    db, schema, table = split_fqn(SOURCES_TABLE)
    if db != GOVERNANCE_DB or schema not in GOVERNANCE_SCHEMAS:
        raise ValueError(f"{SOURCES_TABLE} is not in {GOVERNANCE_DB}'s schemas")
    return {
        "database": GOVERNANCE_DB,
        "schemas": list(GOVERNANCE_SCHEMAS),
        "sources_reader": SOURCES_READER_ROLE,
        "sources_table": {"schema": schema, "name": table},
    }


def render_tfvars(mesh: Mesh) -> dict[str, Any]:
    """The Terraform variables implied by the manifests. Pure and deterministic."""
    return {
        "domains": {d.name: _domain_vars(d) for d in sorted(mesh.domains, key=lambda d: d.name)},
        "consumer_grants": consumer_grants(mesh),
        "governance": governance_vars(),
        # Products published on BigQuery / Synapse too (snowmesh.federation, docs/federation.md).
        "federation": federation_vars(mesh),
    }


def render_tfvars_json(mesh: Mesh) -> str:
    """The exact file content: sorted keys, two-space indent, trailing newline."""
    header = {"//": "GENERATED from domains/*/domain.yml by snowmesh.infra.tfvars -- do not edit by hand."}
    return json.dumps({**header, **render_tfvars(mesh)}, indent=2, sort_keys=True) + "\n"


def write_tfvars(mesh: Mesh, path: Path | str | None = None) -> Path:
    """Write the variables file (default ``<mesh root>/terraform/domains.auto.tfvars.json``)."""
    target = Path(path) if path is not None else mesh.root / TFVARS_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_tfvars_json(mesh))
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m snowmesh.infra.tfvars [--check] [ROOT]``: regenerate, or fail if stale."""
    import argparse
    import sys

    from snowmesh.errors import InputError
    from snowmesh.manifest import load_mesh

    parser = argparse.ArgumentParser(prog="python -m snowmesh.infra.tfvars", description=main.__doc__)
    parser.add_argument("root", nargs="?", default=".", help="project root (default: .)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = parser.parse_args(argv)
    try:
        mesh = load_mesh(args.root)
    except InputError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        print(f"error: {exc.message}{hint}", file=sys.stderr)
        return exc.exit_code
    target = mesh.root / TFVARS_PATH
    if args.check:
        current = target.read_text() if target.is_file() else ""
        if current != render_tfvars_json(mesh):
            print(
                f"{TFVARS_PATH} is stale: run `python -m snowmesh.infra.tfvars` and commit it",
                file=sys.stderr,
            )
            return 1
        print(f"{TFVARS_PATH} is up to date")
        return 0
    print(f"wrote {write_tfvars(mesh).relative_to(mesh.root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
