# One domain's federated exports to one cloud. `export` comes from domains.auto.tfvars.json
# (federation.exports, rendered by snowmesh.federation); the rest are the domain module's names
# and the account settings of the export bucket / filesystem.

variable "export" {
  description = "The generated entry: domain, target, cloud (GCS | AZURE), database, schema, stage, integration, engineer_role, prefix (the domain's folder), products (their folders)."
  type = object({
    domain        = string
    target        = string
    cloud         = string
    database      = string
    schema        = string
    stage         = string
    integration   = string
    engineer_role = string
    prefix        = string
    products      = list(string)
  })

  validation {
    condition     = contains(["GCS", "AZURE"], var.export.cloud)
    error_message = "export.cloud is GCS or AZURE."
  }
}

variable "database" {
  description = "The domain database (module.snowflake_domain output: orders the stage after it)."
  type        = string
}

variable "schema" {
  description = "The domain's PRODUCTS schema, where the stage lives beside the published views."
  type        = string
}

variable "engineer_role" {
  description = "<DOMAIN>_ENGINEER: owns and runs the EXPORT tasks, the only role granted the stage."
  type        = string
}

variable "gcs_bucket" {
  description = "GCS bucket of the exports (cloud GCS)."
  type        = string
  default     = null
}

variable "azure_filesystem_id" {
  description = "ADLS Gen2 filesystem of the exports, https://<account>.dfs.core.windows.net/<filesystem> (cloud AZURE)."
  type        = string
  default     = null
}

variable "azure_tenant_id" {
  description = "Entra tenant of the export storage account (cloud AZURE)."
  type        = string
  default     = null
}
