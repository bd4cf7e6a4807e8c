"""The federation layer: a product's contract published as a view on BigQuery and Azure Synapse.

Pure: manifest data and contracts in, names, SQL text and problems out. Nothing here runs on
GCP or Azure; Terraform (``terraform/modules/gcp_bigquery_product``, ``azure_synapse_product``)
creates the objects from what this module renders into ``domains.auto.tfvars.json``
(docs/federation.md).

One renderer: the federated view is written once, as Snowflake SQL -- a SELECT of the
contract's columns, each CAST to the contract's Snowflake type, over the Parquet export -- and
transpiled with sqlglot to BigQuery and T-SQL. Its column list and types come from the
contract and nowhere else; :func:`view_problems` is the gate that checks it.

The export from Snowflake: ``COPY INTO @<DB>.PRODUCTS.FEDERATION_<GCS|AZURE>/<product>/v<N>/data.parquet
FROM (SELECT <contract columns> FROM <published view>) FILE_FORMAT=(TYPE=PARQUET) HEADER=TRUE ...``
(:func:`export_copy`), run by the producer's ``EXPORT_<P>_<CLOUD>`` task after each publish; the
stage (on ``<bucket>/<domain>/``), its integration and the task are snowmesh.federation_export's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from governance.contract import Contract
from governance.publish import PROTECTED
from governance.sql import fqn, ident
from snowmesh.manifest.model import PRODUCTS, Domain, FederationTarget, Product

BIGQUERY, SYNAPSE = "bigquery", "synapse"
TARGETS = (BIGQUERY, SYNAPSE)
DIALECTS = {BIGQUERY: "bigquery", SYNAPSE: "tsql"}
# The Snowflake external stage each target's export is written to (in the producer's PRODUCTS
# schema), on a GCS bucket or an ADLS Gen2 container.
EXPORT_STAGES = {BIGQUERY: "FEDERATION_GCS", SYNAPSE: "FEDERATION_AZURE"}
# The cloud storage each target reads its Parquet export from (the integration's STORAGE_PROVIDER).
CLOUDS = {BIGQUERY: "GCS", SYNAPSE: "AZURE"}
# One file per product and major version. SINGLE = TRUE with a file name, because OVERWRITE "does not
# remove any existing files that do not match the names of the files that the COPY command unloads"
# (https://docs.snowflake.com/en/sql-reference/sql/copy-into-location, copy options): a multi-file
# unload that shrinks would leave stale files under the prefix the external tables read. A single
# file is capped by MAX_FILE_SIZE at 5 GB on an external stage (same page); docs/federation.md.
EXPORT_FILE = "data.parquet"
EXPORT_MAX_FILE_SIZE = 5 * 1024**3

# GCP IAM member forms BigQuery dataset access accepts for a reader (userByEmail / groupByEmail;
# a service account is a userByEmail):
# https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets#Dataset.FIELDS.access
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
_GCP_READER = re.compile(rf"^(user|group|serviceAccount):{_EMAIL}\Z")
# Azure: a Synapse role assignment takes the principal's Entra object id (a GUID) and its type
# (User, Group, ServicePrincipal); a UPN must be resolved to its object id first
# (`az ad user show --id <upn> --query id`):
# https://learn.microsoft.com/en-us/cli/azure/synapse/role/assignment
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_AZURE_READER = re.compile(rf"^(user|group|servicePrincipal):{_GUID}\Z")
# A GCP project id: 6-30 characters, lower-case letters, digits and hyphens, starting with a letter.
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]\Z")
_READER_HELP = {
    BIGQUERY: "user:<e-mail>, group:<e-mail> or serviceAccount:<e-mail>",
    SYNAPSE: "user:<object id>, group:<object id> or servicePrincipal:<object id> (an Entra object id, a GUID)",
}
_AZURE_PRINCIPAL_TYPES = {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}
SYNAPSE_WORKSPACE_MAX = 50  # Azure: 1-50 lower-case letters, digits and hyphens


# --- declaration -------------------------------------------------------------------------


def reader_problem(target: str, reader: str) -> str | None:
    pattern = _GCP_READER if target == BIGQUERY else _AZURE_READER
    if pattern.match(reader):
        return None
    return f"{reader!r} is not a {target} reader principal (expected {_READER_HELP[target]})"


def declaration_problems(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Rules for ``products[i].federation`` the schema cannot state, as ``(where, message)``."""
    for pi, p in enumerate(data.get("products", ())):
        seen: set[str] = set()
        for fi, f in enumerate(p.get("federation", ())):
            where = f"products[{pi}].federation[{fi}]"
            if "$" in data["name"] + p["name"]:  # legal in Snowflake, not in BigQuery or Azure names
                yield where, f"{data['name']}.{p['name']} contains '$', which BigQuery and Azure names cannot hold"
            target = f["target"]
            if target in seen:
                yield f"{where}.target", f"{target!r} is declared twice for {p['name']}"
            seen.add(target)
            for ri, reader in enumerate(f["readers"]):
                problem = reader_problem(target, reader)
                if problem:
                    yield f"{where}.readers[{ri}]", problem
            if len(set(f["readers"])) != len(f["readers"]):
                yield f"{where}.readers", "a reader is listed twice"
            project = f.get("project")
            if target == BIGQUERY and project is None:
                yield where, "a bigquery target needs project: the GCP project id that holds the dataset"
            elif target == BIGQUERY and not _GCP_PROJECT.match(project):
                yield f"{where}.project", f"{project!r} is not a GCP project id (6-30 of a-z, 0-9 and -, starting with a letter)"
            elif target == SYNAPSE and project is not None:
                yield f"{where}.project", "project applies to bigquery targets only"
            if target == SYNAPSE and len(synapse_workspace(data["name"], p["name"])) > SYNAPSE_WORKSPACE_MAX:
                yield where, f"the Synapse workspace name {synapse_workspace(data['name'], p['name'])!r} is over 50 characters"


