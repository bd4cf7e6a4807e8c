# The mesh's infrastructure: one instantiation of each domain module per manifest domain,
# driven by the generated domains.auto.tfvars.json (for_each over var.domains).
#
# Terraform owns account-level objects, databases, schemas, warehouses, monitors, roles,
# grants, the storage integrations, the external LANDING stages and all of AWS. `mesh deploy`
# owns what lives inside the schemas (tables, views, file formats, tasks); `snow snowpark deploy`
# the procedures. See docs/terraform.md.

# --- AWS ------------------------------------------------------------------------------

module "access_logs" {
  source = "./modules/aws_access_logs"

  bucket                             = var.access_log_bucket
  source_buckets                     = [for name, d in var.domains : d.landing.bucket]
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
}

module "aws_domain_landing" {
  source   = "./modules/aws_domain_landing"
  for_each = var.domains

  domain        = each.key
  owner         = each.value.owner
  products      = sort(keys(each.value.products))
  bucket        = each.value.landing.bucket
  prefixes      = each.value.landing.prefixes
  iam_role_name = each.value.landing.iam_role
  glue_database = each.value.landing.glue_database

  access_log_bucket                  = module.access_logs.bucket
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  team_principal_arn                 = var.domain_team_principal_arns[each.key]
  # Lake Formation permissions take effect once the data lake settings name the admins.
  depends_on = [aws_lakeformation_data_lake_settings.this]

  # The trust relationship comes from the domain's storage integration. The integration in
  # turn only needs the role's ARN, which the module computes from its name, so there is no
  # dependency cycle and a single apply creates both sides.
  snowflake_iam_user_arn = module.snowflake_domain[each.key].storage_integration_iam_user_arn
  snowflake_external_id  = module.snowflake_domain[each.key].storage_integration_external_id
}

# --- Snowflake ------------------------------------------------------------------------

module "snowflake_domain" {
  source   = "./modules/snowflake_domain"
  for_each = var.domains

  name                 = each.key
  domain               = each.value
  storage_aws_role_arn = module.aws_domain_landing[each.key].snowflake_role_arn
  parent_role          = var.functional_roles_parent
  monitor_notify_users = var.monitor_notify_users
}

# Consumers get one database role per producer database: USAGE on the database and on
# PRODUCTS, SELECT on exactly the published views they are declared for. Never RAW,
# STAGING or a table.
module "snowflake_consumer_grants" {
  source   = "./modules/snowflake_consumer_grants"
  for_each = var.consumer_grants

  consumer          = each.value.consumer
  producer_database = module.snowflake_domain[each.value.producer].database
  schema            = module.snowflake_domain[each.value.producer].products_schema
  database_role     = each.value.database_role
  views             = each.value.views
  grant_view_select = var.published_views_exist
  grantee_roles     = module.snowflake_domain[each.value.consumer].functional_roles
}

module "snowflake_governance" {
  source = "./modules/snowflake_governance"

  database             = var.governance.database
  schemas              = var.governance.schemas
  sources_reader       = var.governance.sources_reader
  sources_table        = var.governance.sources_table
  grant_sources_select = var.source_registry_exists
  parent_role          = var.functional_roles_parent
  # The engineers' names come from the generated variables; depends_on orders the role grants
  # after the domain modules have created those roles.
  domains    = var.domains
  depends_on = [module.snowflake_domain]
}
