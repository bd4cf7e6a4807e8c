terraform {
  required_version = ">= 1.9.0"

  required_providers {
    # 2.18: snowflake_storage_integration_gcs / _azure and snowflake_stage_external_gcs / _azure
    # are stable, no preview_features_enabled (MIGRATION_GUIDE.md, v2.17.x -> v2.18.0).
    snowflake = {
      source  = "snowflakedb/snowflake"
      version = "~> 2.18"
    }
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 8.0"
    }
  }
}
