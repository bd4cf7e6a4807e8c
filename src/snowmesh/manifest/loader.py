"""Load ``domains/*/domain.yml`` into the model, failing with one clear message per problem.

Order of checks: YAML syntax -> JSON Schema (shape, plain identifiers) -> reserved words ->
cross-domain references (consumers, inputs, contracts) -> product dependency cycles.
Nothing is deployed from a mesh that fails any of them.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from governance.sql import IdentifierError, check_ident
from snowmesh.errors import InputError
from snowmesh.manifest.model import Column, Domain, InputRef, Mesh, Product, Source, Warehouse

_IDENT_PATTERN = "^[A-Z_][A-Z0-9_$]{0,254}$"


def _schema() -> dict[str, Any]:
    text = resources.files("snowmesh.manifest").joinpath("domain.schema.json").read_text()
    return json.loads(text)


def json_path(parts: Any) -> str:
    """``['products', 0, 'consumers', 1]`` -> ``products[0].consumers[1]``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _fail(path: Path, where: str, message: str, hint: str | None = None) -> InputError:
    return InputError(f"{path}: {where}: {message}", hint)


def _read(path: Path, root: Path) -> dict[str, Any]:
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(parse)"
        raise _fail(rel, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise _fail(rel, "(top level)", "a domain manifest must be a mapping")
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        err = errors[0]
        msg = err.message
        if err.validator == "pattern" and err.schema.get("pattern") == _IDENT_PATTERN:
            msg = f"{err.instance!r} is not a plain Snowflake identifier (upper-case A-Z, 0-9, _ and $)"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise _fail(rel, json_path(err.absolute_path), msg + more)
    # Reserved words pass the identifier pattern; reject them here, naming the field.
    _check_reserved(rel, data)
    return data


def _check_reserved(rel: Path, data: Any, trail: tuple[Any, ...] = ()) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if k in {"name", "database"} and isinstance(v, str):
                try:
                    check_ident(v)
                except IdentifierError as exc:
                    raise _fail(rel, json_path((*trail, k)), str(exc)) from None
            _check_reserved(rel, v, (*trail, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _check_reserved(rel, v, (*trail, i))


def _build(data: dict[str, Any], path: Path) -> Domain:
    wh = data["warehouse"]
    sources = tuple(
        Source(
            name=s["name"],
            prefix=s["prefix"],
            format=s["format"],
            key=tuple(s.get("key", ())),
            columns=tuple(Column(**c) for c in s["columns"]),
        )
        for s in data["sources"]
    )
    products = tuple(
        Product(
            domain=data["name"],
            name=p["name"],
            contract=p["contract"],
            handler=p["handler"],
            inputs=tuple(InputRef(*i.split(".")) for i in p["inputs"]),
            consumers=tuple(p.get("consumers", ())),
            description=p.get("description", ""),
        )
        for p in data["products"]
    )
    return Domain(
        name=data["name"],
        owner=data["owner"],
        description=data.get("description", ""),
        database=data["database"],
        warehouse=Warehouse(**wh),
        bucket=data["landing"]["bucket"],
        cron=data["schedule"]["cron"],
        timezone=data["schedule"].get("timezone", "UTC"),
        sources=sources,
        products=products,
        path=path,
    )


def _check_unique(rel: Path, where: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise _fail(rel, f"{where}[{i}].name", f"{n!r} is declared twice")
        seen.add(n)


def _check_mesh(mesh: Mesh) -> None:
    by_name = {d.name: d for d in mesh.domains}
    known = ", ".join(sorted(by_name))
    for d in mesh.domains:
        rel = d.path.relative_to(mesh.root)
        _check_unique(rel, "sources", [s.name for s in d.sources])
        _check_unique(rel, "products", [p.name for p in d.products])
        for si, s in enumerate(d.sources):
            cols = {c.name for c in s.columns}
            _check_unique(rel, f"sources[{si}].columns", [c.name for c in s.columns])
            for ki, k in enumerate(s.key):
                if k not in cols:
                    raise _fail(rel, f"sources[{si}].key[{ki}]", f"{k!r} is not a column of {s.name}")
        for pi, p in enumerate(d.products):
            for ci, c in enumerate(p.consumers):
                if c not in by_name:
                    raise _fail(rel, f"products[{pi}].consumers[{ci}]", f"{c!r} is not a domain (known: {known})")
                if c == d.name:
                    raise _fail(rel, f"products[{pi}].consumers[{ci}]", "a domain does not consume its own product")
            if not (mesh.root / p.contract).is_file():
                raise _fail(rel, f"products[{pi}].contract", f"{p.contract} does not exist")
            for ii, ref in enumerate(p.inputs):
                where = f"products[{pi}].inputs[{ii}]"
                if ref.is_raw:
                    if ref.name not in {s.name for s in d.sources}:
                        raise _fail(rel, where, f"{ref} is not a source of {d.name}")
                    continue
                producer = by_name.get(ref.namespace)
                if producer is None:
                    raise _fail(rel, where, f"{ref.namespace!r} is not a domain (known: {known})")
                if ref.name not in {x.name for x in producer.products}:
                    raise _fail(rel, where, f"{ref.namespace} publishes no product {ref.name!r}")
                if ref.namespace != d.name and d.name not in producer.product(ref.name).consumers:
                    raise _fail(
                        rel,
                        where,
                        f"{d.name} reads {ref} but is not a declared consumer of it",
                        hint=f"add {d.name} to consumers of {ref.name} in domains/{producer.name.lower()}/domain.yml",
                    )
    _check_cycles(mesh)
    dbs = [d.database for d in mesh.domains]
    if len(set(dbs)) != len(dbs):
        raise InputError(f"two domains share a database: {sorted(dbs)}")


def _check_cycles(mesh: Mesh) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(p: Product, path: list[str]) -> None:
        if state.get(p.key) == 2:
            return
        if state.get(p.key) == 1:
            cycle = " -> ".join(path[path.index(p.key):] + [p.key])
            d = mesh.domain(p.domain)
            raise _fail(d.path.relative_to(mesh.root), f"products ({p.name}).inputs", f"dependency cycle: {cycle}")
        state[p.key] = 1
        for up in mesh.upstream(p):
            visit(up, [*path, p.key])
        state[p.key] = 2

    for p in mesh.products:
        visit(p, [])


def load_mesh(root: Path | str = ".") -> Mesh:
    """Load and validate every ``domains/*/domain.yml`` under ``root``."""
    root = Path(root).resolve()
    files = sorted((root / "domains").glob("*/domain.yml"))
    if not files:
        raise InputError(f"no domain manifests found under {root / 'domains'}", hint="run mesh from the project root")
    domains = []
    for f in files:
        data = _read(f, root)
        domains.append(_build(data, f))
    names = [d.name for d in domains]
    if len(set(names)) != len(names):
        raise InputError(f"two manifests declare the same domain name: {sorted(names)}")
    mesh = Mesh(root=root, domains=tuple(domains))
    _check_mesh(mesh)
    return mesh
