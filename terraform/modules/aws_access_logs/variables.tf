variable "bucket" {
  description = "Name of the access-log bucket (globally unique)."
  type        = string
}

variable "source_buckets" {
  description = "Buckets allowed to deliver server access logs here."
  type        = list(string)
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent log object versions expire."
  type        = number
}

variable "log_retention_days" {
  description = "Days after which access-log objects expire."
  type        = number
  default     = 365
}