# --- names (one place: the tfvars and the SQL both take them from here) --------------------


def export_prefix(p: Product) -> str:
    """Folder of the product's Parquet export in the bucket/container (what the external tables read)."""
    return f"{domain_prefix(p.domain)}{stage_path(p)}"


def domain_prefix(domain: str) -> str:
    """A domain's folder in the export bucket/container: its stage's URL, and all its integration allows."""
    return f"{domain.lower()}/"


def stage_path(p: Product) -> str:
    """The product's folder under its domain's FEDERATION_* stage."""
    return f"{p.name.lower()}/v{p.major}/"


def export_integration(domain: str, target: str) -> str:
    """The storage integration of a domain's exports to one cloud (Terraform's, like the landing one)."""
    return f"{domain}_FEDERATION_{CLOUDS[target]}_INTEGRATION"


def bigquery_dataset(p: Product) -> str:
    """One dataset per product major version: BigQuery grants readers per dataset, so a dataset
    shared by a domain's products would let every reader of one read all (docs/federation.md)."""
    return f"{p.domain}_{p.name}_V{p.major}"


def export_table(p: Product) -> str:
    """The external table over the Parquet export, beside the view."""
    return f"{p.name}_EXPORT"


def synapse_workspace(domain: str, product: str) -> str:
    return f"snowmesh-{domain}-{product}".lower().replace("_", "-")


def synapse_database(p: Product) -> str:
    """The serverless SQL database holding the product's external table and view."""
    return f"{p.domain}_{p.name}"


def target_view(p: Product, f: FederationTarget) -> str:
    """Where the product's view lives on the target, as its users name it."""
    if f.target == BIGQUERY:
        return f"bigquery:{f.project}.{bigquery_dataset(p)}.{p.view}"
    return f"synapse:{synapse_workspace(p.domain, p.name)}/{synapse_database(p)}.dbo.{p.view}"


# --- the one renderer ------------------------------------------------------------------------


def snowflake_select(contract: Contract, source: Sequence[str]) -> str:
    """The view body in Snowflake SQL: every contract column CAST to its contract type.

    ``source`` is the relation read (dotted name parts, plain identifiers)."""
    cols = ", ".join(f"CAST({ident(c.name)} AS {c.snowflake_type}) AS {ident(c.name)}" for c in contract.columns)
    return f"SELECT {cols} FROM {fqn(*source)}"


def _fix_tsql_types(tree: exp.Expression) -> exp.Expression:
    # Snowflake's VARCHAR without a length is 16 MB; T-SQL's CAST(x AS VARCHAR) is 30
    # characters and would truncate silently. VARCHAR(MAX) keeps every value:
    # https://learn.microsoft.com/en-us/sql/t-sql/data-types/char-and-varchar-transact-sql
    for dt in tree.find_all(exp.DataType):
        if dt.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.NVARCHAR) and not dt.expressions:
            dt.replace(exp.DataType.build("VARCHAR(MAX)", dialect="tsql"))
    return tree


