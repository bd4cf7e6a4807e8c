# ---------------------------------------------------------------------------------------
# Generated from the manifests (domains.auto.tfvars.json, by snowmesh.infra.tfvars).
# Never edit those values by hand: change domains/*/domain.yml and regenerate.
# ---------------------------------------------------------------------------------------

variable "domains" {
  description = "Every mesh domain, keyed by domain name (MARKETING, FINANCE ...). Generated from domains/*/domain.yml."
  type = map(object({
    owner           = string
    description     = string
    database        = string
    schemas         = list(string)
    raw_schema      = string
    products_schema = string
    database_roles = object({
      read   = string
      write  = string
      create = string
    })
    account_roles = object({
      engineer = string
      analyst  = string
      wh_usage = string
    })
    warehouse = object({
      name                 = string
      size                 = string
      auto_suspend_seconds = number
      monthly_credit_quota = number
      monitor              = string
    })
    landing = object({
      bucket              = string
      prefixes            = list(string)
      stage               = string
      storage_integration = string
      iam_role            = string
      glue_database       = string
    })
    products = map(object({
      view      = string
      major     = number
      consumers = list(string)
    }))
  }))

  validation {
    condition     = alltrue([for name, d in var.domains : contains(d.schemas, d.raw_schema) && contains(d.schemas, d.products_schema)])
    error_message = "Each domain's raw_schema and products_schema must be among its schemas."
  }
}

