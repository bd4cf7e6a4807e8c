# The Snowflake side of the federated export (docs/federation.md, snowmesh.federation_export): one
# module instance per domain and target cloud that has a federated product, for_each over the
# generated var.federation.exports (keyed <DOMAIN>.<target>). No declaration, no instance.

module "snowflake_federation_export" {
  source   = "./modules/snowflake_federation_export"
  for_each = var.federation.exports

  export        = each.value
  database      = module.snowflake_domain[each.value.domain].database
  schema        = module.snowflake_domain[each.value.domain].products_schema
  engineer_role = module.snowflake_domain[each.value.domain].engineer_role

  gcs_bucket          = var.gcs_export_bucket
  azure_filesystem_id = var.azure_export_filesystem_id
  azure_tenant_id     = var.azure_tenant_id
}

output "federation_azure_consent" {
  description = "Per Azure export integration: the consent URL and the Snowflake app to grant Storage Blob Data Contributor on the export container (docs/federation.md)."
  value       = { for k, m in module.snowflake_federation_export : k => m.azure_consent if m.azure_consent != null }
}
