"""Proof 5 (policies): every protected column of every served product view is masked.

A column whose contract ``x-classification`` is protected (snowmesh.policies.PROTECTED) must,
in the rendered statements, carry the CLASSIFICATION tag with its class, and that tag must hold
a masking policy for the column's data type (a tag masks only the types it has policies for).
Read from the statements by their rendered forms only; anything else is not evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date

from snowmesh.access.report import CheckResult
from snowmesh.deploy.statements import Kind, Statement
from snowmesh.manifest.model import PRODUCTS, Mesh

_Q = r'"[A-Z_][A-Z0-9_$]*"'
_FQN = rf"{_Q}(?:\.{_Q})*"
_POLICY = re.compile(rf"CREATE MASKING POLICY IF NOT EXISTS ({_FQN}) AS \(VAL ([A-Z_]+)\) RETURNS ([A-Z_]+) -> ")
_TAG_POLICY = re.compile(rf"ALTER TAG ({_FQN}) SET MASKING POLICY ({_FQN})\Z")
_COLUMN_TAG = re.compile(rf"ALTER VIEW ({_FQN}) MODIFY COLUMN ({_Q}) SET TAG (.+)\Z")
_SET = re.compile(rf"({_FQN}) = '([^']*)'")


def _name(quoted: str) -> str:
    return quoted.replace('"', "")


def served_statements(mesh: Mesh, today: date | None = None) -> list[Statement]:
    """The plan plus what publishing every product runs: where tags and policies are rendered."""
    from snowmesh.deploy.plan import build_plan
    from snowmesh.deploy.procedure_rights import publish_sent

    plan = build_plan(mesh, local=False, today=today)
    return [*plan.statements, *publish_sent(mesh, today or date.today())]


def check_policies(mesh: Mesh, statements: Iterable[Statement] | None = None, today: date | None = None) -> CheckResult:
    from snowmesh import policies, versions

    today = today or date.today()
    stmts = list(served_statements(mesh, today) if statements is None else statements)
    out = CheckResult("policies")
    policy_type: dict[str, str] = {}
    tag_policies: dict[str, set[str]] = {}
    column_tags: dict[tuple[str, str], dict[str, str]] = {}
    for s in stmts:
        if s.kind not in (Kind.TAG, Kind.MASKING_POLICY):
            continue
        if m := _POLICY.match(s.sql):
            if m.group(2) == m.group(3):
                policy_type[_name(m.group(1))] = m.group(2)
        elif m := _TAG_POLICY.match(s.sql):
            tag_policies.setdefault(_name(m.group(1)), set()).add(_name(m.group(2)))
        elif m := _COLUMN_TAG.match(s.sql):
            sets = {_name(t): v for t, v in _SET.findall(m.group(3))}
            column_tags.setdefault((_name(m.group(1)), _name(m.group(2))), {}).update(sets)
    tag = ".".join(policies.CLASSIFICATION_TAG)
    masked_types = {policy_type[p] for p in tag_policies.get(tag, ()) if p in policy_type}
    for p in mesh.products:
        db = mesh.domain(p.domain).database
        served = [(p.view, p.contract)] + [(v.view, v.contract) for v in versions.previous(mesh, p, today)]
        for view, contract in served:
            fq = f"{db}.{PRODUCTS}.{view}"
            doc = json.loads((mesh.root / contract).read_text())
            for col, cls, type_ in policies.protected_columns(doc):
                have = column_tags.get((fq, col), {})
                base = policies.policy_type(type_)
                if have.get(tag) != cls:
                    out.fail(f"{fq}.{col} is {cls} in {contract} but carries no {tag} = '{cls}' tag: not masked")
                elif base not in masked_types:
                    out.fail(f"{fq}.{col} ({type_}) is tagged {cls}, but {tag} has no masking policy for {base}")
                else:
                    out.proven.append(f"{fq}.{col} ({cls}, {base}) masked via {tag}")
    if not out.proven and not out.violations:
        out.proven.append("no protected column in any served view")
    return out


__all__ = ["check_policies", "served_statements"]
