# One domain in Snowflake: database and schemas, warehouse with its resource monitor,
# storage integration and the LANDING external stage. Roles and grants: grants.tf.
# On a real account the integration and the stage are this module's alone: the SQL plan renders
# them (same names) only for the local account, where they are recorded, never created.
# Objects inside the schemas (tables, views, procedures, tasks) belong to `mesh deploy`.

locals {
  db          = var.domain.database
  wh          = var.domain.warehouse
  landing_url = "s3://${var.domain.landing.bucket}/"
}

resource "snowflake_database" "this" {
  name    = local.db
  comment = "${var.name} domain: ${var.domain.description} Owner: ${var.domain.owner}"
}

# Managed access: only the schema owner grants on objects in it, never each object's owner,
# so the grants below stay the only way in. Matches the SQL renderer (WITH MANAGED ACCESS).
resource "snowflake_schema" "this" {
  for_each = toset(var.domain.schemas)

  database            = snowflake_database.this.name
  name                = each.key
  with_managed_access = "true"
}

resource "snowflake_resource_monitor" "this" {
  name         = local.wh.monitor
  credit_quota = local.wh.monthly_credit_quota
  frequency    = "MONTHLY"
  # Snowflake requires a start with a frequency; IMMEDIATELY resolves to the creation time.
  start_timestamp = "IMMEDIATELY"

  notify_triggers           = var.monitor_triggers.notify
  suspend_trigger           = var.monitor_triggers.suspend
  suspend_immediate_trigger = var.monitor_triggers.suspend_immediate
  notify_users              = var.monitor_notify_users

  lifecycle {
    # IMMEDIATELY reads back as a concrete timestamp; do not re-apply it every plan.
    ignore_changes = [start_timestamp]
  }
}

resource "snowflake_warehouse" "this" {
  name                = local.wh.name
  warehouse_size      = local.wh.size
  auto_suspend        = local.wh.auto_suspend_seconds
  auto_resume         = "true"
  initially_suspended = true
  resource_monitor    = snowflake_resource_monitor.this.fully_qualified_name
  comment             = "${var.name} domain compute; quota ${local.wh.monthly_credit_quota} credits/month (${local.wh.monitor})."
}

resource "snowflake_storage_integration_aws" "landing" {
  name                      = var.domain.landing.storage_integration
  enabled                   = true
  storage_provider          = "S3"
  storage_allowed_locations = [local.landing_url]
  storage_aws_role_arn      = var.storage_aws_role_arn
  comment                   = "${var.name} landing bucket; IAM role ${var.domain.landing.iam_role} reads only the domain's prefixes."
}

# The LANDING stage in RAW. Its default file format matches the manifests' csv_gzip and
# the SQL renderer's CSV format; COPY INTO names its format explicitly anyway.
resource "snowflake_stage_external_s3" "landing" {
  name                = var.domain.landing.stage
  database            = snowflake_database.this.name
  schema              = snowflake_schema.this[var.domain.raw_schema].name
  url                 = local.landing_url
  storage_integration = snowflake_storage_integration_aws.landing.name
  comment             = "${var.name} landing files (${join(", ", var.domain.landing.prefixes)})."

  file_format {
    csv {
      compression                  = "GZIP"
      skip_header                  = 1
      field_optionally_enclosed_by = "\""
      empty_field_as_null          = "true"
    }
  }
}
