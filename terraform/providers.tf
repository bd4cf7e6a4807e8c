# No credentials here, ever. Both providers authenticate from the environment:
#   AWS:       the standard credential chain (AWS_PROFILE, SSO, instance/OIDC role ...).
#   Snowflake: a connection profile in ~/.snowflake/config (var.snowflake_profile) or the
#              SNOWFLAKE_ORGANIZATION_NAME / SNOWFLAKE_ACCOUNT_NAME / SNOWFLAKE_USER /
#              SNOWFLAKE_AUTHENTICATOR / SNOWFLAKE_PRIVATE_KEY_PATH environment variables.
# See docs/terraform.md.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, {
      Project   = "snowmesh"
      ManagedBy = "terraform"
    })
  }
}

provider "snowflake" {
  profile = var.snowflake_profile
  role    = var.snowflake_role
}
