# GOVERNANCE_DB: the product and source registries (CATALOG) and the audit trail (AUDIT).
# The same grants as the SQL plan (snowmesh.deploy.plan._governance), checked by
# tests/test_terraform.py (test_governance_grants_equal_the_sql_plan):
#   one database role, SOURCES_READER: USAGE on the database and CATALOG, SELECT on the source
#   registry CATALOG.SOURCES; granted to every domain's engineer, the role INGEST() runs as.
# Nothing in AUDIT is granted to anyone: only owner's-rights procedures (VALIDATE_PRODUCT,
# PUBLISH_PRODUCT, RECORD_DAG_RUN) and the deploy write it, as the role that owns them.
# Tables inside belong to `mesh deploy`.
#
# Written without for-expressions so that the access verifier's evaluator (snowmesh.access.hcl)
# reads it exactly.

resource "snowflake_database" "this" {
  name    = var.database
  comment = "Mesh governance: product and source registries, contract-validation and run audit."
}

resource "snowflake_schema" "this" {
  for_each = toset(var.schemas)

  database            = snowflake_database.this.name
  name                = each.key
  with_managed_access = "true"
}

resource "snowflake_database_role" "sources_reader" {
  database = snowflake_database.this.name
  name     = var.sources_reader
  comment  = "Read the source registry INGEST() loads from (every domain's engineer)."
}

resource "snowflake_grant_privileges_to_database_role" "sources_reader_database" {
  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  privileges         = ["USAGE"]
  on_database        = snowflake_database.this.name
}

resource "snowflake_grant_privileges_to_database_role" "sources_reader_schema" {
  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  privileges         = ["USAGE"]
  on_schema {
    schema_name = snowflake_schema.this[var.sources_table.schema].fully_qualified_name
  }
}

# A grant on a table fails until the table exists, and `mesh deploy` creates it (and grants
# this itself): the first apply leaves it out, like the consumers' view grants.
resource "snowflake_grant_privileges_to_database_role" "sources_reader_table" {
  for_each = var.grant_sources_select ? toset([var.sources_table.name]) : toset([])

  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    object_type = "TABLE"
    object_name = "\"${var.database}\".\"${var.sources_table.schema}\".\"${each.key}\""
  }
}

resource "snowflake_grant_database_role" "sources_reader" {
  for_each = var.domains

  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  parent_role_name   = each.value.account_roles.engineer
}
