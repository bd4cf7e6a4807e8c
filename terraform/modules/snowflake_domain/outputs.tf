output "database" {
  description = "The domain database."
  value       = snowflake_database.this.name
}

output "products_schema" {
  description = "Name of the schema holding the published secure views (created before this output is known)."
  value       = snowflake_schema.this[var.domain.products_schema].name
}

output "warehouse" {
  description = "The domain warehouse."
  value       = snowflake_warehouse.this.name
}

output "resource_monitor" {
  description = "The warehouse's resource monitor."
  value       = snowflake_resource_monitor.this.name
}

output "engineer_role" {
  description = "<DOMAIN>_ENGINEER account role."
  value       = snowflake_account_role.this["engineer"].name
}

output "analyst_role" {
  description = "<DOMAIN>_ANALYST account role."
  value       = snowflake_account_role.this["analyst"].name
}

output "functional_roles" {
  description = "The engineer and analyst account roles, keyed engineer / analyst (what a consumer grant is given to)."
  value = {
    engineer = snowflake_account_role.this["engineer"].name
    analyst  = snowflake_account_role.this["analyst"].name
  }
}

output "database_roles" {
  description = "Fully qualified R / W / C database roles."
  value       = { for k, r in snowflake_database_role.this : k => r.fully_qualified_name }
}

output "storage_integration" {
  description = "The domain's storage integration."
  value       = snowflake_storage_integration_aws.landing.name
}

output "storage_integration_iam_user_arn" {
  description = "STORAGE_AWS_IAM_USER_ARN: the AWS principal Snowflake uses; the IAM role trusts only it."
  value       = snowflake_storage_integration_aws.landing.describe_output[0].iam_user_arn
}

output "storage_integration_external_id" {
  description = "STORAGE_AWS_EXTERNAL_ID the IAM role requires as sts:ExternalId."
  value       = snowflake_storage_integration_aws.landing.describe_output[0].external_id
}

output "landing_stage" {
  description = "Fully qualified external stage on the landing bucket."
  value       = snowflake_stage_external_s3.landing.fully_qualified_name
}
