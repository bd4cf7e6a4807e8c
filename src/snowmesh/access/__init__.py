"""Access audit: build the privilege graph of the mesh and prove who can reach what.

``audit_plan`` checks the rendered SQL grants plus Terraform's consumer and governance grants;
``audit_account`` checks what a real account's SHOW GRANTS reports. See docs/security.md.
"""

from snowmesh.access.audit import audit_account, audit_plan
from snowmesh.access.report import AuditReport, CheckResult, Violation

__all__ = ["AuditReport", "CheckResult", "Violation", "audit_account", "audit_plan"]
