"""Federated policies from contracts: ``x-classification`` decides which view columns are masked.

The platform owns one tag pair and one masking policy per data type (GOVERNANCE_DB.CATALOG);
the domains own the decision, column by column, in their contracts:

* ``GOVERNANCE_DB.CATALOG.CLASSIFICATION`` (allowed values: the protected classes) carries the
  masking policies, so tagging a column is what masks it;
* ``GOVERNANCE_DB.CATALOG.DATA_DOMAIN`` names the owning domain on the same column, so ONE policy
  per type can unmask for the right domain: the real value for ``GOVERNANCE_UNMASK`` (a steward
  role the platform team creates and grants; not created here) and for the owning domain's
  ``<DOMAIN>_ENGINEER`` and ``<DOMAIN>_ANALYST`` (the domain's own staff: its pipeline and the
  analysts its caller's-rights procedures answer), masked otherwise. Consumers (``CONSUMER_<X>``
  -> ``<X>_ENGINEER``/``ANALYST``) see masked values. The policy asks IS_ROLE_IN_SESSION, which in
  an owner's-rights procedure or a task evaluates the owner's roles, in a caller's-rights
  procedure the caller's (https://docs.snowflake.com/en/sql-reference/functions/is_role_in_session,
  https://docs.snowflake.com/en/sql-reference/functions/invoker_role): docs/security.md, "Who sees
  clear values".

Tags and masking policies need Enterprise edition. They are always rendered; the local account
records them (fakesnow ignores TAG and raises on MASKING POLICY); a real account applies them
when :func:`detect_edition` finds the feature, and the deploy says which happened.

Re-deploys converge: a policy is CREATE ... IF NOT EXISTS followed by ALTER ... SET BODY (so a
changed body applies), and a tag's policies are compared with the account before any
``ALTER TAG ... SET MASKING POLICY`` (Snowflake refuses to set a policy a tag already holds).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from governance import publish as _publish
from governance.sql import ident, literal, split_fqn
from snowmesh.deploy import render as r
from snowmesh.deploy.statements import ENTERPRISE_ONLY, Kind, Statement
from snowmesh.manifest.model import PRODUCTS, Domain, Mesh

GOVERNANCE_DB, POLICY_SCHEMA = "GOVERNANCE_DB", "CATALOG"
CLASSIFICATION_TAG = _publish.CLASSIFICATION_TAG
DOMAIN_TAG = _publish.DOMAIN_TAG
# The producer's allow-list on a column: ',<CONSUMER>,...,' -- the consumer domains whose pipelines
# (their engineer role: owner's-rights builds and tasks) may read the column in clear. Declared in
# the contract as a column tag "unmask-for:<DOMAIN>" (x-tags: it travels through ODCS as a tag).
# The tags, the protected classes and the column-tag SQL are governance.publish's: the scheduled
# PUBLISH_PRODUCT sets them, and this module renders the same for the local walker.
UNMASK_TAG = _publish.UNMASK_TAG
UNMASK_PREFIX = _publish.UNMASK_PREFIX
ADMIN_UNMASK_ROLE = "GOVERNANCE_UNMASK"
PROTECTED = _publish.PROTECTED

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


def unmask_roles(d: Domain) -> tuple[str, ...]:
    """Who sees a domain's protected values besides GOVERNANCE_UNMASK: the owning domain's engineers
    (its owner's-rights builds and tasks run as them) and analysts (its caller's-rights analyst
    procedures run as them)."""
    return (d.engineer_role, d.analyst_role)


def account_statements(mesh: Mesh) -> list[Statement]:
    """Tags, one masking policy per type, and the tag -> policy attachments (no new role: the
    grant graph stays the manifests'; the unmask roles are the domains' ENGINEER and ANALYST roles)."""
    out = []
    out.append(r.tag(*CLASSIFICATION_TAG, PROTECTED, comment="x-classification of a protected product column"))
    out.append(r.tag(*DOMAIN_TAG, [d.name for d in mesh.domains], comment="domain that owns a product column"))
    out.append(r.tag(*UNMASK_TAG, [], comment="consumer domains whose pipelines read a protected column in clear"))
    unmask = [(d.name, role) for d in mesh.domains for role in unmask_roles(d)]
    allow = {"allow": [(d.name, d.engineer_role) for d in mesh.domains], "allow_tag": UNMASK_TAG}
    for type_, masked in _MASKED.items():
        out.append(r.masking_policy(*policy_name(type_), type_, unmask, DOMAIN_TAG, ADMIN_UNMASK_ROLE, masked,
                                    comment="tag-based: masks columns tagged CLASSIFICATION", **allow))
        # IF NOT EXISTS keeps an old body; SET BODY brings it to the rendered one (same body: no-op).
        out.append(r.masking_policy_body(*policy_name(type_), unmask, DOMAIN_TAG, ADMIN_UNMASK_ROLE, masked, **allow))
    for type_ in _MASKED:
        out.append(r.tag_masking_policy(CLASSIFICATION_TAG, policy_name(type_)))
    return out


unmask_for = _publish.unmask_for


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
    return [Statement(Kind.TAG, ".".join(name), sql) for _, sql in _publish.tag_statements(name, d.name, doc)]


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


# --- compare, then apply: a tag's masking policies ------------------------------------------

_Q = r'"[A-Z_][A-Z0-9_$]*"'
_ATTACH = re.compile(rf"ALTER TAG ({_Q}\.{_Q}\.{_Q}) SET MASKING POLICY ({_Q}\.{_Q}\.{_Q})\Z")

Name = tuple[str, ...]


def _unquote(quoted: str) -> Name:
    return split_fqn(quoted.replace('"', ""))


def tag_exists_sql(tag: Sequence[str]) -> str:
    # SHOW TAGS works before GOVERNANCE_DB exists (first deploy); LIKE is a pattern, the row is matched exactly.
    return f"SHOW TAGS LIKE {literal(tag[-1])} IN ACCOUNT"


def attached_policies_sql(tag: Sequence[str]) -> str:
    """The masking policies set on a tag. Snowflake documents POLICY_REFERENCES(REF_ENTITY_NAME,
    REF_ENTITY_DOMAIN => 'TAG') as returning one row per policy set on that tag (POLICY_DB,
    POLICY_SCHEMA, POLICY_NAME, POLICY_KIND); not yet run against a real account."""
    fq = ".".join(split_fqn(".".join(tag)))
    return (f"SELECT POLICY_DB, POLICY_SCHEMA, POLICY_NAME FROM TABLE({ident(tag[0])}.INFORMATION_SCHEMA."
            f"POLICY_REFERENCES(REF_ENTITY_NAME => {literal(fq)}, REF_ENTITY_DOMAIN => 'TAG')) "
            "WHERE POLICY_KIND = 'MASKING_POLICY'")


def attached_policies(target: Any, tag: Name) -> set[Name]:
    """Policies the account's tag holds now; none when the tag does not exist yet."""
    # SHOW TAGS columns: created_on, name, database_name, schema_name, ... (Snowflake's documented order).
    if not any((row[2], row[3], row[1]) == tuple(tag) for row in target.sql(tag_exists_sql(tag))):
        return set()
    return {(str(db), str(schema), str(name)) for db, schema, name in target.sql(attached_policies_sql(tag))}


