output "bucket" {
  description = "Name of the access-log bucket, once its policy lets S3 deliver logs into it."
  value       = aws_s3_bucket.logs.id

  # Landing buckets point their logging here only after delivery is allowed.
  depends_on = [aws_s3_bucket_policy.logs, aws_s3_bucket_ownership_controls.logs]
}
