variable "consumer" {
  description = "Consumer domain name (FINANCE ...)."
  type        = string
}

variable "producer_database" {
  description = "Producer's database; the consumer database role lives in it."
  type        = string
}

variable "schema" {
  description = "Schema holding the published views. Always PRODUCTS: consumers never reach RAW or STAGING."
  type        = string

  validation {
    condition     = var.schema == "PRODUCTS"
    error_message = "Consumers may only be granted access to the PRODUCTS schema."
  }
}

variable "database_role" {
  description = "Name of the consumer database role, CONSUMER_<CONSUMER>."
  type        = string
}

variable "views" {
  description = "Published secure views (<PRODUCT>_V<MAJOR>) the consumer is declared for."
  type        = list(string)

  validation {
    condition     = alltrue([for v in var.views : can(regex("^[A-Z][A-Z0-9_]*_V[0-9]+$", v))])
    error_message = "Only published views named <PRODUCT>_V<MAJOR> can be granted to consumers."
  }
}

variable "grant_view_select" {
  description = "Grant SELECT on the views. false until `mesh deploy` has created them (GRANT on a missing view fails)."
  type        = bool
}

variable "grantee_roles" {
  description = "Consumer's account roles receiving the database role, keyed engineer / analyst (<CONSUMER>_ENGINEER, <CONSUMER>_ANALYST)."
  type        = map(string)

  validation {
    condition     = sort(keys(var.grantee_roles)) == sort(["analyst", "engineer"])
    error_message = "A consumer grant goes to exactly the consumer's engineer and analyst roles."
  }
}
