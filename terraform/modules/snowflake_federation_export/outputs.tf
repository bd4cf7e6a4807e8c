output "stage" {
  description = "The external stage, DB.SCHEMA.NAME."
  value       = "${var.database}.${var.schema}.${var.export.stage}"
}

output "allowed_location" {
  description = "The one location the integration allows: the domain's folder."
  value       = local.url
}

output "azure_consent" {
  description = "Azure only: open consent_url as a tenant admin, then grant app_name Storage Blob Data Contributor on the export container (docs/federation.md). null for GCS."
  value = local.gcs ? null : {
    consent_url = snowflake_storage_integration_azure.this[0].describe_output[0].consent_url
    app_name    = snowflake_storage_integration_azure.this[0].describe_output[0].multi_tenant_app_name
  }
}
