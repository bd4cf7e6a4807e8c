output "domains" {
  description = "What Terraform created for each domain."
  value = {
    for name, d in var.domains : name => {
      database            = module.snowflake_domain[name].database
      warehouse           = module.snowflake_domain[name].warehouse
      resource_monitor    = module.snowflake_domain[name].resource_monitor
      functional_roles    = module.snowflake_domain[name].functional_roles
      landing_stage       = module.snowflake_domain[name].landing_stage
      storage_integration = module.snowflake_domain[name].storage_integration
      landing_bucket      = module.aws_domain_landing[name].bucket
      snowflake_role_arn  = module.aws_domain_landing[name].snowflake_role_arn
      glue_database       = module.aws_domain_landing[name].glue_database
    }
  }
}

output "consumer_database_roles" {
  description = "Consumer database roles: <PRODUCER_DB>.CONSUMER_<CONSUMER> => views it may SELECT (empty until published_views_exist = true)."
  value       = { for k, m in module.snowflake_consumer_grants : k => m.selectable_views }
}

output "access_log_bucket" {
  description = "Bucket holding the landing buckets' server access logs."
  value       = module.access_logs.bucket
}