def converge_tag_policies(target: Any, statements: Sequence[Statement]) -> tuple[list[Statement], int]:
    """Replace the rendered ``ALTER TAG t SET MASKING POLICY p`` statements by what the account needs:
    nothing when ``t`` already holds ``p``; ``UNSET`` of any policy ``t`` holds that the plan does not
    name (a tag holds one policy per type, so a renamed or retyped policy must go first), then
    ``SET`` of the missing ones. Returns (statements, how many SETs were already in place)."""
    wanted: dict[Name, list[tuple[Name, Statement]]] = {}
    for s in statements:
        if s.kind == Kind.MASKING_POLICY and (m := _ATTACH.match(s.sql)):
            wanted.setdefault(_unquote(m.group(1)), []).append((_unquote(m.group(2)), s))
    if not wanted:
        return list(statements), 0
    changes: dict[Name, list[Statement]] = {}
    in_place = 0
    for tag, pairs in wanted.items():
        held = attached_policies(target, tag)
        desired = {p for p, _ in pairs}
        unset = [r.tag_unset_masking_policy(tag, p) for p in sorted(held - desired)]
        sets = [s for p, s in pairs if p not in held]
        in_place += len(pairs) - len(sets)
        changes[tag] = [*unset, *sets]
    out: list[Statement] = []
    for s in statements:
        m = _ATTACH.match(s.sql) if s.kind == Kind.MASKING_POLICY else None
        if m is None:
            out.append(s)
        else:  # a tag's changes go where its first SET was: after the CREATE TAG / POLICY statements
            out += changes.pop(_unquote(m.group(1)), [])
    return out, in_place


