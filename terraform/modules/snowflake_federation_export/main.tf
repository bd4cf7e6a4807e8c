# The Snowflake side of one domain's federated exports to one cloud (docs/federation.md):
#   - a storage integration allowed only on the domain's folder of the export bucket / container;
#   - the external stage <DB>.PRODUCTS.FEDERATION_<GCS|AZURE> on that folder;
#   - USAGE on the stage for the domain's engineer, the role that owns and runs the graph's
#     EXPORT_<P>_<CLOUD> tasks (COPY INTO @stage). Nobody else is granted the stage or the integration;
#   - GCS only: write access for the integration's Snowflake-generated service account, on the
#     domain's folder. (Azure: a consent step, outputs.tf.)
# The stage is Terraform's, like the LANDING one: its URL needs the bucket / storage account name,
# an account setting only Terraform holds, and the GCP / Azure modules read the same variables.
# Resource reference (stable since provider 2.18):
# https://registry.terraform.io/providers/snowflakedb/snowflake/latest/docs/resources/storage_integration_gcs

locals {
  gcs = var.export.cloud == "GCS"
  # Snowflake names an ADLS Gen2 filesystem by its blob endpoint: azure://<account>.blob.core.windows.net/<container>/
  azure_root = var.azure_filesystem_id == null ? "" : replace(replace(var.azure_filesystem_id, "https://", "azure://"), ".dfs.core.windows.net/", ".blob.core.windows.net/")
  url        = local.gcs ? "gcs://${var.gcs_bucket}/${var.export.prefix}" : "${local.azure_root}/${var.export.prefix}"
  comment    = "${var.export.domain} federated exports (${var.export.target}): ${join(", ", var.export.products)}"
}

resource "snowflake_storage_integration_gcs" "this" {
  count = local.gcs ? 1 : 0

  name                      = var.export.integration
  enabled                   = true
  storage_allowed_locations = [local.url]
  comment                   = local.comment
}

resource "snowflake_storage_integration_azure" "this" {
  count = local.gcs ? 0 : 1

  name                      = var.export.integration
  enabled                   = true
  storage_allowed_locations = [local.url]
  azure_tenant_id           = var.azure_tenant_id
  comment                   = local.comment
}

resource "snowflake_stage_external_gcs" "this" {
  count = local.gcs ? 1 : 0

  name                = var.export.stage
  database            = var.database
  schema              = var.schema
  url                 = local.url
  storage_integration = snowflake_storage_integration_gcs.this[0].name
  comment             = local.comment
}

resource "snowflake_stage_external_azure" "this" {
  count = local.gcs ? 0 : 1

  name                = var.export.stage
  database            = var.database
  schema              = var.schema
  url                 = local.url
  storage_integration = snowflake_storage_integration_azure.this[0].name
  comment             = local.comment
}

# USAGE is what COPY INTO @stage needs of an external stage
# (https://docs.snowflake.com/en/user-guide/security-access-control-privileges#stage-privileges).
# The SQL plan renders the same grant (snowmesh.federation_export.plan_statements).
resource "snowflake_grant_privileges_to_account_role" "stage_usage" {
  account_role_name = var.engineer_role
  privileges        = ["USAGE"]
  on_schema_object {
    object_type = "STAGE"
    object_name = "\"${var.database}\".\"${var.schema}\".\"${var.export.stage}\""
  }

  depends_on = [snowflake_stage_external_gcs.this, snowflake_stage_external_azure.this]
}

# The integration's service account writes (and, with OVERWRITE, replaces) the objects under the
# domain's folder, and lists the bucket (a list is authorised against the bucket's resource.name,
# hence the first half of the condition; reasoned, not verified here). Snowflake's guide
# (https://docs.snowflake.com/en/user-guide/data-load-gcs-config) also lists storage.buckets.get,
# which objectAdmin lacks: docs/federation.md says what to grant if the first export is refused.
resource "google_storage_bucket_iam_member" "writer" {
  count = local.gcs ? 1 : 0

  bucket = var.gcs_bucket
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${snowflake_storage_integration_gcs.this[0].describe_output[0].service_account}"

  condition {
    title       = "snowmesh-${lower(var.export.domain)}-federation-export"
    description = "The bucket (to list it) and the ${var.export.domain} folder only."
    expression  = "resource.name == \"projects/_/buckets/${var.gcs_bucket}\" || resource.name.startsWith(\"projects/_/buckets/${var.gcs_bucket}/objects/${var.export.prefix}\")"
  }
}
