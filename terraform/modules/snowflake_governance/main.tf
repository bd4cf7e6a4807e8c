# GOVERNANCE_DB: the product catalog (CATALOG) and contract-validation audit (AUDIT).
# Every domain reads the catalog; engineers (who run deploys and validations) append to
# AUDIT but cannot change or delete its rows. Tables inside belong to `mesh deploy`.

locals {
  schema_fqn = { for s in var.schemas : s => snowflake_schema.this[s].fully_qualified_name }

  roles = {
    catalog_reader = {
      name    = "CATALOG_READER"
      schema  = "CATALOG"
      future  = { TABLES = ["SELECT"], VIEWS = ["SELECT"] }
      comment = "Read the data product catalog."
    }
    audit_writer = {
      name    = "AUDIT_WRITER"
      schema  = "AUDIT"
      future  = { TABLES = ["INSERT", "SELECT"] }
      comment = "Append and read contract-validation results."
    }
  }

  future_grants = merge([
    for key, r in local.roles : {
      for type, privileges in r.future : "${key}/${type}" => { role = key, type = type, privileges = privileges, schema = r.schema }
    }
  ]...)
}

resource "snowflake_database" "this" {
  name    = var.database
  comment = "Mesh governance: product catalog and contract-validation audit."
}

resource "snowflake_schema" "this" {
  for_each = toset(var.schemas)

  database            = snowflake_database.this.name
  name                = each.key
  with_managed_access = "true"
}

resource "snowflake_database_role" "this" {
  for_each = local.roles

  database = snowflake_database.this.name
  name     = each.value.name
  comment  = each.value.comment
}

resource "snowflake_grant_privileges_to_database_role" "database_usage" {
  for_each = local.roles

  database_role_name = snowflake_database_role.this[each.key].fully_qualified_name
  privileges         = ["USAGE"]
  on_database        = snowflake_database.this.name
}

resource "snowflake_grant_privileges_to_database_role" "schema_usage" {
  for_each = local.roles

  database_role_name = snowflake_database_role.this[each.key].fully_qualified_name
  privileges         = ["USAGE"]
  on_schema {
    schema_name = local.schema_fqn[each.value.schema]
  }
}

resource "snowflake_grant_privileges_to_database_role" "future" {
  for_each = local.future_grants

  database_role_name = snowflake_database_role.this[each.value.role].fully_qualified_name
  privileges         = each.value.privileges
  on_schema_object {
    future {
      object_type_plural = each.value.type
      in_schema          = local.schema_fqn[each.value.schema]
    }
  }
}

resource "snowflake_grant_database_role" "catalog_reader" {
  for_each = var.catalog_readers

  database_role_name = snowflake_database_role.this["catalog_reader"].fully_qualified_name
  parent_role_name   = each.value
}

resource "snowflake_grant_database_role" "audit_writer" {
  for_each = var.audit_writers

  database_role_name = snowflake_database_role.this["audit_writer"].fully_qualified_name
  parent_role_name   = each.value
}
