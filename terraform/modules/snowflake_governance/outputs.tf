output "database" {
  description = "The governance database."
  value       = snowflake_database.this.name
}

output "sources_reader" {
  description = "Fully qualified GOVERNANCE_DB.SOURCES_READER database role."
  value       = snowflake_database_role.sources_reader.fully_qualified_name
}
