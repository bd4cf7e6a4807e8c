"""One renderer per Snowflake object kind. Pure: names in, SQL text out.

Every identifier goes through governance.sql (ident/fqn), every value through literal()
or a validated number. Statements are idempotent (IF NOT EXISTS / OR REPLACE) so a
re-deploy converges.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from governance.sql import check_ident, fqn, ident, literal
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.manifest.model import Column

_SIZES = {"XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE"}


def database(name: str, comment: str = "") -> Statement:
    sql = f"CREATE DATABASE IF NOT EXISTS {ident(name)}"
    if comment:
        sql += f" COMMENT = {literal(comment)}"
    return Statement(Kind.DATABASE, name, sql)


def schema(db: str, name: str) -> Statement:
    return Statement(Kind.SCHEMA, f"{db}.{name}", f"CREATE SCHEMA IF NOT EXISTS {fqn(db, name)}")


def managed_access(db: str, name: str) -> Statement:
    """Managed access: only the schema owner grants on its objects, not each object's owner.

    A separate ALTER (not CREATE ... WITH MANAGED ACCESS) so the CREATE runs on the local
    account too; this part is an access control, recorded there like the grants.
    """
    return Statement(Kind.ACCESS_CONTROL, f"{db}.{name}", f"ALTER SCHEMA {fqn(db, name)} ENABLE MANAGED ACCESS")


def warehouse(name: str, size: str, auto_suspend_seconds: int) -> Statement:
    if size not in _SIZES:
        raise ValueError(f"unknown warehouse size {size!r}")
    sql = (
        f"CREATE WAREHOUSE IF NOT EXISTS {ident(name)} WITH WAREHOUSE_SIZE = {literal(size)} "
        f"AUTO_SUSPEND = {int(auto_suspend_seconds)} AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE"
    )
    return Statement(Kind.WAREHOUSE, name, sql)


def resource_monitor(name: str, warehouse_name: str, credit_quota: int) -> list[Statement]:
    create = (
        f"CREATE RESOURCE MONITOR IF NOT EXISTS {ident(name)} WITH CREDIT_QUOTA = {int(credit_quota)} "
        "FREQUENCY = MONTHLY START_TIMESTAMP = IMMEDIATELY "
        "TRIGGERS ON 80 PERCENT DO NOTIFY ON 100 PERCENT DO SUSPEND ON 110 PERCENT DO SUSPEND_IMMEDIATE"
    )
    attach = f"ALTER WAREHOUSE {ident(warehouse_name)} SET RESOURCE_MONITOR = {ident(name)}"
    return [Statement(Kind.RESOURCE_MONITOR, name, create), Statement(Kind.RESOURCE_MONITOR, name, attach)]


def account_role(name: str, comment: str = "") -> Statement:
    sql = f"CREATE ROLE IF NOT EXISTS {ident(name)}"
    if comment:
        sql += f" COMMENT = {literal(comment)}"
    return Statement(Kind.ACCOUNT_ROLE, name, sql)


def database_role(db: str, name: str) -> Statement:
    return Statement(Kind.DATABASE_ROLE, f"{db}.{name}", f"CREATE DATABASE ROLE IF NOT EXISTS {fqn(db, name)}")


def _privs(privileges: Sequence[str]) -> str:
    allowed = {
        "USAGE", "OPERATE", "MONITOR", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
        "CREATE TABLE", "CREATE VIEW", "CREATE STAGE", "CREATE FILE FORMAT", "CREATE PROCEDURE",
        "CREATE TASK", "CREATE SCHEMA", "READ", "WRITE", "OWNERSHIP", "CREATE TAG", "CREATE MASKING POLICY",
        "CREATE STREAMLIT", "CREATE STREAM", "APPLY",
    }  # fmt: skip
    for p in privileges:
        if p not in allowed:
            raise ValueError(f"unknown privilege {p!r}")
    return ", ".join(privileges)


def grant_on(privileges: Sequence[str], object_type: str, object_name: Sequence[str], to_role: str, *,
             database_role_of: str | None = None, arg_types: Sequence[str] | None = None) -> Statement:
    """GRANT <privs> ON <TYPE> <name> TO ROLE r / TO DATABASE ROLE db.r.

    A PROCEDURE is named with its argument types, ``db.s.p(VARCHAR, VARCHAR)``: overloads share a
    name, so Snowflake needs the signature to know which one is granted.
    """
    if object_type not in {"DATABASE", "SCHEMA", "WAREHOUSE", "VIEW", "TABLE", "STAGE", "INTEGRATION", "PROCEDURE",
                           "TAG"}:
        raise ValueError(object_type)
    if (object_type == "PROCEDURE") != (arg_types is not None):
        raise ValueError("argument types are given for a PROCEDURE grant, and only for one")
    if "OWNERSHIP" in privileges and (object_type != "PROCEDURE" or len(privileges) != 1):
        raise ValueError("the plan transfers OWNERSHIP of procedures only, alone (GRANT OWNERSHIP ON PROCEDURE ...)")
    if object_type == "PROCEDURE" and len(object_name) != 3:
        raise ValueError(f"a procedure is named DATABASE.SCHEMA.NAME, got {'.'.join(object_name)!r}")
    signature = "" if arg_types is None else f"({', '.join(check_type(t) for t in arg_types)})"
    grantee = f"DATABASE ROLE {fqn(database_role_of, to_role)}" if database_role_of else f"ROLE {ident(to_role)}"
    sql = f"GRANT {_privs(privileges)} ON {object_type} {fqn(*object_name)}{signature} TO {grantee}"
    return Statement(Kind.GRANT, ".".join(object_name) + signature, sql)


def grant_on_all(privileges: Sequence[str], object_type: str, db: str, schema_name: str, to_db_role: str, *,
                 future: bool) -> Statement:
    """GRANT ... ON ALL|FUTURE TABLES|VIEWS IN SCHEMA db.s TO DATABASE ROLE db.r."""
    if object_type not in {"TABLES", "VIEWS"}:
        raise ValueError(object_type)
    scope = "FUTURE" if future else "ALL"
    sql = (
        f"GRANT {_privs(privileges)} ON {scope} {object_type} IN SCHEMA {fqn(db, schema_name)} "
        f"TO DATABASE ROLE {fqn(db, to_db_role)}"
    )
    return Statement(Kind.GRANT, f"{db}.{schema_name}", sql)


def grant_database_role(db: str, role: str, *, to_role: str | None = None, to_db_role: str | None = None) -> Statement:
    if (to_role is None) == (to_db_role is None):
        raise ValueError("give exactly one grantee")
    grantee = f"DATABASE ROLE {fqn(db, to_db_role)}" if to_db_role else f"ROLE {ident(to_role)}"
    return Statement(Kind.GRANT, f"{db}.{role}", f"GRANT DATABASE ROLE {fqn(db, role)} TO {grantee}")


def grant_role(role: str, to_role: str) -> Statement:
    return Statement(Kind.GRANT, role, f"GRANT ROLE {ident(role)} TO ROLE {ident(to_role)}")


def file_format_csv(db: str, schema_name: str, name: str, *, keep_header: bool = False) -> Statement:
    # Snowflake CSV defaults, spelled out: fakesnow ignores a stage's default format, so COPY
    # names this format explicitly (shared/EMULATION.md). ``keep_header``: ingest's format loads
    # line 1 too, to check the header, and reads RFC 4180 (no backslash escapes, as DuckDB does).
    # https://docs.snowflake.com/en/sql-reference/sql/create-file-format (format type options)
    # It also keeps an empty field as '' (EMPTY_FIELD_AS_NULL = FALSE): a NULL is then a field the
    # record lacks, which is how ingest finds a short record (governance.ingest_sql.typed_select).
    head = "SKIP_HEADER = 0" if keep_header else "SKIP_HEADER = 1"
    sql = (
        f"CREATE FILE FORMAT IF NOT EXISTS {fqn(db, schema_name, name)} TYPE = CSV COMPRESSION = GZIP "
        f"{head} FIELD_OPTIONALLY_ENCLOSED_BY = '\"' EMPTY_FIELD_AS_NULL = {'FALSE' if keep_header else 'TRUE'}"
    )
    if keep_header:
        sql += " ESCAPE_UNENCLOSED_FIELD = NONE"
    return Statement(Kind.FILE_FORMAT, f"{db}.{schema_name}.{name}", sql)


def storage_integration(name: str, role_arn: str, buckets: Iterable[str]) -> Statement:
    locations = ", ".join(literal(f"s3://{b}/") for b in buckets)
    sql = (
        f"CREATE STORAGE INTEGRATION IF NOT EXISTS {ident(name)} TYPE = EXTERNAL_STAGE "
        f"STORAGE_PROVIDER = 'S3' ENABLED = TRUE STORAGE_AWS_ROLE_ARN = {literal(role_arn)} "
        f"STORAGE_ALLOWED_LOCATIONS = ({locations})"
    )
    return Statement(Kind.STORAGE_INTEGRATION, name, sql)


def external_stage(db: str, schema_name: str, name: str, bucket: str, integration: str, file_format: str) -> Statement:
    sql = (
        f"CREATE STAGE IF NOT EXISTS {fqn(db, schema_name, name)} URL = {literal(f's3://{bucket}/')} "
        f"STORAGE_INTEGRATION = {ident(integration)} FILE_FORMAT = {fqn(db, schema_name, file_format)}"
    )
    # An external stage needs the integration (and IAM): rendered, recorded, never run locally.
    return Statement(Kind.STORAGE_INTEGRATION, f"{db}.{schema_name}.{name}", sql)


# The export locations a federation integration/stage may name (snowmesh.federation_export): a GCS
# bucket or an Azure blob container, then folders. Checked here because they are not identifiers.
_EXPORT_URL = re.compile(
    r"^(?:gcs://[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]|azure://[a-z0-9]{3,24}\.blob\.core\.windows\.net/[a-z0-9][a-z0-9-]{2,62})"
    r"/(?:[a-z0-9_-]+/)*\Z"
)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def export_url(url: str) -> str:
    if not _EXPORT_URL.match(url):
        raise ValueError(f"{url!r} is not a gcs://<bucket>/... or azure://<account>.blob.core.windows.net/<container>/... folder")
    return url


def cloud_storage_integration(name: str, provider: str, locations: Sequence[str], *, azure_tenant_id: str = "") -> Statement:
    """A GCS or Azure storage integration, in the documented parameter order: TYPE, the provider's
    parameters, ENABLED, STORAGE_ALLOWED_LOCATIONS
    (https://docs.snowflake.com/en/sql-reference/sql/create-storage-integration#syntax)."""
    if provider == "GCS":
        params = "STORAGE_PROVIDER = 'GCS'"
    elif provider == "AZURE" and _GUID.match(azure_tenant_id):
        params = f"STORAGE_PROVIDER = 'AZURE' AZURE_TENANT_ID = {literal(azure_tenant_id)}"
    else:
        raise ValueError(f"no {provider!r} storage integration with tenant {azure_tenant_id!r}")
    allowed = ", ".join(literal(export_url(u)) for u in locations)
    sql = (f"CREATE STORAGE INTEGRATION IF NOT EXISTS {ident(name)} TYPE = EXTERNAL_STAGE {params} ENABLED = TRUE "
           f"STORAGE_ALLOWED_LOCATIONS = ({allowed})")
    return Statement(Kind.STORAGE_INTEGRATION, name, sql)


def external_stage_at(db: str, schema_name: str, name: str, url: str, integration: str) -> Statement:
    """An external stage on a GCS/Azure folder (the federation exports; COPY names its own format)."""
    sql = (f"CREATE STAGE IF NOT EXISTS {fqn(db, schema_name, name)} URL = {literal(export_url(url))} "
           f"STORAGE_INTEGRATION = {ident(integration)}")
    # Like external_stage: it needs the integration, so it is rendered and recorded, never run locally.
    return Statement(Kind.STORAGE_INTEGRATION, f"{db}.{schema_name}.{name}", sql)


def internal_stage(db: str, schema_name: str, name: str) -> Statement:
    return Statement(Kind.STAGE, f"{db}.{schema_name}.{name}", f"CREATE STAGE IF NOT EXISTS {fqn(db, schema_name, name)}")


def column_def(c: Column, *, typed: bool = True) -> str:
    type_ = check_type(c.type) if typed else "VARCHAR"
    not_null = " NOT NULL" if typed and c.required else ""
    return f"{ident(c.name)} {type_}{not_null}"


def check_type(type_: str) -> str:
    """Types come from validated manifests/contracts; re-check so no text slips into DDL."""
    import re

    if not re.fullmatch(r"(VARCHAR|NUMBER|FLOAT|BOOLEAN|DATE|TIMESTAMP_NTZ)(\(\d{1,2}(,\d{1,2})?\))?", type_):
        raise ValueError(f"unsupported column type {type_!r}")
    return type_


def table(db: str, schema_name: str, name: str, columns: Sequence[str], *, transient: bool = False,
          replace: bool = False, comment: str = "", change_tracking: bool = False) -> Statement:
    """``columns`` are already-rendered column definitions (see column_def). ``change_tracking``:
    streams may read its changes (the table's owner must set it; fakesnow accepts and ignores it)."""
    head = "CREATE OR REPLACE" if replace else "CREATE"
    kind = " TRANSIENT" if transient else ""
    guard = "" if replace else " IF NOT EXISTS"
    sql = f"{head}{kind} TABLE{guard} {fqn(db, schema_name, name)} ({', '.join(columns)})"
    if change_tracking:
        sql += " CHANGE_TRACKING = TRUE"
    if comment:
        sql += f" COMMENT = {literal(comment)}"
    return Statement(Kind.TABLE, f"{db}.{schema_name}.{name}", sql)


def add_column(db: str, schema_name: str, name: str, column: str) -> Statement:
    """Upgrade a table made by an older deploy (CREATE TABLE IF NOT EXISTS keeps its columns)."""
    sql = f"ALTER TABLE IF EXISTS {fqn(db, schema_name, name)} ADD COLUMN IF NOT EXISTS {column}"
    return Statement(Kind.TABLE, f"{db}.{schema_name}.{name}", sql)


def secure_view(db: str, schema_name: str, name: str, columns: Sequence[str], source: Sequence[str],
                comment: str = "", *, copy_grants: bool = True) -> Statement:
    """A published product view: an explicit column list, so the contract -- not ``*`` -- is the interface."""
    cols = ", ".join(ident(c) for c in columns)
    # COPY GRANTS: re-publishing must not drop the consumers' SELECT on the view. fakesnow
    # cannot parse it (and enforces no grants), so the local account renders it without.
    # Clause order is the documented grammar's: ... COPY GRANTS, then COMMENT, then AS
    # (https://docs.snowflake.com/en/sql-reference/sql/create-view#syntax).
    sql = f"CREATE OR REPLACE SECURE VIEW {fqn(db, schema_name, name)}"
    if copy_grants:
        sql += " COPY GRANTS"
    if comment:
        sql += f" COMMENT = {literal(comment)}"
    sql += f" AS SELECT {cols} FROM {fqn(*source)}"
    return Statement(Kind.VIEW, f"{db}.{schema_name}.{name}", sql)


def publications_view(db: str, schema_name: str, name: str, columns: Sequence[str], source: Sequence[str]) -> Statement:
    """The secure view of a domain's publication log that consumers' streams read. A stream on a view
    needs change tracking on the view and its tables, set by their owner
    (https://docs.snowflake.com/en/user-guide/streams-manage#enabling-change-tracking-on-views-and-underlying-tables)."""
    cols = ", ".join(ident(c) for c in columns)
    sql = (f"CREATE SECURE VIEW IF NOT EXISTS {fqn(db, schema_name, name)} CHANGE_TRACKING = TRUE "
           f"COMMENT = {literal('Publications of this domain: consumers stream it to run after each publish')} "
           f"AS SELECT {cols} FROM {fqn(*source)}")
    return Statement(Kind.VIEW, f"{db}.{schema_name}.{name}", sql)


def stream_on_view(db: str, schema_name: str, name: str, source: Sequence[str], comment: str = "") -> Statement:
    """``CREATE STREAM IF NOT EXISTS s ON VIEW v``: never replaced, which would lose its offset
    (https://docs.snowflake.com/en/sql-reference/sql/create-stream)."""
    sql = f"CREATE STREAM IF NOT EXISTS {fqn(db, schema_name, name)} ON VIEW {fqn(*source)}"
    if comment:
        sql += f" COMMENT = {literal(comment)}"
    return Statement(Kind.STREAM, f"{db}.{schema_name}.{name}", sql)


def schema_ownership(db: str, schema_name: str, to_role: str) -> Statement:
    """Hand a schema to an account role, keeping the grants on it (a transfer of an object with
    outbound grants needs COPY or REVOKE CURRENT GRANTS: https://docs.snowflake.com/en/sql-reference/sql/grant-ownership)."""
    sql = f"GRANT OWNERSHIP ON SCHEMA {fqn(db, schema_name)} TO ROLE {ident(to_role)} COPY CURRENT GRANTS"
    return Statement(Kind.GRANT, f"{db}.{schema_name}", sql)


# --- governance policies (snowmesh.policies) and version retirement (snowmesh.versions) ---

# Masking policy argument types: one policy per type, because a tag holds one policy per data type.
POLICY_TYPES = ("VARCHAR", "NUMBER", "FLOAT", "BOOLEAN", "DATE", "TIMESTAMP_NTZ")


def tag(db: str, schema_name: str, name: str, allowed_values: Sequence[str], comment: str = "") -> Statement:
    """``allowed_values`` empty: any string value (a list of domains, say)."""
    sql = f"CREATE TAG IF NOT EXISTS {fqn(db, schema_name, name)}"
    if allowed_values:
        sql += " ALLOWED_VALUES " + ", ".join(literal(v) for v in allowed_values)
    if comment:
        sql += f" COMMENT = {literal(comment)}"
    return Statement(Kind.TAG, f"{db}.{schema_name}.{name}", sql)


def masking_policy(db: str, schema_name: str, name: str, type_: str, unmask: Sequence[tuple[str, str]],
                   domain_tag: Sequence[str], admin_role: str, masked: str, comment: str = "", *,
                   allow: Sequence[tuple[str, str]] = (), allow_tag: Sequence[str] = ()) -> Statement:
    """A tag-based masking policy: the real value for ``admin_role`` or for the unmask role of the
    domain that owns the column (read from ``domain_tag`` on the column), ``masked`` otherwise.

    ``unmask`` is ((domain, role), ...): one WHEN per domain, all literals, no dynamic role names.
    ``masked`` is a rendered SQL constant chosen by the caller from a fixed set (not user text).
    Role names are passed as stored, upper case and unquoted (``IS_ROLE_IN_SESSION('FINANCE_ENGINEER')``):
    "the argument must be a string and use the same case as how the role is stored in Snowflake"
    (https://docs.snowflake.com/en/sql-reference/functions/is_role_in_session); a quoted
    '"FINANCE_ENGINEER"' names no role, so the policy would mask for everyone.
    """
    if type_ not in POLICY_TYPES:
        raise ValueError(f"no masking policy for type {type_!r}")
    body = masking_body(unmask, domain_tag, admin_role, masked, allow=allow, allow_tag=allow_tag)
    sql = (f"CREATE MASKING POLICY IF NOT EXISTS {fqn(db, schema_name, name)} AS (VAL {type_}) "
           f"RETURNS {type_} -> {body}")
    if comment:
        sql += f" COMMENT = {literal(comment)}"
    return Statement(Kind.MASKING_POLICY, f"{db}.{schema_name}.{name}", sql)


def tag_masking_policy(tag_name: Sequence[str], policy: Sequence[str]) -> Statement:
    """Attach a masking policy to a tag: every column carrying the tag is masked by it."""
    sql = f"ALTER TAG {fqn(*tag_name)} SET MASKING POLICY {fqn(*policy)}"
    return Statement(Kind.MASKING_POLICY, ".".join(policy), sql)


def revoke_on(privileges: Sequence[str], object_type: str, object_name: Sequence[str], from_db_role: Sequence[str]) -> Statement:
    """REVOKE <privs> ON <TYPE> <name> FROM DATABASE ROLE db.r (the mirror of grant_on)."""
    if object_type not in {"VIEW", "TABLE", "SCHEMA", "DATABASE"}:
        raise ValueError(object_type)
    sql = f"REVOKE {_privs(privileges)} ON {object_type} {fqn(*object_name)} FROM DATABASE ROLE {fqn(*from_db_role)}"
    return Statement(Kind.REVOKE, ".".join(object_name), sql)


def drop_view(db: str, schema_name: str, name: str) -> Statement:
    return Statement(Kind.DROP, f"{db}.{schema_name}.{name}", f"DROP VIEW IF EXISTS {fqn(db, schema_name, name)}")


# --- policy convergence (snowmesh.policies: CREATE ... IF NOT EXISTS never updates a body) ---

def masking_body(unmask: Sequence[tuple[str, str]], domain_tag: Sequence[str], admin_role: str, masked: str, *,
                 allow: Sequence[tuple[str, str]] = (), allow_tag: Sequence[str] = ()) -> str:
    """The CASE expression of :func:`masking_policy` (shared with :func:`masking_policy_body`).

    ``allow`` ((consumer domain, role), ...) with ``allow_tag``: the column's allow-list tag holds
    ',<DOMAIN>,...,' (the producer's contract names the consumers whose pipelines may read it), and
    the consumer's role then sees the value."""
    tag_name = literal(".".join(check_ident(p) for p in domain_tag))
    whens = " ".join(
        f"WHEN SYSTEM$GET_TAG_ON_CURRENT_COLUMN({tag_name}) = {literal(check_ident(d))} "
        f"AND IS_ROLE_IN_SESSION({literal(check_ident(role))}) THEN VAL"
        for d, role in unmask
    )
    if allow:
        allowed = literal(".".join(check_ident(p) for p in allow_tag))
        whens += "".join(
            f" WHEN CONTAINS(COALESCE(SYSTEM$GET_TAG_ON_CURRENT_COLUMN({allowed}), ''), {literal(f',{check_ident(d)},')}) "
            f"AND IS_ROLE_IN_SESSION({literal(check_ident(role))}) THEN VAL"
            for d, role in allow
        )
    return f"CASE WHEN IS_ROLE_IN_SESSION({literal(check_ident(admin_role))}) THEN VAL {whens} ELSE {masked} END"


def masking_policy_body(db: str, schema_name: str, name: str, unmask: Sequence[tuple[str, str]],
                        domain_tag: Sequence[str], admin_role: str, masked: str, *,
                        allow: Sequence[tuple[str, str]] = (), allow_tag: Sequence[str] = ()) -> Statement:
    """ALTER MASKING POLICY ... SET BODY: an existing policy takes the rendered body (same value: no-op)."""
    body = masking_body(unmask, domain_tag, admin_role, masked, allow=allow, allow_tag=allow_tag)
    sql = f"ALTER MASKING POLICY {fqn(db, schema_name, name)} SET BODY -> {body}"
    return Statement(Kind.MASKING_POLICY, f"{db}.{schema_name}.{name}", sql)


def tag_unset_masking_policy(tag_name: Sequence[str], policy: Sequence[str]) -> Statement:
    """Detach a masking policy from a tag (before another policy of its type can be set)."""
    sql = f"ALTER TAG {fqn(*tag_name)} UNSET MASKING POLICY {fqn(*policy)}"
    return Statement(Kind.MASKING_POLICY, ".".join(policy), sql)
