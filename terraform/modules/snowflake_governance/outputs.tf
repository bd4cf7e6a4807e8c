output "database" {
  description = "The governance database."
  value       = snowflake_database.this.name
}

output "database_roles" {
  description = "Fully qualified CATALOG_READER and AUDIT_WRITER database roles."
  value       = { for k, r in snowflake_database_role.this : k => r.fully_qualified_name }
}
