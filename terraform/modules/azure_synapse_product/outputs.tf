output "workspace" {
  description = "The product's Synapse workspace name."
  value       = azurerm_synapse_workspace.product.name
}

output "sql_endpoint" {
  description = "Serverless SQL endpoint readers connect to (database = the product's database)."
  value       = local.sql_endpoint
}

output "view" {
  description = "The federated view, database.dbo.view."
  value       = "${var.product.database}.dbo.${var.product.view}"
}

output "readers" {
  description = "The declared readers, exactly as the manifest lists them."
  value       = var.product.readers
}

output "identity_principal_id" {
  description = "The workspace's system-assigned identity (reads the export)."
  value       = azurerm_synapse_workspace.product.identity[0].principal_id
}
