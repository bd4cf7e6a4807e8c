# Roles and grants of one domain: the same privileges as the SQL plan (snowmesh.deploy.plan,
# _account and _rbac), checked by tests/test_terraform.py (test_domain_grants_equal_the_sql_plan):
#   database roles <DB>.R (the raw reader: everything), <DB>.W (write, inherits R), <DB>.C (create),
#   <DB>.PRODUCT_READER (USAGE on the database and PRODUCTS, SELECT on PRODUCTS' views only);
#   account roles <DOMAIN>_ENGINEER (W + C), <DOMAIN>_ANALYST (PRODUCT_READER: analysts read the
#   published views, where masking is, never a table -- docs/security.md),
#   <DOMAIN>_WH_USAGE (USAGE and OPERATE on the domain's own warehouse only), granted to both;
#   W also holds USAGE on the RAW.LANDING stage.
# Consumer access to other domains' views is in modules/snowflake_consumer_grants.
#
# Written without for-expressions (one resource per grant kind, for_each over the schemas) so
# that the access verifier's evaluator (snowmesh.access.hcl) reads it exactly.

locals {
  create_privileges = [
    "CREATE TABLE", "CREATE VIEW", "CREATE STAGE", "CREATE FILE FORMAT", "CREATE PROCEDURE", "CREATE TASK",
    "CREATE STREAM",
  ]
  write_privileges = ["INSERT", "UPDATE", "DELETE", "TRUNCATE"]

  # database role key => account role key
  database_role_grants = {
    "write/engineer"  = { database_role = "write", account_role = "engineer" }
    "create/engineer" = { database_role = "create", account_role = "engineer" }
  }
}

# --- The product reader: what analysts read ----------------------------------------------

resource "snowflake_database_role" "product_reader" {
  database = snowflake_database.this.name
  name     = var.product_reader_role
  comment  = "${var.name} analysts: the published views of ${local.db}.PRODUCTS only."
}

resource "snowflake_grant_privileges_to_database_role" "product_reader_database" {
  database_role_name = snowflake_database_role.product_reader.fully_qualified_name
  privileges         = ["USAGE"]
  on_database        = snowflake_database.this.name
}

resource "snowflake_grant_privileges_to_database_role" "product_reader_schema" {
  database_role_name = snowflake_database_role.product_reader.fully_qualified_name
  privileges         = ["USAGE"]
  on_schema {
    schema_name = snowflake_schema.this["PRODUCTS"].fully_qualified_name
  }
}

resource "snowflake_grant_privileges_to_database_role" "product_reader_all_views" {
  database_role_name = snowflake_database_role.product_reader.fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    all {
      object_type_plural = "VIEWS"
      in_schema          = snowflake_schema.this["PRODUCTS"].fully_qualified_name
    }
  }
}

resource "snowflake_grant_privileges_to_database_role" "product_reader_future_views" {
  database_role_name = snowflake_database_role.product_reader.fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    future {
      object_type_plural = "VIEWS"
      in_schema          = snowflake_schema.this["PRODUCTS"].fully_qualified_name
    }
  }
}

resource "snowflake_grant_database_role" "product_reader_to_analyst" {
  database_role_name = snowflake_database_role.product_reader.fully_qualified_name
  parent_role_name   = snowflake_account_role.this["analyst"].name
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
  for_each = toset(var.domain.schemas)

  database_role_name = snowflake_database_role.this["read"].fully_qualified_name
  privileges         = ["USAGE"]
  on_schema {
    schema_name = snowflake_schema.this[each.key].fully_qualified_name
  }
}

resource "snowflake_grant_privileges_to_database_role" "create_schema" {
  for_each = toset(var.domain.schemas)

  database_role_name = snowflake_database_role.this["create"].fully_qualified_name
  privileges         = local.create_privileges
  on_schema {
    schema_name = snowflake_schema.this[each.key].fully_qualified_name
  }
}

# Tables and views in every schema: ALL (what exists) and FUTURE (what mesh deploy creates
# later) in pairs, as the SQL plan renders them. Schema-level future grants take precedence
# over database-level ones in Snowflake, so they are per schema.
resource "snowflake_grant_privileges_to_database_role" "read_all_tables" {
  for_each = toset(var.domain.schemas)

  database_role_name = snowflake_database_role.this["read"].fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    all {
      object_type_plural = "TABLES"
      in_schema          = snowflake_schema.this[each.key].fully_qualified_name
    }
  }
}

resource "snowflake_grant_privileges_to_database_role" "read_future_tables" {
  for_each = toset(var.domain.schemas)

  database_role_name = snowflake_database_role.this["read"].fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    future {
      object_type_plural = "TABLES"
      in_schema          = snowflake_schema.this[each.key].fully_qualified_name
    }
  }
}

resource "snowflake_grant_privileges_to_database_role" "read_all_views" {
  for_each = toset(var.domain.schemas)

  database_role_name = snowflake_database_role.this["read"].fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    all {
      object_type_plural = "VIEWS"
      in_schema          = snowflake_schema.this[each.key].fully_qualified_name
    }
  }
}