def transpile(snowflake_sql: str, target: str) -> str:
    """The Snowflake SELECT in the target's dialect (sqlglot), with the T-SQL VARCHAR fix-up."""
    tree = sqlglot.parse_one(snowflake_sql, read="snowflake")
    if target == SYNAPSE:
        tree = _fix_tsql_types(tree)
    return tree.sql(dialect=DIALECTS[target], pretty=True)


def column_type(snowflake_type: str, target: str) -> str:
    """A contract column's type in the target's dialect, as the transpiler spells it.

    Derived independently of any one view: a lone CAST of the contract type, transpiled the
    same way. (sqlglot writes BigQuery's NUMERIC without precision: BigQuery's parameterised
    NUMERIC allows at most 29 integer digits, so NUMBER(38,0) has no exact spelling there.)"""
    tree = sqlglot.parse_one(f"CAST(x AS {snowflake_type})", read="snowflake")
    if target == SYNAPSE:
        tree = _fix_tsql_types(tree)
    cast = sqlglot.parse_one(tree.sql(dialect=DIALECTS[target]), read=DIALECTS[target])
    return cast.to.sql(dialect=DIALECTS[target])


@dataclass(frozen=True)
class FederatedView:
    """One product on one target: what Terraform creates there, rendered."""

    product: str  # DOMAIN.PRODUCT
    target: str
    readers: tuple[str, ...]
    snowflake_sql: str  # the one rendering
    sql: str  # transpiled to the target's dialect
    columns: tuple[tuple[str, str, bool], ...]  # (name, target type, nullable), from the contract
    export_copy: str  # the Snowflake COPY that writes the Parquet files


def render_view(domain: Domain, p: Product, f: FederationTarget, contract: Contract) -> FederatedView:
    if f.target == BIGQUERY:
        source = (bigquery_dataset(p), export_table(p))
    else:
        source = ("DBO", export_table(p))
    snowflake_sql = snowflake_select(contract, source)
    sql = transpile(snowflake_sql, f.target)
    if f.target == BIGQUERY:
        # A view's table references name their project: readers query from their own projects.
        # The project id was checked against GCP's pattern by the front door; it is not a
        # Snowflake identifier (hyphens), so sqlglot's BigQuery generator quotes it.
        tree = sqlglot.parse_one(sql, read="bigquery")
        tree.find(exp.Table).set("catalog", exp.to_identifier(f.project, quoted=True))
        sql = tree.sql(dialect="bigquery", pretty=True)
    else:
        sql = sql.replace("[DBO]", "[dbo]", 1)  # T-SQL's default schema, as Synapse spells it
    # A withheld column arrives as NULL, so the target declares it nullable.
    columns = tuple((c.name, column_type(c.snowflake_type, f.target), c.nullable or withheld(c))
                    for c in contract.columns)
    return FederatedView(p.key, f.target, f.readers, snowflake_sql, sql, columns, export_copy(domain, p, f, contract))


def export_copy(domain: Domain, p: Product, f: FederationTarget, contract: Contract) -> str:
    """The Snowflake statement that writes the product's Parquet export for ``f.target``.

    It reads the published view and only the contract's columns, the protected ones withheld
    (:func:`withheld`). OVERWRITE replaces the previous export, so readers see one snapshot."""
    stage = fqn(domain.database, PRODUCTS, EXPORT_STAGES[f.target])
    return (
        f"COPY INTO @{stage}/{stage_path(p)}{EXPORT_FILE} FROM ({export_select(domain, p, contract)}) "
        f"FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE OVERWRITE = TRUE SINGLE = TRUE "
        f"MAX_FILE_SIZE = {EXPORT_MAX_FILE_SIZE}"
    )


def withheld(c: Any) -> bool:
    """A protected column (confidential, restricted, pii) never leaves Snowflake in clear: the copy's
    readers are outside its masking policies, and the export runs as the producing engineer, who
    reads the column in clear. So it is exported as NULL -- what an unentitled reader gets."""
    return str(c.classification or "").lower() in PROTECTED