variable "consumer_grants" {
  description = "One entry per (producer, consumer) pair, keyed <PRODUCER_DB>.CONSUMER_<CONSUMER>: the published views in the producer's PRODUCTS schema that the consumer domain may SELECT. Generated from the products' consumers lists."
  type = map(object({
    producer          = string
    producer_database = string
    consumer          = string
    database_role     = string
    schema            = string
    views             = list(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for k, g in var.consumer_grants : contains(keys(var.domains), g.producer) && contains(keys(var.domains), g.consumer) && g.producer != g.consumer])
    error_message = "consumer_grants must name two different domains that exist in var.domains."
  }
}

variable "governance" {
  description = "The governance database (catalog and audit schemas), its sources-reader database role and the source registry table. Generated."
  type = object({
    database       = string
    schemas        = list(string)
    sources_reader = string
    sources_table = object({
      schema = string
      name   = string
    })
  })
}

variable "federation" {
  description = "Products published on BigQuery and Azure Synapse too, per target keyed <DOMAIN>.<PRODUCT>: names, the view SQL rendered from the contract, columns and the declared readers. Generated (snowmesh.federation)."
  type = object({
    bigquery = map(object({
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
    }))
    synapse = map(object({
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
    }))
    # The Snowflake side, per <DOMAIN>.<target>: the storage integration and external stage
    # federation_snowflake.tf creates, the engineer role that may use the stage, and the folders.
    exports = map(object({
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
    }))
  })
  default = { bigquery = {}, synapse = {}, exports = {} }
}

# ---------------------------------------------------------------------------------------
# Set per account in terraform.tfvars (see terraform.tfvars.example).
# ---------------------------------------------------------------------------------------

variable "aws_region" {
  description = "AWS region of the landing buckets. Use the region of the Snowflake account to avoid egress charges."
  type        = string
}

variable "access_log_bucket" {
  description = "Name of the S3 bucket that receives the landing buckets' server access logs (globally unique)."
  type        = string
}

variable "domain_team_principal_arns" {
  description = "IAM principal ARN (role or group-assumed role) of each domain team, keyed by domain name; it gets Lake Formation permissions on the domain's Glue database."
  type        = map(string)

  validation {
    condition     = alltrue([for name in keys(var.domains) : contains(keys(var.domain_team_principal_arns), name)])
    error_message = "domain_team_principal_arns needs an entry for every domain in var.domains."
  }

  validation {
    condition     = alltrue([for arn in values(var.domain_team_principal_arns) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", arn))])
    error_message = "Each domain team principal must be an IAM role or user ARN."
  }
}

variable "lake_formation_admin_arns" {
  description = "IAM principals that administer Lake Formation in this account (the data lake settings' admins; include the identity Terraform runs as, which grants the domain teams' permissions). The list replaces the account's admins."
  type        = list(string)

  validation {
    condition     = length(var.lake_formation_admin_arns) > 0 && alltrue([for arn in var.lake_formation_admin_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", arn))])
    error_message = "At least one Lake Formation admin, each an IAM role or user ARN."
  }
}

variable "snowflake_profile" {
  description = "Connection profile in ~/.snowflake/config for the Snowflake provider. null: use the SNOWFLAKE_* environment variables."
  type        = string
  default     = null
}

variable "snowflake_role" {
  description = "Snowflake role Terraform runs as. It needs CREATE DATABASE/WAREHOUSE/ROLE/INTEGRATION, MANAGE GRANTS and resource monitor rights: ACCOUNTADMIN, or a platform role granted those."
  type        = string
  default     = "ACCOUNTADMIN"
}

variable "functional_roles_parent" {
  description = "Account role that every <DOMAIN>_ENGINEER and <DOMAIN>_ANALYST role is granted to, so the role hierarchy stays connected."
  type        = string
  default     = "SYSADMIN"
}

variable "monitor_notify_users" {
  description = "Snowflake users (with verified e-mail) notified by every domain's resource monitor."
  type        = list(string)
  default     = []
}

variable "published_views_exist" {
  description = "false on the first apply: the published secure views do not exist until `mesh deploy` creates them. Set to true afterwards; Terraform then grants SELECT on exactly the declared views to each consumer database role."
  type        = bool
  default     = false
}

variable "source_registry_exists" {
  description = "false on the first apply: GOVERNANCE_DB.CATALOG.SOURCES does not exist until `mesh deploy --connection` creates it (and grants SELECT on it to SOURCES_READER). Set to true afterwards; Terraform then holds the same grant."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions in the landing and log buckets expire."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "tags" {
  description = "Extra tags for every AWS resource (Project and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

# --- the federation layer (federation.tf); needed only when a product declares the target ---

variable "gcp_location" {
  description = "BigQuery location of the federated datasets (US, EU, or a region); the export bucket must be in it."
  type        = string
  default     = "US"
}

variable "gcs_export_bucket" {
  description = "GCS bucket Snowflake's FEDERATION_GCS stages write the Parquet exports to. null: no BigQuery target is declared."
  type        = string
  default     = null

  validation {
    condition     = length(var.federation.bigquery) == 0 || var.gcs_export_bucket != null
    error_message = "A product federates to BigQuery: set gcs_export_bucket."
  }
}

variable "gcp_kms_key_name" {
  description = "Cloud KMS key (projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>) for the federated datasets' tables."
  type        = string
  default     = null

  validation {
    condition     = length(var.federation.bigquery) == 0 || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.gcp_kms_key_name))
    error_message = "A product federates to BigQuery: set gcp_kms_key_name to a Cloud KMS key name."
  }
}

variable "azure_resource_group" {
  description = "Resource group of the federated products' Synapse workspaces. null: no Synapse target is declared."
  type        = string
  default     = null

  validation {
    condition     = length(var.federation.synapse) == 0 || var.azure_resource_group != null
    error_message = "A product federates to Synapse: set azure_resource_group."
  }
}

variable "azure_location" {
  description = "Azure region of the Synapse workspaces (the export storage account's region)."
  type        = string
  default     = "westeurope"
}

variable "azure_export_filesystem_id" {
  description = "ADLS Gen2 filesystem Snowflake's FEDERATION_AZURE stages write to, as azurerm identifies it: https://<account>.dfs.core.windows.net/<filesystem> (also the workspaces' default storage)."
  type        = string
  default     = null

  validation {
    condition     = length(var.federation.synapse) == 0 || can(regex("^https://[a-z0-9]{3,24}\\.dfs\\.core\\.windows\\.net/[a-z0-9][a-z0-9-]{2,62}$", var.azure_export_filesystem_id))
    error_message = "A product federates to Synapse: set azure_export_filesystem_id to https://<account>.dfs.core.windows.net/<filesystem>."
  }
}

variable "azure_export_storage_account_id" {
  description = "Resource id of the storage account holding the export filesystem."
  type        = string
  default     = null

  validation {
    condition     = length(var.federation.synapse) == 0 || var.azure_export_storage_account_id != null
    error_message = "A product federates to Synapse: set azure_export_storage_account_id."
  }
}

variable "azure_tenant_id" {
  description = "Entra tenant (a GUID) of the export storage account: the Snowflake Azure storage integrations are created for it."
  type        = string
  default     = null

  validation {
    condition     = length(var.federation.synapse) == 0 || can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.azure_tenant_id))
    error_message = "A product federates to Synapse: set azure_tenant_id to the storage account's Entra tenant id."
  }
}

variable "azure_sql_admin" {
  description = "Entra principal (login, object id, tenant id) administering the Synapse workspaces' SQL; Entra-only authentication, no password."
  type = object({
    login     = string
    object_id = string
    tenant_id = string
  })
  default = null

  validation {
    condition     = length(var.federation.synapse) == 0 || var.azure_sql_admin != null
    error_message = "A product federates to Synapse: set azure_sql_admin."
  }
}
