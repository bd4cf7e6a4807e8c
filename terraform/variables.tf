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
