# GOVERNANCE_DB: the product and source registries (CATALOG) and the audit trail (AUDIT).
# The same grants as the SQL plan (snowmesh.deploy.plan._governance), checked by
# tests/test_terraform.py (test_governance_grants_equal_the_sql_plan):
#   one database role, SOURCES_READER: what a domain's pipeline procedures read of GOVERNANCE_DB --
#   USAGE on the database, CATALOG and AUDIT; SELECT on the source registry CATALOG.SOURCES (INGEST),
#   the product registry CATALOG.DATA_PRODUCTS and the audit AUDIT.VALIDATION_RESULTS (PUBLISH's
#   fail-closed check); APPLY on the three column tags PUBLISH sets. Granted to every domain's
#   engineer, the role INGEST() and PUBLISH() run as. Nothing is writable by it: only the governance
#   role's owner's-rights procedures (VALIDATE_PRODUCT, RECORD_DAG_RUN) and the deploy write here.
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
  for_each = toset(var.schemas)

  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  privileges         = ["USAGE"]
  on_schema {
    schema_name = snowflake_schema.this[each.key].fully_qualified_name
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

# The product registry and the audit PUBLISH reads, and the tags it sets: `mesh deploy` creates them
# (governance.product_health.REGISTRY_TABLE, governance.validate.AUDIT_TABLE, snowmesh.policies'
# tags) and grants these itself; like the source registry, the first apply leaves them out.
resource "snowflake_grant_privileges_to_database_role" "pipeline_reader_registry" {
  for_each = var.grant_sources_select ? toset(["DATA_PRODUCTS"]) : toset([])

  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    object_type = "TABLE"
    object_name = "\"${var.database}\".\"CATALOG\".\"${each.key}\""
  }
}

resource "snowflake_grant_privileges_to_database_role" "pipeline_reader_audit" {
  for_each = var.grant_sources_select ? toset(["VALIDATION_RESULTS"]) : toset([])

  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    object_type = "TABLE"
    object_name = "\"${var.database}\".\"AUDIT\".\"${each.key}\""
  }
}

resource "snowflake_grant_privileges_to_database_role" "pipeline_tag_apply" {
  for_each = var.grant_sources_select ? toset(["CLASSIFICATION", "DATA_DOMAIN", "UNMASK_FOR"]) : toset([])

  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  privileges         = ["APPLY"]
  on_schema_object {
    object_type = "TAG"
    object_name = "\"${var.database}\".\"CATALOG\".\"${each.key}\""
  }
}

resource "snowflake_grant_database_role" "sources_reader" {
  for_each = var.domains

  database_role_name = snowflake_database_role.sources_reader.fully_qualified_name
  parent_role_name   = each.value.account_roles.engineer
}

# --- The governance role: owns what lives in GOVERNANCE_DB ------------------------------
# `mesh deploy` sends GOVERNANCE_DB's tables, tags and masking policies as this role, and the
# governance procedures are handed to it (snowmesh.deploy.plan: GOVERNANCE_ROLE, _governance_role);
# `snow snowpark deploy` needs CREATE STAGE / PROCEDURE, the catalog page CREATE STREAMLIT.
# tests/test_security_model.py compares these grants with the plan's.

resource "snowflake_account_role" "governance" {
  name    = var.governance_role
  comment = "Owns GOVERNANCE_DB's registries, audit, tags, masking policies and governance procedures."
}

resource "snowflake_grant_privileges_to_account_role" "governance_database" {
  account_role_name = snowflake_account_role.governance.name
  privileges        = ["USAGE"]
  on_account_object {
    object_type = "DATABASE"
    object_name = snowflake_database.this.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "governance_schemas" {
  for_each = toset(var.schemas)

  account_role_name = snowflake_account_role.governance.name
  privileges = [
    "USAGE", "CREATE TABLE", "CREATE TAG", "CREATE MASKING POLICY", "CREATE STAGE", "CREATE PROCEDURE",
    "CREATE STREAMLIT",
  ]
  on_schema {
    schema_name = snowflake_schema.this[each.key].fully_qualified_name
  }
}

# Account privileges: set a masking policy on a tag and tags on the published views' columns
# (https://docs.snowflake.com/en/user-guide/tag-based-masking-policies), and read every graph's
# TASK_HISTORY from RECORD_DAG_RUN (https://docs.snowflake.com/en/sql-reference/functions/task_history).
resource "snowflake_grant_privileges_to_account_role" "governance_account" {
  account_role_name = snowflake_account_role.governance.name
  privileges        = ["APPLY MASKING POLICY", "APPLY TAG", "MONITOR EXECUTION"]
  on_account        = true
}

# VALIDATE_PRODUCT reads each domain's STAGING through that database's VALIDATOR role
# (modules/snowflake_domain creates it: USAGE on the database and STAGING, SELECT on its tables).
resource "snowflake_grant_database_role" "validator" {
  for_each = var.domains

  database_role_name = "\"${each.value.database}\".\"VALIDATOR\""
  parent_role_name   = snowflake_account_role.governance.name
}

resource "snowflake_grant_account_role" "governance_parent" {
  role_name        = snowflake_account_role.governance.name
  parent_role_name = var.parent_role
}

# --- Packages: Snowflake's PyPI repository ------------------------------------------------
# Every procedure of snowflake.yml takes its packages from snowflake.snowpark.pypi_shared_repository,
# which needs the database role SNOWFLAKE.PYPI_REPOSITORY_USER for the procedures' owners (the
# engineers, the governance role) and the callers of caller's-rights procedures (the analysts).
resource "snowflake_grant_database_role" "pypi_engineer" {
  for_each = var.domains

  database_role_name = "SNOWFLAKE.PYPI_REPOSITORY_USER"
  parent_role_name   = each.value.account_roles.engineer
}

resource "snowflake_grant_database_role" "pypi_analyst" {
  for_each = var.domains

  database_role_name = "SNOWFLAKE.PYPI_REPOSITORY_USER"
  parent_role_name   = each.value.account_roles.analyst
}

resource "snowflake_grant_database_role" "pypi_governance" {
  database_role_name = "SNOWFLAKE.PYPI_REPOSITORY_USER"
  parent_role_name   = snowflake_account_role.governance.name
}
