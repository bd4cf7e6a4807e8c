variable "database" {
  description = "Governance database name (GOVERNANCE_DB)."
  type        = string
}

variable "schemas" {
  description = "Schemas of the governance database: CATALOG (product registry) and AUDIT (validation results)."
  type        = list(string)

  validation {
    condition     = contains(var.schemas, "CATALOG") && contains(var.schemas, "AUDIT")
    error_message = "The governance database needs the CATALOG and AUDIT schemas."
  }
}

variable "catalog_readers" {
  description = "Account roles that may read the catalog (every domain's engineer and analyst), keyed by a static label."
  type        = map(string)
}

variable "audit_writers" {
  description = "Account roles that append contract-validation results to AUDIT (every domain's engineer), keyed by a static label."
  type        = map(string)
}
