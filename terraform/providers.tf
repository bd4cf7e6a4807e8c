# No credentials here, ever. Both providers authenticate from the environment:
#   AWS:       the standard credential chain (AWS_PROFILE, SSO, instance/OIDC role ...).
#   Snowflake: a connection profile in ~/.snowflake/config (var.snowflake_profile) or the
#              SNOWFLAKE_ORGANIZATION_NAME / SNOWFLAKE_ACCOUNT_NAME / SNOWFLAKE_USER /
#              SNOWFLAKE_AUTHENTICATOR=SNOWFLAKE_JWT / SNOWFLAKE_PRIVATE_KEY environment variables
#              (provider v2 reads the key's content from SNOWFLAKE_PRIVATE_KEY, e.g.
#              SNOWFLAKE_PRIVATE_KEY="$(cat key.p8)"; v1's SNOWFLAKE_PRIVATE_KEY_PATH is gone).
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
