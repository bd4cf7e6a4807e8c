output "database_role" {
  description = "Fully qualified consumer database role."
  value       = snowflake_database_role.consumer.fully_qualified_name
}

output "selectable_views" {
  description = "Views the consumer database role may SELECT."
  value       = sort([for v, g in snowflake_grant_privileges_to_database_role.select_view : g.on_schema_object[0].object_name])
}