resource "snowflake_grant_privileges_to_database_role" "read_future_views" {
  for_each = toset(var.domain.schemas)

  database_role_name = snowflake_database_role.this["read"].fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    future {
      object_type_plural = "VIEWS"
      in_schema          = snowflake_schema.this[each.key].fully_qualified_name
    }
  }
}

resource "snowflake_grant_privileges_to_database_role" "write_all_tables" {
  for_each = toset(var.domain.schemas)

  database_role_name = snowflake_database_role.this["write"].fully_qualified_name
  privileges         = local.write_privileges
  on_schema_object {
    all {
      object_type_plural = "TABLES"
      in_schema          = snowflake_schema.this[each.key].fully_qualified_name
    }
  }
}

resource "snowflake_grant_privileges_to_database_role" "write_future_tables" {
  for_each = toset(var.domain.schemas)

  database_role_name = snowflake_database_role.this["write"].fully_qualified_name
  privileges         = local.write_privileges
  on_schema_object {
    future {
      object_type_plural = "TABLES"
      in_schema          = snowflake_schema.this[each.key].fully_qualified_name
    }
  }
}

# LIST and COPY INTO from the landing stage by INGEST, which runs with its owner's (the
# engineer's) rights. The stage is this module's (main.tf); the SQL plan renders the same grant.
resource "snowflake_grant_privileges_to_database_role" "write_landing_stage" {
  database_role_name = snowflake_database_role.this["write"].fully_qualified_name
  privileges         = ["USAGE"]
  on_schema_object {
    object_type = "STAGE"
    object_name = "\"${local.db}\".\"${var.domain.raw_schema}\".\"${snowflake_stage_external_s3.landing.name}\""
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
# OPERATE: resume a suspended warehouse (auto-resume aside) and stop runaway queries on it.
resource "snowflake_grant_privileges_to_account_role" "warehouse_usage" {
  account_role_name = snowflake_account_role.this["wh_usage"].name
  privileges        = ["USAGE", "OPERATE"]
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

# --- The engineer owns PRODUCTS and runs the domain's tasks ---------------------------------
# The domain's PUBLISH (owner's rights, the engineer's) grants the consumers' SELECT on its views;
# in a managed-access schema only the schema owner or MANAGE GRANTS may
# (https://docs.snowflake.com/en/user-guide/security-access-control-configure#label-managed-access-schemas).
# COPY keeps the schema's grants (USAGE to R, PRODUCT_READER and the consumer roles).
resource "snowflake_grant_ownership" "products_schema" {
  account_role_name   = snowflake_account_role.this["engineer"].name
  outbound_privileges = "COPY"
  on {
    object_type = "SCHEMA"
    object_name = snowflake_schema.this["PRODUCTS"].fully_qualified_name
  }
}

# The tasks' owner needs EXECUTE TASK to run them (https://docs.snowflake.com/en/user-guide/tasks-intro#label-tasks-privileges);
# the engineer creates and owns the domain's task graph (snowmesh.deploy.tasks).
resource "snowflake_grant_privileges_to_account_role" "engineer_execute_task" {
  account_role_name = snowflake_account_role.this["engineer"].name
  privileges        = ["EXECUTE TASK"]
  on_account        = true
}

# --- The governance role's read of STAGING -------------------------------------------------
# VALIDATE_PRODUCT (owner's rights, the governance role's: it writes the audit no domain may write)
# reads the staged tables it validates: USAGE on the database and STAGING, SELECT on its tables.
resource "snowflake_database_role" "validator" {
  database = snowflake_database.this.name
  name     = "VALIDATOR"
  comment  = "The governance role's VALIDATE_PRODUCT: reads ${local.db}.STAGING only."
}

resource "snowflake_grant_privileges_to_database_role" "validator_database" {
  database_role_name = snowflake_database_role.validator.fully_qualified_name
  privileges         = ["USAGE"]
  on_database        = snowflake_database.this.name
}

resource "snowflake_grant_privileges_to_database_role" "validator_schema" {
  database_role_name = snowflake_database_role.validator.fully_qualified_name
  privileges         = ["USAGE"]
  on_schema {
    schema_name = snowflake_schema.this["STAGING"].fully_qualified_name
  }
}

resource "snowflake_grant_privileges_to_database_role" "validator_all_tables" {
  database_role_name = snowflake_database_role.validator.fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    all {
      object_type_plural = "TABLES"
      in_schema          = snowflake_schema.this["STAGING"].fully_qualified_name
    }
  }
}

resource "snowflake_grant_privileges_to_database_role" "validator_future_tables" {
  database_role_name = snowflake_database_role.validator.fully_qualified_name
  privileges         = ["SELECT"]
  on_schema_object {
    future {
      object_type_plural = "TABLES"
      in_schema          = snowflake_schema.this["STAGING"].fully_qualified_name
    }
  }
}
# Granted to the governance role by modules/snowflake_governance (which runs after this module).