def export_select(domain: Domain, p: Product, contract: Contract) -> str:
    """The rows an export writes: the contract's columns, in order, from the published view, the
    protected ones withheld (:func:`withheld`)."""
    cols = ", ".join(f"CAST(NULL AS {c.snowflake_type}) AS {ident(c.name)}" if withheld(c) else ident(c.name)
                     for c in contract.columns)
    return f"SELECT {cols} FROM {fqn(domain.database, PRODUCTS, p.view)}"


def synapse_setup_sql(view: FederatedView, p: Product) -> str:
    """T-SQL for the serverless SQL database: file format, the external table with the contract's
    columns, and the view. The data source ``snowmesh_export`` (it needs the storage URL and the
    workspace identity's credential) is created by the Terraform module before this runs.
    Identifiers are plain (checked by the front door)."""
    cols = ",\n  ".join(f"[{n}] {t}{'' if nullable else ' NOT NULL'}" for n, t, nullable in view.columns)
    table = export_table(p)
    # Idempotent: the module re-runs it whenever the rendered SQL changes (a new contract).
    return "\n".join([
        f"IF OBJECT_ID('dbo.{p.view}', 'V') IS NOT NULL DROP VIEW [dbo].[{p.view}];",
        f"IF EXISTS (SELECT * FROM sys.external_tables WHERE name = '{table}') DROP EXTERNAL TABLE [dbo].[{table}];",
        "IF NOT EXISTS (SELECT * FROM sys.external_file_formats WHERE name = 'snowmesh_parquet')",
        "  CREATE EXTERNAL FILE FORMAT [snowmesh_parquet] WITH (FORMAT_TYPE = PARQUET);",
        (f"CREATE EXTERNAL TABLE [dbo].[{table}] (\n  {cols}\n) WITH (LOCATION = '{export_prefix(p)}', "
         "DATA_SOURCE = [snowmesh_export], FILE_FORMAT = [snowmesh_parquet]);"),
        "GO",
        f"CREATE VIEW [dbo].[{p.view}] AS\n{view.sql};",
    ]) + "\n"


def synapse_reader_sql(view: FederatedView, p: Product) -> str:
    """T-SQL: a contained database user per declared reader, with SELECT on the view only.

    ``FROM EXTERNAL PROVIDER WITH OBJECT_ID`` maps the user to the Entra object id without a
    directory lookup by name (https://learn.microsoft.com/en-us/sql/t-sql/statements/create-user-transact-sql);
    not run here -- see docs/federation.md."""
    lines = []
    for reader in view.readers:
        kind, object_id = azure_principal(reader)
        user = f"{kind.lower()}-{object_id}"
        lines.append(f"IF DATABASE_PRINCIPAL_ID('{user}') IS NULL")
        lines.append(f"  CREATE USER [{user}] FROM EXTERNAL PROVIDER WITH OBJECT_ID = '{object_id}';")
        lines.append(f"GRANT SELECT ON OBJECT::[dbo].[{p.view}] TO [{user}];")
    return "\n".join(lines) + "\n"


def azure_principal(reader: str) -> tuple[str, str]:
    """``user:<guid>`` -> (``User``, guid): the role assignment's principal type and id."""
    kind, _, object_id = reader.partition(":")
    return _AZURE_PRINCIPAL_TYPES[kind], object_id.lower()


def gcp_readers(readers: Sequence[str]) -> dict[str, list[str]]:
    """BigQuery access entries by kind: groups are groupByEmail, users and service accounts userByEmail."""
    out: dict[str, list[str]] = {"group": [], "user": []}
    for r in readers:
        kind, _, email = r.partition(":")
        out["group" if kind == "group" else "user"].append(email)
    return {k: sorted(v) for k, v in out.items()}


# --- the gate ----------------------------------------------------------------------------------


def view_problems(view: FederatedView, contract: Contract) -> list[str]:
    """Does the rendered view parse in its dialect as a real SELECT (not sqlglot's opaque
    ``Command``) and select exactly the contract's columns, in order, with the contract's types?"""
    where = f"{view.product}: federated {view.target} view"
    try:
        tree = sqlglot.parse_one(view.sql, read=DIALECTS[view.target])
    except sqlglot.errors.ParseError as exc:
        return [f"{where} does not parse as {DIALECTS[view.target]}: {str(exc).splitlines()[0]}"]
    if not isinstance(tree, exp.Select):
        return [f"{where} is not a SELECT (parsed as {type(tree).__name__})"]
    got = [(s.alias_or_name, s.this.to.sql(DIALECTS[view.target]) if isinstance(s.this, exp.Cast) else None)
           for s in tree.selects]
    want = [(c.name, column_type(c.snowflake_type, view.target)) for c in contract.columns]
    if got != want:
        return [f"{where} selects {got}, but the contract has {want}"]
    return []


