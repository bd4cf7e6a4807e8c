"""Terraform's consumer and governance grants, read from the ``.tf`` files (python-hcl2) and
evaluated offline.

``terraform plan`` needs providers and credentials; the verifier needs neither. It parses the
root module, ``modules/snowflake_consumer_grants`` and ``modules/snowflake_governance``, binds
the committed generated variables
(``domains.auto.tfvars.json``), and evaluates just the expression forms those files use:
references (``var``, ``local``, ``each``, ``module.<m>[k].<output>``, ``<resource>.<name>[k].<attr>``),
string templates, ``toset()``, list literals and ``?:``. Anything else raises
:class:`TerraformError` naming the file and attribute -- it is never guessed at.

Evaluated in the steady state (``published_views_exist = source_registry_exists = true``): the
grants Terraform holds once ``mesh deploy`` has created the views and the source registry. Every resulting grant has ``source="terraform"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from governance.sql import IdentifierError
from snowmesh.access.grants import strict_ident
from snowmesh.access.graph import Graph, PrivilegeGrant, Role, RoleGrant, Securable
from snowmesh.access.hcl import Module, Scope, TerraformError, block, child_scope, instances, load_module
from snowmesh.infra.tfvars import TFVARS_PATH

CONSUMER_MODULE = "snowflake_consumer_grants"
GOVERNANCE_MODULE = "snowflake_governance"
STEADY_STATE = {"published_views_exist": True, "source_registry_exists": True}
SOURCE = "terraform"


def root_scope(tf_dir: Path, overrides: dict[str, Any]) -> Scope:
    path = tf_dir / TFVARS_PATH.name  # the committed, generated file: what `terraform apply` would use
    if not path.is_file():
        raise TerraformError(f"{path} not found", hint="run `python -m snowmesh.infra.tfvars`")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise TerraformError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    root = load_module(tf_dir)

    def var(name: str) -> Any:
        if name in overrides:
            return overrides[name]
        if name in values:
            return values[name]
        if "default" in root.variables.get(name, {}):
            return root.variables[name]["default"]
        raise ValueError(f"variable {name} has no value")

    return Scope(root, var)


# --- grants ------------------------------------------------------------------------------

_PART = r'(?:"[^"]*"|[^."]+)'


def _name(value: Any, parts: int) -> tuple[str, ...]:
    if not isinstance(value, str) or not re.fullmatch(rf"{_PART}(\.{_PART})*", value):
        raise ValueError(f"{value!r} is not an object name")
    names = tuple(strict_ident(p[1:-1] if p.startswith('"') else p) for p in re.findall(_PART, value))
    if len(names) != parts:
        raise ValueError(f"{value!r}: expected a {parts}-part name")
    return names


def _on(body: dict[str, Any], s: Scope) -> Securable:
    if s.eval(body.get("on_account", False)) is True:  # a global privilege (APPLY MASKING POLICY ...)
        return Securable("ACCOUNT", ("ACCOUNT",))
    if "on_database" in body:
        return Securable("DATABASE", _name(s.eval(body["on_database"]), 1))
    if (b := block(body, "on_account_object")) is not None:
        return Securable(s.eval(b["object_type"]), _name(s.eval(b["object_name"]), 1))
    if (b := block(body, "on_schema")) is not None:
        if set(b) != {"schema_name"}:
            raise ValueError("only on_schema { schema_name } is supported")
        return Securable("SCHEMA", _name(s.eval(b["schema_name"]), 2))
    if (b := block(body, "on_schema_object")) is not None:
        for scope in ("all", "future"):
            if (inner := block(b, scope)) is not None:
                plural = s.eval(inner["object_type_plural"])
                return Securable(plural.removesuffix("S"), _name(s.eval(inner["in_schema"]), 2), scope.upper())
        return Securable(s.eval(b["object_type"]), _name(s.eval(b["object_name"]), 3))
    raise ValueError("no supported on_* block")


def _edges(type_: str, body: dict[str, Any], s: Scope) -> Iterator[Role | RoleGrant | PrivilegeGrant]:
    def role(attr: str) -> Role:
        value = s.eval(body[attr])
        if "database_role" in attr:
            db, name = _name(value, 2)
            return Role(name, db)
        return Role(*_name(value, 1))

    if type_ == "snowflake_database_role":
        yield Role(*_name(s.eval(body["name"]), 1), *_name(s.eval(body["database"]), 1))
    elif type_ == "snowflake_account_role":
        yield Role(*_name(s.eval(body["name"]), 1))
    elif type_ in ("snowflake_grant_privileges_to_database_role", "snowflake_grant_privileges_to_account_role"):
        to = role("database_role_name" if "database_role_name" in body else "account_role_name")
        privileges = ["ALL PRIVILEGES"] if s.eval(body.get("all_privileges", False)) else s.eval(body["privileges"])
        on = _on(body, s)
        for p in privileges:
            yield PrivilegeGrant(p, on, to, SOURCE)
    elif type_ == "snowflake_grant_ownership":  # on { object_type, object_name } only
        b = block(body, "on")
        if b is None or set(b) != {"object_type", "object_name"}:
            raise ValueError("only on { object_type object_name } is supported")
        type_name = s.eval(b["object_type"])
        yield PrivilegeGrant("OWNERSHIP", Securable(type_name, _name(s.eval(b["object_name"]), 2 if type_name == "SCHEMA"
                                                                         else 3)), role("account_role_name"), SOURCE)
    elif type_ in ("snowflake_grant_database_role", "snowflake_grant_account_role"):
        granted = role("database_role_name" if "database_role_name" in body else "role_name")
        parent = "parent_database_role_name" if "parent_database_role_name" in body else "parent_role_name"
        yield RoleGrant(granted, role(parent), SOURCE)


def module_graph(module: Module, scope: Scope) -> Graph:
    g = Graph()
    for (type_, name), body in sorted(module.resources.items()):
        where = f"{module.path}: {type_}.{name}"
        try:
            for inst in instances(body, scope):
                g.extend(_edges(type_, body, scope.bind(inst)))
        except (ValueError, KeyError, TypeError, IdentifierError) as exc:
            raise TerraformError(f"{where}: cannot evaluate: {exc}",
                                 hint="the access verifier evaluates only the forms in docs/security.md") from None
    return g


def called_module_graph(tf_dir: Path, name: str) -> Graph:
    """Every role and grant the root's ``module.<name>`` creates, for every instance."""
    try:
        root = root_scope(tf_dir, STEADY_STATE)
        call = root.module.calls[name]
        child = load_module(tf_dir / str(call["source"]))
        scopes = [child_scope(child, call, root.bind(inst)) for inst in instances(call, root)]
    except (ValueError, KeyError, TypeError) as exc:
        raise TerraformError(f"{tf_dir / 'main.tf'}: module {name}: cannot evaluate: {exc}") from None
    g = Graph()
    for s in scopes:
        g = g.merged(module_graph(child, s))
    return g


def consumer_grants_graph(tf_dir: Path) -> Graph:
    """Every role and grant ``module.snowflake_consumer_grants`` creates, for every instance."""
    return called_module_graph(tf_dir, CONSUMER_MODULE)


def governance_graph(tf_dir: Path) -> Graph:
    """GOVERNANCE_DB's database role, its grants and its holders (``module.snowflake_governance``)."""
    return called_module_graph(tf_dir, GOVERNANCE_MODULE)


__all__ = ["CONSUMER_MODULE", "GOVERNANCE_MODULE", "TerraformError", "called_module_graph", "consumer_grants_graph",
           "governance_graph", "load_module"]
