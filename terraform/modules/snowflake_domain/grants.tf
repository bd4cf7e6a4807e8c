# Roles and grants of one domain (naming pattern: shared DESIGN.md, docs/terraform.md):
#   database roles <DB>.R (read), <DB>.W (write, inherits R), <DB>.C (create);
#   account roles <DOMAIN>_ENGINEER (W + C), <DOMAIN>_ANALYST (R),
#   <DOMAIN>_WH_USAGE (USAGE on the domain's own warehouse only), granted to both.
# Consumer access to other domains' views is in modules/snowflake_consumer_grants.

locals {
  schema_fqn = { for s in var.domain.schemas : s => snowflake_schema.this[s].fully_qualified_name }

  # Privileges on objects mesh deploy will create later: future grants, per schema
  # (schema-level future grants take precedence over database-level ones in Snowflake).
  future_grant_specs = [
    { role = "read", type = "TABLES", privileges = ["SELECT"] },
    { role = "read", type = "VIEWS", privileges = ["SELECT"] },
    { role = "read", type = "PROCEDURES", privileges = ["USAGE"] },
    { role = "read", type = "FUNCTIONS", privileges = ["USAGE"] },
    { role = "write", type = "TABLES", privileges = ["INSERT", "UPDATE", "DELETE", "TRUNCATE"] },
    { role = "write", type = "TASKS", privileges = ["MONITOR", "OPERATE"] },
  ]
  future_grants = {
    for pair in setproduct(var.domain.schemas, local.future_grant_specs) :
    "${pair[1].role}/${pair[0]}/${pair[1].type}" => merge(pair[1], { schema = pair[0] })
  }

  create_privileges = [
    "CREATE TABLE", "CREATE VIEW", "CREATE PROCEDURE", "CREATE FUNCTION", "CREATE TASK",
    "CREATE STAGE", "CREATE FILE FORMAT", "CREATE SEQUENCE", "CREATE STREAM",
  ]

  # database role key => account role key
  database_role_grants = {
    "write/engineer"  = { database_role = "write", account_role = "engineer" }
    "create/engineer" = { database_role = "create", account_role = "engineer" }
    "read/analyst"    = { database_role = "read", account_role = "analyst" }
  }
}

# --- Database roles --------------------------------------------------------------------

resource "snowflake_database_role" "this" {
  for_each = var.domain.database_roles

  database = snowflake_database.this.name
  name     = each.value
  comment  = "${var.name} ${each.key} access to ${local.db}."
}

# W implies R.
resource "snowflake_grant_database_role" "read_to_write" {
  database_role_name        = snowflake_database_role.this["read"].fully_qualified_name
  parent_database_role_name = snowflake_database_role.this["write"].fully_qualified_name
}

resource "snowflake_grant_privileges_to_database_role" "read_database" {
  database_role_name = snowflake_database_role.this["read"].fully_qualified_name
  privileges         = ["USAGE"]
  on_database        = snowflake_database.this.name
}

resource "snowflake_grant_privileges_to_database_role" "read_schema" {
  for_each = local.schema_fqn

  database_role_name = snowflake_database_role.this["read"].fully_qualified_name
  privileges         = ["USAGE"]
  on_schema {
    schema_name = each.value
  }
}

resource "snowflake_grant_privileges_to_database_role" "create_schema" {
  for_each = local.schema_fqn

  database_role_name = snowflake_database_role.this["create"].fully_qualified_name
  privileges         = local.create_privileges
  on_schema {
    schema_name = each.value
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

# COPY INTO from the landing stage.
resource "snowflake_grant_privileges_to_database_role" "write_landing_stage" {
  database_role_name = snowflake_database_role.this["write"].fully_qualified_name
  privileges         = ["USAGE"]
  on_schema_object {
    object_type = "STAGE"
    object_name = snowflake_stage_external_s3.landing.fully_qualified_name
  }
}

# --- Account roles ---------------------------------------------------------------------

resource "snowflake_account_role" "this" {
  for_each = var.domain.account_roles

  name    = each.value
  comment = "${var.name} ${each.key} (owner ${var.domain.owner})."
}

resource "snowflake_grant_database_role" "to_account_role" {
  for_each = local.database_role_grants

  database_role_name = snowflake_database_role.this[each.value.database_role].fully_qualified_name
  parent_role_name   = snowflake_account_role.this[each.value.account_role].name
}

# The domain's own warehouse only: Finance's queries on Marketing's views run, and bill, on FINANCE_WH.
resource "snowflake_grant_privileges_to_account_role" "warehouse_usage" {
  account_role_name = snowflake_account_role.this["wh_usage"].name
  privileges        = ["USAGE", "MONITOR"]
  on_account_object {
    object_type = "WAREHOUSE"
    object_name = snowflake_warehouse.this.name
  }
}

resource "snowflake_grant_privileges_to_account_role" "warehouse_operate" {
  account_role_name = snowflake_account_role.this["engineer"].name
  privileges        = ["OPERATE"]
  on_account_object {
    object_type = "WAREHOUSE"
    object_name = snowflake_warehouse.this.name
  }
}

resource "snowflake_grant_account_role" "wh_usage" {
  for_each = toset(["engineer", "analyst"])

  role_name        = snowflake_account_role.this["wh_usage"].name
  parent_role_name = snowflake_account_role.this[each.key].name
}

resource "snowflake_grant_account_role" "to_parent" {
  for_each = toset(["engineer", "analyst"])

  role_name        = snowflake_account_role.this[each.key].name
  parent_role_name = var.parent_role
}
