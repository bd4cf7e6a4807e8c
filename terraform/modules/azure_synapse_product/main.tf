# A product's contract, published on Azure Synapse: one workspace per product (tagged
# DataProduct/Domain/Owner, system-assigned identity, Entra-only authentication), whose
# serverless SQL pool gets a database with the external table over the Parquet export and the
# view rendered from the contract (snowmesh.federation: Snowflake SQL transpiled to T-SQL).
# Readers: a Synapse role assignment each, and a database user with SELECT on the view only.
# Resource reference: https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/synapse_workspace

locals {
  tags = {
    DataProduct = var.product.product
    Domain      = var.product.domain
    Owner       = var.product.owner
  }
  sql_endpoint = "${var.product.workspace}-ondemand.sql.azuresynapse.net"
}

resource "azurerm_synapse_workspace" "product" {
  name                                 = var.product.workspace
  resource_group_name                  = var.resource_group_name
  location                             = var.location
  storage_data_lake_gen2_filesystem_id = var.export_filesystem_id
  azuread_authentication_only          = true
  managed_virtual_network_enabled      = true
  data_exfiltration_protection_enabled = true
  tags                                 = local.tags

  identity {
    type = "SystemAssigned"
  }

  #checkov:skip=CKV_AZURE_240:the workspace holds no product data (the serverless pool reads the Parquet export in place, encrypted by the storage account); a workspace key needs a Key Vault activation step left to the landing zone (docs/federation.md)
}

# Every query against the product's view is audited (to Azure Monitor; route it with the
# workspace's diagnostic settings).
resource "azurerm_synapse_workspace_extended_auditing_policy" "product" {
  synapse_workspace_id   = azurerm_synapse_workspace.product.id
  log_monitoring_enabled = true
  retention_in_days      = 90
}

resource "azurerm_synapse_workspace_aad_admin" "sql" {
  synapse_workspace_id = azurerm_synapse_workspace.product.id
  login                = var.sql_admin.login
  object_id            = var.sql_admin.object_id
  tenant_id            = var.sql_admin.tenant_id
}

# The serverless pool reads the export as the workspace's identity: read-only on the storage
# account that Snowflake writes to.
resource "azurerm_role_assignment" "export_reader" {
  scope                = var.export_storage_account_id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_synapse_workspace.product.identity[0].principal_id
}

# The declared readers, and nobody else: "Synapse User" lets them see the workspace; the
# database grants below let them SELECT the view.
resource "azurerm_synapse_role_assignment" "reader" {
  for_each = var.product.role_assignments

  synapse_workspace_id = azurerm_synapse_workspace.product.id
  role_name            = "Synapse User"
  principal_id         = each.value.principal_id
  principal_type       = each.value.principal_type
}

# azurerm has no resource for objects inside a serverless SQL database, so the rendered T-SQL
# runs through sqlcmd with the caller's Entra login (ActiveDirectoryDefault: az login or the
# CI's federated identity; no password). It re-runs when the rendered SQL changes.
resource "terraform_data" "serverless_objects" {
  triggers_replace = [var.product.setup_sql, var.product.reader_sql, var.export_filesystem_id]

  provisioner "local-exec" {
    interpreter = ["/bin/bash", "-c"]
    command     = <<-EOT
      set -euo pipefail
      dir="$(mktemp -d)"; trap 'rm -rf "$dir"' EXIT
      printf '%s\n' "IF DB_ID('$DB') IS NULL CREATE DATABASE [$DB];" > "$dir/master.sql"
      {
        printf '%s\n' "IF NOT EXISTS (SELECT * FROM sys.symmetric_keys WHERE name = '##MS_DatabaseMasterKey##') CREATE MASTER KEY;"
        printf '%s\n' "IF NOT EXISTS (SELECT * FROM sys.database_scoped_credentials WHERE name = 'snowmesh_workspace_identity') CREATE DATABASE SCOPED CREDENTIAL [snowmesh_workspace_identity] WITH IDENTITY = 'Managed Identity';"
        printf '%s\n' "IF NOT EXISTS (SELECT * FROM sys.external_data_sources WHERE name = 'snowmesh_export') CREATE EXTERNAL DATA SOURCE [snowmesh_export] WITH (LOCATION = '$LOCATION', CREDENTIAL = [snowmesh_workspace_identity]);"
        printf '%s\n' "$SETUP_SQL" "GO" "$READER_SQL"
      } > "$dir/objects.sql"
      sqlcmd -S "$ENDPOINT" -d master --authentication-method ActiveDirectoryDefault -b -i "$dir/master.sql"
      sqlcmd -S "$ENDPOINT" -d "$DB" --authentication-method ActiveDirectoryDefault -b -i "$dir/objects.sql"
    EOT
    environment = {
      ENDPOINT   = local.sql_endpoint
      DB         = var.product.database
      LOCATION   = var.export_filesystem_id
      SETUP_SQL  = var.product.setup_sql
      READER_SQL = var.product.reader_sql
    }
  }

  depends_on = [
    azurerm_synapse_workspace_aad_admin.sql,
    azurerm_role_assignment.export_reader,
    azurerm_synapse_role_assignment.reader,
  ]
}
