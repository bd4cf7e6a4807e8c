terraform {
  # 1.9+: variable validations may refer to other variables (see variables.tf).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
    # Provider v2. 2.18 is the first release where snowflake_storage_integration_aws and
    # snowflake_stage_external_s3 are stable, so no preview_features_enabled flag is needed.
    snowflake = {
      source  = "snowflakedb/snowflake"
      version = "~> 2.18"
    }
    # The federation layer (federation.tf, docs/federation.md).
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 8.0"
    }
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.0, < 5.0"
    }
  }
}
