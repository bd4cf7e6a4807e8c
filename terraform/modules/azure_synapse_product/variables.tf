# One federated product on Azure Synapse. Every value but the account settings comes from
# domains.auto.tfvars.json (federation.synapse), rendered by snowmesh.federation.

variable "product" {
  description = "The product's generated federation entry: domain, owner, product, workspace, database, view, export_table, export_prefix, setup_sql, reader_sql, readers, role_assignments."
  type = object({
    domain        = string
    owner         = string
    product       = string
    major         = number
    workspace     = string
    database      = string
    view          = string
    view_sql      = string
    export_table  = string
    export_prefix = string
    setup_sql     = string
    reader_sql    = string
    readers       = list(string)
    role_assignments = map(object({
      principal_type = string
      principal_id   = string
    }))
  })
}

variable "resource_group_name" {
  description = "Resource group holding the product's Synapse workspace."
  type        = string
}

variable "location" {
  description = "Azure region of the workspace (the export storage account's region avoids egress)."
  type        = string
}

variable "export_filesystem_id" {
  description = "ADLS Gen2 filesystem Snowflake's external stage FEDERATION_AZURE writes the Parquet exports to, as azurerm identifies it: https://<account>.dfs.core.windows.net/<filesystem>. Also the workspace's default storage and the external data source's location."
  type        = string
}

variable "export_storage_account_id" {
  description = "Resource id of the storage account holding the export filesystem (scope of the workspace identity's read access)."
  type        = string
}

variable "sql_admin" {
  description = "Entra principal administering the workspace's SQL (Entra-only authentication: no SQL password exists)."
  type = object({
    login     = string
    object_id = string
    tenant_id = string
  })
}