def federated_views(mesh: Any) -> list[FederatedView]:
    """Every declared (product, target), rendered from the product's current contract."""
    out = []
    for d in mesh.domains:
        for p in d.products:
            for f in p.federation:
                out.append(render_view(d, p, f, mesh.contracts[p.contract][1]))
    return out


def mesh_problems(mesh: Any) -> list[str]:
    """The gate over the whole mesh: one line per federated view that fails :func:`view_problems`,
    and per export without its stage, its EXPORT task after PUBLISH, or the contract's columns."""
    from snowmesh.federation_export import export_problems  # it builds on this module

    problems: list[str] = []
    for view in federated_views(mesh):
        p = mesh.product(view.product)
        problems += view_problems(view, mesh.contracts[p.contract][1])
    return problems + export_problems(mesh)


# --- the generated Terraform variables ---------------------------------------------------------


def bigquery_schema_json(view: FederatedView) -> str:
    """The external table's schema: the contract's columns in BigQuery's types. Every field is
    NULLABLE: it describes the Parquet files, whose columns Snowflake writes as optional; the
    contract's nullability was enforced before publish (the validation gate)."""
    return json.dumps([{"name": n, "type": t, "mode": "NULLABLE"} for n, t, _ in view.columns])


def _label(value: str) -> str:
    """A GCP label value: at most 63 of lower-case letters, digits, _ and -."""
    return re.sub(r"[^a-z0-9_-]", "_", value.lower())[:63]


def federation_vars(mesh: Any) -> dict[str, dict[str, Any]]:
    """``federation`` in domains.auto.tfvars.json: per target, one entry per declaring product,
    keyed ``<DOMAIN>.<PRODUCT>`` -- the module instances of terraform/federation.tf."""
    out: dict[str, dict[str, Any]] = {BIGQUERY: {}, SYNAPSE: {}, "exports": {}}
    for d in mesh.domains:
        for p in d.products:
            for f in p.federation:
                # The Snowflake side, per (domain, target): the integration and stage Terraform
                # creates (terraform/federation_snowflake.tf) and the role that may use the stage.
                export = out["exports"].setdefault(f"{d.name}.{f.target}", {
                    "domain": d.name, "target": f.target, "cloud": CLOUDS[f.target], "database": d.database,
                    "schema": PRODUCTS, "stage": EXPORT_STAGES[f.target],
                    "integration": export_integration(d.name, f.target), "engineer_role": d.engineer_role,
                    "prefix": domain_prefix(d.name), "products": [],
                })
                export["products"].append(export_prefix(p))
                view = render_view(d, p, f, mesh.contracts[p.contract][1])
                common = {
                    "domain": d.name,
                    "owner": d.owner,
                    "product": p.name,
                    "major": p.major,
                    "view": p.view,
                    "export_table": export_table(p),
                    "export_prefix": export_prefix(p),
                    "view_sql": view.sql,
                    "columns": [{"name": n, "type": t, "nullable": nullable} for n, t, nullable in view.columns],
                    "readers": sorted(f.readers),
                }
                if f.target == BIGQUERY:
                    out[BIGQUERY][p.key] = {
                        **common,
                        "project": f.project,
                        "dataset": bigquery_dataset(p),
                        "schema_json": bigquery_schema_json(view),
                        "labels": {"domain": _label(d.name), "owner": _label(d.owner), "data-product": _label(p.name)},
                        **{f"{k}_readers": v for k, v in gcp_readers(f.readers).items()},
                    }
                else:
                    out[SYNAPSE][p.key] = {
                        **common,
                        "workspace": synapse_workspace(d.name, p.name),
                        "database": synapse_database(p),
                        "setup_sql": synapse_setup_sql(view, p),
                        "reader_sql": synapse_reader_sql(view, p),
                        "role_assignments": {
                            r: dict(zip(("principal_type", "principal_id"), azure_principal(r), strict=True))
                            for r in sorted(f.readers)
                        },
                    }
    return out
