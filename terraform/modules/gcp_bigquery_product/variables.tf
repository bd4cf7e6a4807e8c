# One federated product on BigQuery. Every value but the account settings (location, bucket,
# key) comes from domains.auto.tfvars.json (federation.bigquery), rendered by snowmesh.federation.

variable "product" {
  description = "The product's generated federation entry: domain, owner, product, project, dataset, view, view_sql, export_table, export_prefix, schema_json, labels, group_readers, user_readers."
  type = object({
    domain        = string
    owner         = string
    product       = string
    major         = number
    project       = string
    dataset       = string
    view          = string
    view_sql      = string
    export_table  = string
    export_prefix = string
    schema_json   = string
    labels        = map(string)
    readers       = list(string)
    group_readers = list(string)
    user_readers  = list(string)
  })
}

variable "location" {
  description = "BigQuery location of the dataset and the connection (e.g. US, EU); the export bucket must be in it."
  type        = string
}

variable "export_bucket" {
  description = "GCS bucket that Snowflake's external stage FEDERATION_GCS writes the Parquet exports to."
  type        = string
}

variable "kms_key_name" {
  description = "Cloud KMS key (projects/.../cryptoKeys/...) encrypting the dataset's tables (customer-managed)."
  type        = string
}
