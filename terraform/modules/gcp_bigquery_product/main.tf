# A product's contract, published on BigQuery: a dataset (one per product major version:
# BigQuery grants readers per dataset, so a domain-wide dataset would let the readers of one
# product read all of them), a BigLake external table over the Parquet export, and the view
# rendered from the contract (snowmesh.federation: Snowflake SQL transpiled to BigQuery).
# Access entries are authoritative: the declared readers (READER) and the project's owners.
# Resource reference: https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/bigquery_dataset

resource "google_bigquery_dataset" "product" {
  project     = var.product.project
  dataset_id  = var.product.dataset
  location    = var.location
  description = "snowmesh data product ${var.product.domain}.${var.product.product} v${var.product.major}, published from Snowflake (owner ${var.product.owner})."
  labels      = var.product.labels

  default_encryption_configuration {
    kms_key_name = var.kms_key_name
  }

  # Authoritative: without access blocks BigQuery would add projectReaders and projectWriters.
  access {
    role          = "OWNER"
    special_group = "projectOwners"
  }

  dynamic "access" {
    for_each = toset(var.product.group_readers)
    content {
      role           = "READER"
      group_by_email = access.value
    }
  }

  # userByEmail covers users and service accounts alike.
  dynamic "access" {
    for_each = toset(var.product.user_readers)
    content {
      role          = "READER"
      user_by_email = access.value
    }
  }
}

# BigLake: the table reads GCS through this connection's service account, so readers need no
# access to the bucket itself.
resource "google_bigquery_connection" "export" {
  project       = var.product.project
  connection_id = lower("${var.product.dataset}_export")
  location      = var.location
  description   = "Reads the Parquet export of ${var.product.domain}.${var.product.product} from gs://${var.export_bucket}/${var.product.export_prefix}."
  cloud_resource {}
}

# Read-only, and only under the product's export prefix -- plus the bucket itself: listing objects
# (the external table's wildcard URI) is authorised against the bucket's resource.name, not an
# object's, so a prefix-only condition would refuse the list (reasoned, not verified here).
resource "google_storage_bucket_iam_member" "export_reader" {
  bucket = var.export_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_bigquery_connection.export.cloud_resource[0].service_account_id}"

  condition {
    title       = "snowmesh-${lower(var.product.dataset)}-export"
    description = "The bucket (to list it) and the product's export prefix only."
    expression  = "resource.name == \"projects/_/buckets/${var.export_bucket}\" || resource.name.startsWith(\"projects/_/buckets/${var.export_bucket}/objects/${var.product.export_prefix}\")"
  }
}

resource "google_bigquery_table" "export" {
  project             = var.product.project
  dataset_id          = google_bigquery_dataset.product.dataset_id
  table_id            = var.product.export_table
  description         = "The Parquet export of ${var.product.domain}.${var.product.product} (COPY INTO @FEDERATION_GCS/${var.product.export_prefix})."
  labels              = var.product.labels
  deletion_protection = true
  # The contract's columns, in BigQuery's types (rendered by snowmesh.federation).
  schema = var.product.schema_json

  encryption_configuration {
    kms_key_name = var.kms_key_name
  }

  external_data_configuration {
    autodetect    = false
    source_format = "PARQUET"
    source_uris   = ["gs://${var.export_bucket}/${var.product.export_prefix}*"]
    connection_id = google_bigquery_connection.export.name
  }

  depends_on = [google_storage_bucket_iam_member.export_reader]
}

resource "google_bigquery_table" "view" {
  project             = var.product.project
  dataset_id          = google_bigquery_dataset.product.dataset_id
  table_id            = var.product.view
  description         = "${var.product.domain}.${var.product.product} v${var.product.major}: the contract's columns and types, rendered from the contract."
  labels              = var.product.labels
  deletion_protection = true

  #checkov:skip=CKV_GCP_80:a view stores no data; its rows come from the export table, which has the customer-managed key
  view {
    query          = var.product.view_sql
    use_legacy_sql = false
  }

  depends_on = [google_bigquery_table.export]
}
