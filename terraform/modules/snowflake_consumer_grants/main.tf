# A consumer domain's access to one producer: a database role in the producer's database
# with USAGE on the database and on PRODUCTS, and SELECT on exactly the published secure
# views the consumer is declared for in the producer's manifest. Nothing on RAW or
# STAGING, nothing on tables, no future grants.

locals {
  schema_fqn = "\"${var.producer_database}\".\"${var.schema}\""
}

resource "snowflake_database_role" "consumer" {
  database = var.producer_database
  name     = var.database_role
  comment  = "${var.consumer} reads ${join(", ", var.views)} in ${var.producer_database}.${var.schema}."
}

resource "snowflake_grant_privileges_to_database_role" "database_usage" {
  database_role_name = snowflake_database_role.consumer.fully_qualified_name
  privileges         = ["USAGE"]
  on_database        = var.producer_database
}

resource "snowflake_grant_privileges_to_database_role" "schema_usage" {
  database_role_name = snowflake_database_role.consumer.fully_qualified_name
  privileges         = ["USAGE"]
  on_schema {
    schema_name = local.schema_fqn
  }
}

resource "snowflake_grant_privileges_to_database_role" "select_view" {
  for_each = var.grant_view_select ? toset(var.views) : toset([])

  database_role_name = snowflake_database_role.consumer.fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    object_type = "VIEW"
    object_name = "${local.schema_fqn}.\"${each.key}\""
  }
}

resource "snowflake_grant_database_role" "to_consumer" {
  for_each = var.grantee_roles

  database_role_name = snowflake_database_role.consumer.fully_qualified_name
  parent_role_name   = each.value
}
