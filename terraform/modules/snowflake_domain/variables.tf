variable "name" {
  description = "Domain name (MARKETING, FINANCE ...)."
  type        = string
}

variable "domain" {
  description = "The domain's entry of the generated var.domains (see the root variables.tf for the shape)."
  type = object({
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
  })

  validation {
    condition     = var.domain.warehouse.monthly_credit_quota > 0 && var.domain.warehouse.auto_suspend_seconds > 0
    error_message = "The warehouse needs a positive monthly credit quota and auto-suspend."
  }
}

variable "storage_aws_role_arn" {
  description = "ARN of the AWS IAM role the storage integration assumes (from the domain's AWS landing module)."
  type        = string
}

variable "parent_role" {
  description = "Account role the domain's functional roles are granted to (keeps the hierarchy connected, e.g. SYSADMIN)."
  type        = string
}

variable "monitor_notify_users" {
  description = "Snowflake users notified by the resource monitor."
  type        = list(string)
  default     = []
}

variable "monitor_triggers" {
  description = "Resource monitor thresholds in percent of the monthly quota; the same as the SQL renderer's."
  type = object({
    notify            = list(number)
    suspend           = number
    suspend_immediate = number
  })
  default = {
    notify            = [80]
    suspend           = 100
    suspend_immediate = 110
  }
}

variable "product_reader_role" {
  description = "The database role analysts read the published views through (snowmesh.deploy.plan.PRODUCT_READER)."
  type        = string
  default     = "PRODUCT_READER"

  validation {
    condition     = can(regex("^[A-Z_][A-Z0-9_]*$", var.product_reader_role))
    error_message = "A plain, upper-case Snowflake identifier."
  }
}
