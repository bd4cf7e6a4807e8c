output "bucket" {
  description = "Landing bucket name."
  value       = aws_s3_bucket.landing.id
}

output "bucket_arn" {
  description = "Landing bucket ARN."
  value       = aws_s3_bucket.landing.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the landing bucket."
  value       = aws_kms_key.landing.arn
}

# Computed from the role's name rather than read from aws_iam_role.snowflake: the storage
# integration needs this ARN before the role can trust the integration's IAM user.
output "snowflake_role_arn" {
  description = "ARN of the IAM role the storage integration assumes."
  value       = local.role_arn
}

output "glue_database" {
  description = "Glue catalog database of the domain."
  value       = aws_glue_catalog_database.this.name
}
