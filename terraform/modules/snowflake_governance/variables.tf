variable "database" {
  description = "Governance database name (GOVERNANCE_DB)."
  type        = string
}

variable "schemas" {
  description = "Schemas of the governance database: CATALOG (product and source registries) and AUDIT (validation and run results)."
  type        = list(string)

  validation {
    condition     = contains(var.schemas, "CATALOG") && contains(var.schemas, "AUDIT")
    error_message = "The governance database needs the CATALOG and AUDIT schemas."
  }
}

variable "sources_reader" {
  description = "Name of the database role that may read the source registry (SOURCES_READER)."
  type        = string
}

variable "sources_table" {
  description = "The source registry INGEST() reads: its schema (CATALOG) and table name (SOURCES)."
  type = object({
    schema = string
    name   = string
  })

  validation {
    condition     = var.sources_table.schema == "CATALOG"
    error_message = "The source registry lives in CATALOG; nothing in AUDIT is readable by a domain role."
  }
}

variable "grant_sources_select" {
  description = "false until `mesh deploy` has created the source registry table (a grant on a missing table fails)."
  type        = bool
}

variable "domains" {
  description = "The generated var.domains: every domain's engineer (the role INGEST() and PUBLISH() run as) gets the sources reader; the governance role gets each domain database's VALIDATOR."
  type = map(object({
    database = string
    account_roles = object({
      engineer = string
      analyst  = string
    })
  }))
}

variable "governance_role" {
  description = "The account role that owns GOVERNANCE_DB's objects (snowmesh.deploy.plan.GOVERNANCE_ROLE)."
  type        = string
  default     = "MESH_GOVERNANCE"

  validation {
    condition     = can(regex("^[A-Z_][A-Z0-9_]*$", var.governance_role))
    error_message = "A plain, upper-case Snowflake identifier."
  }
}

variable "parent_role" {
  description = "The role the governance role is granted to (functional_roles_parent, SYSADMIN)."
  type        = string
}
