# The federation layer (docs/federation.md): products that declare `federation:` in their
# domain manifest are published on BigQuery and/or Azure Synapse as well, one module instance
# per (product, target), for_each over the generated var.federation. With no declaration the
# maps are empty and nothing is created on GCP or Azure.
#
# No credentials here. Both providers authenticate from the environment:
#   google:  Application Default Credentials (gcloud auth application-default login, or the
#            CI's workload identity federation; GOOGLE_APPLICATION_CREDENTIALS for a key file
#            kept outside the repository).
#   azurerm: az login, or ARM_CLIENT_ID / ARM_TENANT_ID / ARM_USE_OIDC=true in CI, and
#            ARM_SUBSCRIPTION_ID (azurerm 4 requires a subscription).

provider "google" {}

provider "azurerm" {
  features {}
}

module "gcp_bigquery_product" {
  source   = "./modules/gcp_bigquery_product"
  for_each = var.federation.bigquery

  product       = each.value
  location      = var.gcp_location
  export_bucket = var.gcs_export_bucket
  kms_key_name  = var.gcp_kms_key_name
}

module "azure_synapse_product" {
  source   = "./modules/azure_synapse_product"
  for_each = var.federation.synapse

  product                   = each.value
  resource_group_name       = var.azure_resource_group
  location                  = var.azure_location
  export_filesystem_id      = var.azure_export_filesystem_id
  export_storage_account_id = var.azure_export_storage_account_id
  sql_admin                 = var.azure_sql_admin
}
