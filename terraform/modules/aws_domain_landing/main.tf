# One domain's landing zone: encrypted, versioned, private S3 bucket; the IAM role the
# domain's Snowflake storage integration assumes (read-only, the domain's prefixes only);
# a Glue catalog database with Lake Formation permissions for the domain team.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  role_arn   = "arn:${local.partition}:iam::${local.account_id}:role/${var.iam_role_name}"
  bucket_arn = "arn:${local.partition}:s3:::${var.bucket}"

  domain_tags = {
    Domain = var.domain
    Owner  = var.owner
  }
}

# --- KMS ------------------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  # In a key policy "*" is the key itself; IAM policies then decide who may use it.
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" means this key only; the account root delegates to IAM.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; the account root delegates to IAM.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key only; the account root delegates to IAM.
  statement {
    sid       = "EnableIAMPolicies"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "landing" {
  description             = "${var.domain} landing bucket ${var.bucket}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.domain_tags
}

resource "aws_kms_alias" "landing" {
  name          = "alias/snowmesh-${lower(var.domain)}-landing"
  target_key_id = aws_kms_key.landing.key_id
}

# --- Landing bucket ---------------------------------------------------------------------

resource "aws_s3_bucket" "landing" {
  #checkov:skip=CKV_AWS_144:Landing files are re-creatable from the source systems; versioning plus lifecycle cover recovery, cross-region replication would double storage.
  bucket = var.bucket
  tags   = local.domain_tags
}

resource "aws_s3_bucket_ownership_controls" "landing" {
  bucket = aws_s3_bucket.landing.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "landing" {
  bucket                  = aws_s3_bucket.landing.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "landing" {
  bucket = aws_s3_bucket.landing.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "landing" {
  bucket = aws_s3_bucket.landing.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.landing.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "landing" {
  bucket = aws_s3_bucket.landing.id

  rule {
    id     = "noncurrent-versions-and-multipart"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.landing]
}

resource "aws_s3_bucket_logging" "landing" {
  bucket        = aws_s3_bucket.landing.id
  target_bucket = var.access_log_bucket
  target_prefix = "${var.bucket}/"
}

# New landing files go to EventBridge (free to enable); a Snowpipe or a scheduler can react.
resource "aws_s3_bucket_notification" "landing" {
  bucket      = aws_s3_bucket.landing.id
  eventbridge = true
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.landing.arn,
      "${aws_s3_bucket.landing.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "landing" {
  bucket = aws_s3_bucket.landing.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.landing]
}

# --- IAM role for the Snowflake storage integration --------------------------------------

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "SnowflakeStorageIntegration"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.snowflake_iam_user_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.snowflake_external_id]
    }
  }
}

resource "aws_iam_role" "snowflake" {
  name                 = var.iam_role_name
  description          = "Assumed by the ${var.domain} Snowflake storage integration; reads the domain's landing prefixes."
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600
  tags                 = local.domain_tags
}

data "aws_iam_policy_document" "read_landing" {
  statement {
    sid       = "ReadDomainPrefixes"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [for p in var.prefixes : "${local.bucket_arn}/${p}/*"]
  }

  statement {
    sid       = "ListDomainPrefixes"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for p in var.prefixes : [p, "${p}/*"]])
    }
  }

  statement {
    sid       = "LocateBucket"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "DecryptLandingObjects"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.landing.arn]
  }
}

resource "aws_iam_policy" "read_landing" {
  name        = "${var.iam_role_name}-read"
  description = "Read-only access to the ${var.domain} landing prefixes for Snowflake."
  policy      = data.aws_iam_policy_document.read_landing.json
  tags        = local.domain_tags
}

resource "aws_iam_role_policy_attachment" "read_landing" {
  role       = aws_iam_role.snowflake.name
  policy_arn = aws_iam_policy.read_landing.arn
}

# --- Glue catalog + Lake Formation -----------------------------------------------------

resource "aws_glue_catalog_database" "this" {
  name         = var.glue_database
  description  = "${var.domain} landing data (s3://${var.bucket}/)."
  location_uri = "s3://${var.bucket}/"

  tags = merge(local.domain_tags, {
    # Tag values may not contain commas: products are space-separated.
    DataProduct = length(var.products) > 0 ? join(" ", var.products) : "none"
  })
}

resource "aws_lakeformation_permissions" "team" {
  principal   = var.team_principal_arn
  permissions = ["ALTER", "CREATE_TABLE", "DESCRIBE", "DROP"]

  database {
    name = aws_glue_catalog_database.this.name
  }
}
