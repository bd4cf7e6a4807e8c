output "dataset" {
  description = "The dataset's full id, project:dataset."
  value       = google_bigquery_dataset.product.id
}

output "view" {
  description = "The federated view, project.dataset.view."
  value       = "${var.product.project}.${var.product.dataset}.${var.product.view}"
}

output "readers" {
  description = "The declared readers, exactly as the manifest lists them."
  value       = var.product.readers
}

output "connection_service_account" {
  description = "Service account the BigLake connection reads the export with."
  value       = google_bigquery_connection.export.cloud_resource[0].service_account_id
}