@dataclass
class Converged:
    """What a deploy sends after comparing with the account (reads only; see :func:`converge`)."""

    statements: list[Statement]
    edition: str  # local | standard | enterprise ("" when the plan has no tag/masking statement)
    governed: int  # tag/masking statements rendered
    skipped: list[Statement]  # rendered, not applied: Standard edition
    retired: list[str]  # expired versions already retired: nothing sent for them
    in_place: int  # tag policies already set: their SET is not sent


def converge(target: Any, statements: Sequence[Statement]) -> Converged:
    """The statements a deploy really sends, after reading the account: retired versions whose views
    are gone are left alone (snowmesh.versions), tag/masking statements are dropped on Standard
    edition, and a tag's masking policies are set only where missing. ``mesh deploy`` applies
    this; ``mesh deploy --dry-run -c NAME`` prints it."""
    from snowmesh import versions

    kept, retired = versions.unretired(target, statements)
    governed = sum(1 for s in kept if s.kind in ENTERPRISE_ONLY)
    if not governed:
        return Converged(kept, "", 0, [], retired, 0)
    edition = detect_edition(target)
    kept, skipped = split_governed(kept, edition)
    in_place = 0
    if edition == "enterprise":
        kept, in_place = converge_tag_policies(target, kept)
    return Converged(kept, edition, governed, skipped, retired, in_place)


def apply_governed(target: Any, statements: Sequence[Statement], reporter: Any, description: str = "deploy") -> Any:
    """``deploy.apply.apply`` of :func:`converge`'s statements, saying what happened to the
    versions and policies on this edition."""
    from snowmesh.deploy.apply import apply

    c = converge(target, statements)
    if c.retired:
        reporter.info(f"versions: {', '.join(c.retired)} already retired (view dropped): nothing to revoke or drop")
    if c.edition == "local":
        reporter.info(f"policies: {c.governed} tag/masking statement(s) recorded, not enforced "
                      "(the local account cannot run them)")
    elif c.skipped:
        reporter.warn(f"policies: Standard edition: {len(c.skipped)} tag/masking statement(s) rendered but not "
                      "applied (masking policies need Enterprise); protected columns are NOT masked")
    elif c.edition == "enterprise":
        applied = sum(1 for s in c.statements if s.kind in ENTERPRISE_ONLY)
        reporter.info(f"policies: Enterprise edition: {applied} tag/masking statement(s) applied"
                      + (f", {c.in_place} tag policy(ies) already set" if c.in_place else ""))
    return apply(target, c.statements, reporter, description=description)


__all__ = [
    "ADMIN_UNMASK_ROLE",
    "CLASSIFICATION_TAG",
    "DOMAIN_TAG",
    "PROTECTED",
    "UNMASK_TAG",
    "Converged",
    "account_statements",
    "apply_governed",
    "attached_policies",
    "attached_policies_sql",
    "converge",
    "converge_tag_policies",
    "detect_edition",
    "policy_name",
    "policy_type",
    "protected_columns",
    "split_governed",
    "tag_exists_sql",
    "unmask_for",
    "unmask_roles",
    "view_tag_statements",
]
