"""Federated policies from contracts: ``x-classification`` decides which view columns are masked.

The platform owns one tag pair and one masking policy per data type (GOVERNANCE_DB.CATALOG);
the domains own the decision, column by column, in their contracts:

* ``GOVERNANCE_DB.CATALOG.CLASSIFICATION`` (allowed values: the protected classes) carries the
  masking policies, so tagging a column is what masks it;
* ``GOVERNANCE_DB.CATALOG.DATA_DOMAIN`` names the owning domain on the same column, so ONE policy
  per type can unmask for the right domain: the real value for ``GOVERNANCE_UNMASK`` (a steward
  role the platform team creates and grants; not created here) and for the owning domain's
  ``<DOMAIN>_ENGINEER`` (SYSADMIN inherits it), masked otherwise. Consumers (``CONSUMER_<X>`` ->
  ``<X>_ENGINEER``/``ANALYST``) and the owner's analysts see masked values unless granted.

Tags and masking policies need Enterprise edition. They are always rendered; the local account
records them (fakesnow ignores TAG and raises on MASKING POLICY); a real account applies them
when :func:`detect_edition` finds the feature, and the deploy says which happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snowmesh.deploy import render as r
from snowmesh.deploy.statements import ENTERPRISE_ONLY, Statement
from snowmesh.manifest.model import PRODUCTS, Domain, Mesh

GOVERNANCE_DB, POLICY_SCHEMA = "GOVERNANCE_DB", "CATALOG"
CLASSIFICATION_TAG = (GOVERNANCE_DB, POLICY_SCHEMA, "CLASSIFICATION")
DOMAIN_TAG = (GOVERNANCE_DB, POLICY_SCHEMA, "DATA_DOMAIN")
ADMIN_UNMASK_ROLE = "GOVERNANCE_UNMASK"
# Contract classes that are masked. "restricted" is where PII belongs (docs/contracts.md: public <
# internal < confidential < restricted); "pii" is accepted too should contracts ever spell it so.
PROTECTED = ("confidential", "restricted", "pii")

# Contract Snowflake type -> masking policy argument type, and the masked constant of each.
_MASKED = {
    "VARCHAR": "'***MASKED***'",
    "NUMBER": "NULL",
    "FLOAT": "NULL",
    "BOOLEAN": "NULL",
    "DATE": "NULL",
    "TIMESTAMP_NTZ": "NULL",
}


def policy_type(snowflake_type: str) -> str:
    """``NUMBER(14,2)`` -> ``NUMBER``: a policy's signature matches the base data type."""
    base = snowflake_type.split("(")[0].upper()
    return "VARCHAR" if base in ("STRING", "TEXT") else base


def policy_name(type_: str) -> tuple[str, str, str]:
    return (GOVERNANCE_DB, POLICY_SCHEMA, f"MASK_{type_}")


def unmask_role(d: Domain) -> str:
    """Who sees a domain's protected values besides GOVERNANCE_UNMASK: the builders of its products."""
    return d.engineer_role


def account_statements(mesh: Mesh) -> list[Statement]:
    """Tags, one masking policy per type, and the tag -> policy attachments (no new role: the
    grant graph stays the manifests'; the unmask roles are the domains' ENGINEER roles)."""
    out = []
    out.append(r.tag(*CLASSIFICATION_TAG, PROTECTED, comment="x-classification of a protected product column"))
    out.append(r.tag(*DOMAIN_TAG, [d.name for d in mesh.domains], comment="domain that owns a product column"))
    unmask = [(d.name, unmask_role(d)) for d in mesh.domains]
    for type_, masked in _MASKED.items():
        out.append(r.masking_policy(*policy_name(type_), type_, unmask, DOMAIN_TAG, ADMIN_UNMASK_ROLE, masked,
                                    comment="tag-based: masks columns tagged CLASSIFICATION"))
    for type_ in _MASKED:
        out.append(r.tag_masking_policy(CLASSIFICATION_TAG, policy_name(type_)))
    return out


def protected_columns(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(column, classification, Snowflake type) of every protected column of a contract document."""
    from governance.contract import snowflake_type

    out = []
    for name, prop in doc.get("properties", {}).items():
        cls = str(prop.get("x-classification", "")).lower()
        if cls in PROTECTED:
            out.append((name, cls, snowflake_type(prop)))
    return out


def view_tag_statements(mesh: Mesh, domain: str, view: str, doc: dict[str, Any]) -> list[Statement]:
    """Tag every protected column of a published view (re-run after each CREATE OR REPLACE VIEW)."""
    d = mesh.domain(domain)
    name = (d.database, PRODUCTS, view)
    return [r.column_tags(name, col, [(CLASSIFICATION_TAG, cls), (DOMAIN_TAG, d.name)])
            for col, cls, _ in protected_columns(doc)]


# --- edition and apply (side effects) ------------------------------------------------------

def detect_edition(target: Any) -> str:
    """``local`` | ``enterprise`` | ``standard``: can this account hold tags and masking policies?

    SHOW TAGS is harmless; Standard edition answers "Unsupported feature". Other errors (no
    privilege, say) are not evidence of the edition, so they surface.
    """
    if target.is_local:
        return "local"
    try:
        target.sql("SHOW TAGS IN ACCOUNT")
    except Exception as exc:
        if "unsupported feature" in str(exc).lower():
            return "standard"
        raise
    return "enterprise"


def split_governed(statements: Sequence[Statement], edition: str) -> tuple[list[Statement], list[Statement]]:
    """(statements to apply, Enterprise-only statements skipped on a Standard account)."""
    if edition != "standard":
        return list(statements), []
    keep = [s for s in statements if s.kind not in ENTERPRISE_ONLY]
    return keep, [s for s in statements if s.kind in ENTERPRISE_ONLY]


def apply_governed(target: Any, statements: Sequence[Statement], reporter: Any, description: str = "deploy") -> Any:
    """``deploy.apply.apply`` that knows the edition: say what happens to the policies."""
    from snowmesh.deploy.apply import apply

    governed = [s for s in statements if s.kind in ENTERPRISE_ONLY]
    if not governed:
        return apply(target, statements, reporter, description=description)
    edition = detect_edition(target)
    keep, skipped = split_governed(statements, edition)
    if edition == "local":
        reporter.info(f"policies: {len(governed)} tag/masking statement(s) recorded, not enforced "
                      "(the local account cannot run them)")
    elif skipped:
        reporter.warn(f"policies: Standard edition: {len(skipped)} tag/masking statement(s) rendered but not "
                      "applied (masking policies need Enterprise); protected columns are NOT masked")
    else:
        reporter.info(f"policies: Enterprise edition: {len(governed)} tag/masking statement(s) applied")
    return apply(target, keep, reporter, description=description)


__all__ = ["ADMIN_UNMASK_ROLE", "CLASSIFICATION_TAG", "DOMAIN_TAG", "PROTECTED", "account_statements",
           "apply_governed", "detect_edition", "policy_name", "policy_type", "protected_columns",
           "split_governed", "unmask_role", "view_tag_statements"]
