# Lake Formation data lake settings. The domains' aws_lakeformation_permissions on their Glue
# databases (modules/aws_domain_landing) are in effect only once Lake Formation governs the Data
# Catalog with named administrators; the AWS provider's aws_lakeformation_permissions page says
# to declare aws_lakeformation_data_lake_settings first. `admins` replaces the account's list.
resource "aws_lakeformation_data_lake_settings" "this" {
  admins = var.lake_formation_admin_arns
}
