variable "domain" {
  description = "Domain name as in its manifest (MARKETING, FINANCE ...)."
  type        = string
}

variable "owner" {
  description = "Owning team's contact, from the manifest (tag Owner)."
  type        = string
}

variable "products" {
  description = "Names of the data products the domain publishes (tag DataProduct on the Glue database)."
  type        = list(string)
}

variable "bucket" {
  description = "Landing bucket name, from the manifest's landing.bucket."
  type        = string
}

variable "prefixes" {
  description = "S3 prefixes of the domain's sources (no slashes); the Snowflake role may read only these."
  type        = list(string)

  validation {
    condition     = length(var.prefixes) > 0 && alltrue([for p in var.prefixes : can(regex("^[a-z0-9][a-z0-9_-]*$", p))])
    error_message = "prefixes must be a non-empty list of plain lower-case path segments."
  }
}

variable "iam_role_name" {
  description = "Name of the IAM role the domain's Snowflake storage integration assumes."
  type        = string
}

variable "glue_database" {
  description = "Name of the domain's Glue catalog database."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving this bucket's server access logs."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions expire."
  type        = number
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 7
}

variable "snowflake_iam_user_arn" {
  description = "STORAGE_AWS_IAM_USER_ARN of the domain's Snowflake storage integration (DESCRIBE INTEGRATION); the only principal trusted by the role."
  type        = string
}

variable "snowflake_external_id" {
  description = "STORAGE_AWS_EXTERNAL_ID of the domain's Snowflake storage integration; required as sts:ExternalId."
  type        = string
}

variable "team_principal_arn" {
  description = "IAM principal of the domain team, granted Lake Formation permissions on the Glue database."
  type        = string
}
