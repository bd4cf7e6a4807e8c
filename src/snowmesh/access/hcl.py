"""Just enough Terraform to evaluate a module offline: python-hcl2 parsing and a strict evaluator.

Supported: references (``var``, ``local``, ``each``, ``module.<m>[k].<output>``,
``<resource>.<name>[k].<attr>`` including the computed ``fully_qualified_name`` of database
roles and schemas), string templates, ``toset()``, list literals, ``true``/``false`` and
``cond ? a : b``. Anything else raises ``ValueError`` -- never a guess. The caller turns that
into an error naming the file and resource.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from lark.exceptions import LarkError

from snowmesh.errors import InputError


class TerraformError(InputError):
    """A Terraform file the verifier cannot read or evaluate exactly."""


def _unquote(s: str) -> str:
    # python-hcl2 8 keeps the quotes (and escapes) of string literals and block labels; 7 does not.
    s = s[1:-1] if len(s) >= 2 and s[0] == '"' and s[-1] == '"' else s
    return s.replace('\\"', '"')


def normalize(v: Any) -> Any:
    if isinstance(v, dict):
        return {_unquote(k): normalize(x) for k, x in v.items() if not k.startswith("__")}
    if isinstance(v, list):
        return [normalize(x) for x in v]
    return _unquote(v) if isinstance(v, str) else v


@dataclass
class Module:
    path: Path
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_module(path: Path) -> Module:
    """Parse every ``*.tf`` file of one module directory (cached while the files are unchanged)."""
    if not path.is_dir():
        raise TerraformError(f"{path}: Terraform module directory not found")
    files = sorted(path.glob("*.tf"))
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _load(path.resolve(), stamp)


@functools.lru_cache(maxsize=32)
def _load(path: Path, stamp: tuple[tuple[str, int, int], ...]) -> Module:
    mod = Module(path)
    for name, _, _ in stamp:
        f = path / name
        try:
            with f.open() as fh:
                doc = normalize(hcl2.load(fh))
        except (LarkError, ValueError) as exc:
            raise TerraformError(f"{f}: not valid HCL: {str(exc).splitlines()[0]}") from None
        for block in doc.get("resource", []):
            for type_, named in block.items():
                for name_, body in named.items():
                    mod.resources[(type_, name_)] = body
        for kind, target in (("output", mod.outputs), ("module", mod.calls), ("variable", mod.variables)):
            for block in doc.get(kind, []):
                target.update(block)
        for block in doc.get("locals", []):
            mod.locals.update(block)
    return mod


def block(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if isinstance(value, list):  # python-hcl2 returns nested blocks as lists
        if len(value) != 1:
            raise ValueError(f"expected one {name} block, found {len(value)}")
        value = value[0]
    return value


_TOKENS = re.compile(r'\s*(?:(?P<str>"(?:[^"\\$]|\\.|\$\{(?:[^{}"]|"[^"]*")*\}|\$(?!\{))*")'
                     r"|(?P<num>\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_-]*)|(?P<p>[.\[\](),?:]))")


class _Lazy:
    """A reference that is only meaningful once traversed (``module.x``, ``resource.y``)."""

    def attr(self, name: str) -> Any:
        raise ValueError(f"unsupported reference .{name}")

    def index(self, key: Any) -> Any:
        raise ValueError(f"unsupported index [{key!r}]")


class _Namespace(_Lazy):
    def __init__(self, get: Callable[[str], Any]) -> None:
        self.get = get

    def attr(self, name: str) -> Any:
        return self.get(name)


class _Instances(_Lazy):
    """A resource or module call: indexed by its for_each key, or used directly without one."""

    def __init__(self, body: dict[str, Any], scope: Scope, resolve: Callable[[Scope], _Lazy]) -> None:
        self.body, self.scope, self.resolve = body, scope, resolve

    def index(self, key: Any) -> Any:
        for k, v in instances(self.body, self.scope):
            if k == key:
                return self.resolve(self.scope.bind((k, v)))
        raise ValueError(f"no instance [{key!r}]")

    def attr(self, name: str) -> Any:
        if "for_each" in self.body:
            raise ValueError(f"instance key missing before .{name}")
        return self.resolve(self.scope).attr(name)


class _Resource(_Lazy):
    def __init__(self, type_: str, body: dict[str, Any], scope: Scope) -> None:
        self.type, self.body, self.scope = type_, body, scope

    def attr(self, name: str) -> Any:
        if name in self.body:
            return self.scope.eval(self.body[name])
        if name == "fully_qualified_name" and self.type in ("snowflake_database_role", "snowflake_schema"):
            return f'"{self.attr("database")}"."{self.attr("name")}"'
        raise ValueError(f"{self.type} has no attribute {name} the verifier can compute")


class Scope:
    def __init__(self, module: Module, var: Callable[[str], Any], each: tuple[Any, Any] | None = None) -> None:
        self.module, self.var, self.each = module, var, each

    def bind(self, each: tuple[Any, Any] | None) -> Scope:
        return Scope(self.module, self.var, each)

    def eval(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.eval(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.eval(v) for v in value]
        return self.template(value) if isinstance(value, str) else value

    def template(self, text: str) -> Any:
        if "$${" in text or "%%{" in text:
            raise ValueError("template escapes ($${, %%{) are not supported")
        parts: list[tuple[bool, Any]] = []  # (is an interpolation, value)
        i = 0
        while i < len(text):
            if text.startswith("%{", i):
                raise ValueError("template directives (%{...}) are not supported")
            if text.startswith("${", i):
                end = _closing(text, i + 2)
                parts.append((True, _Expr(self, text[i + 2:end]).parse()))
                i = end + 1
            else:
                j = text.find("${", i)
                j = len(text) if j < 0 else j
                parts.append((False, text[i:j]))
                i = j
        if len(parts) == 1 and parts[0][0]:
            return parts[0][1]  # "${x}" alone yields x itself, not its string form
        for _, p in parts:
            if not isinstance(p, str | int) or isinstance(p, bool):
                raise TypeError(f"cannot interpolate {type(p).__name__} into a string")
        return "".join(str(p) for _, p in parts)

    def ref(self, root: str) -> Any:
        if root == "var":
            return _Namespace(self.var)
        if root == "local":
            return _Namespace(lambda n: self.bind(None).eval(self.module.locals[n]))
        if root == "each":
            if self.each is None:
                raise ValueError("each.* outside a for_each")
            return {"key": self.each[0], "value": self.each[1]}
        if root == "module":
            return _Namespace(self._module_call)
        types = {t for t, _ in self.module.resources}
        if root in types:
            return _Namespace(lambda n: _Instances(
                self.module.resources[(root, n)], self.bind(None),
                lambda s, n=n: _Resource(root, self.module.resources[(root, n)], s),
            ))
        raise ValueError(f"unsupported reference {root!r}")

    def _module_call(self, name: str) -> _Instances:
        call = self.module.calls[name]
        child = load_module(self.module.path / str(call["source"]))
        return _Instances(call, self.bind(None), lambda s: _Namespace(
            lambda out: child_scope(child, call, s).eval(child.outputs[out]["value"])))


def _closing(text: str, i: int) -> int:
    """Index of the ``}`` closing an interpolation whose body starts at ``i``."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i = _closing(text, i + 2) + 1 if text.startswith("${", i) else i + (2 if text[i] == "\\" else 1)
        elif c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise ValueError("unterminated ${")


class _Expr:
    """A recursive-descent evaluator for the small expression subset (see the module doc)."""

    def __init__(self, scope: Scope, text: str) -> None:
        self.scope, self.text, self.pos = scope, text, 0
        self.toks: list[tuple[str, str]] = []
        while self.pos < len(text) and text[self.pos:].strip():
            m = _TOKENS.match(text, self.pos)
            if not m:
                raise ValueError(f"unsupported expression {text!r}")
            self.toks.append((m.lastgroup or "", m.group(m.lastgroup or 0)))
            self.pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self, value: str) -> bool:
        if self.peek() == ("p", value):
            self.i += 1
            return True
        return False

    def need(self, value: str) -> None:
        if not self.take(value):
            raise ValueError(f"expected {value!r} in {self.text!r}")

    def parse(self) -> Any:
        value = self.expr()
        if self.peek()[0] != "end":
            raise ValueError(f"unsupported expression {self.text!r}")
        return value

    def expr(self) -> Any:
        cond = self.postfix()
        if not self.take("?"):
            return cond
        yes = self.expr()
        self.need(":")
        no = self.expr()
        if not isinstance(cond, bool):
            raise TypeError(f"condition is not a bool in {self.text!r}")
        return yes if cond else no

    def postfix(self) -> Any:
        value = self.primary()
        while True:
            if self.take("."):
                kind, name = self.peek()
                if kind != "id":
                    raise ValueError(f"expected a name after '.' in {self.text!r}")
                self.i += 1
                value = value.attr(name) if isinstance(value, _Lazy) else value[name]
            elif self.take("["):
                key = self.expr()
                self.need("]")
                value = value.index(key) if isinstance(value, _Lazy) else value[key]
            else:
                return value

    def primary(self) -> Any:
        kind, text = self.peek()
        self.i += 1
        if kind == "str":
            return self.scope.template(text[1:-1].replace('\\"', '"'))
        if kind == "num":
            return int(text)
        if kind == "p" and text == "[":
            items = []
            while not self.take("]"):
                items.append(self.expr())
                if not self.take(","):
                    self.need("]")
                    break
            return items
        if kind == "id" and text in ("true", "false"):
            return text == "true"
        if kind == "id" and self.take("("):
            if text != "toset":
                raise ValueError(f"unsupported function {text}()")
            arg = self.expr()
            self.need(")")
            return sorted(set(arg))
        if kind == "id":
            return self.scope.ref(text)
        raise ValueError(f"unsupported expression {self.text!r}")


def instances(body: dict[str, Any], scope: Scope) -> list[tuple[Any, Any] | None]:
    if "for_each" not in body:
        return [None]
    each = scope.eval(body["for_each"])
    if isinstance(each, dict):
        return sorted(each.items())
    if isinstance(each, list):
        return [(x, x) for x in each]
    raise ValueError("for_each is neither a map nor a set")


def child_scope(child: Module, call: dict[str, Any], parent: Scope) -> Scope:
    def var(name: str) -> Any:
        if name in call:
            return parent.eval(call[name])
        if "default" in child.variables.get(name, {}):
            return child.variables[name]["default"]
        raise ValueError(f"module variable {name} has no value")

    return Scope(child, var)




__all__ = ["Module", "Scope", "TerraformError", "block", "child_scope", "instances", "load_module"]
