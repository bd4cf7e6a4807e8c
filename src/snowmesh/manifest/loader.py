"""The front door: load and validate the whole mesh, or report every problem in it.

:func:`load_mesh` is the one function every command calls before it opens a connection. It
reads ``domains/*/domain.yml`` and every contract they reference, and returns a typed,
immutable :class:`Mesh`, or raises :class:`InputProblems` listing *all* problems, each as
``<file>: <field>: <message>``. When it raises, nothing has been sent anywhere.

Order (later stages run only on what passed the earlier ones, so one typo gives one line):
1. strict reading (snowmesh.readers: size, UTF-8, YAML syntax, duplicate keys, aliases);
2. the manifest's JSON Schema, then reserved words and control characters in any string;
3. per-domain rules (snowmesh.manifest.checks): cron, time zone, NUMBER(p,s), handlers that
   resolve to a function, derived names within Snowflake's limits, unique names and keys;
4. across domains: the same domain or database twice, two sources on one landing prefix,
   consumers, inputs, dependency cycles;
5. every contract file of every product (all major versions in its folder) with the full
   contract engine (governance.contract), and its agreement with the manifest entry.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema

from governance.contract import Contract, ContractError, parse_contract
from snowmesh import federation
from snowmesh.errors import InputError, InputProblems
from snowmesh.manifest import checks
from snowmesh.manifest.model import (
    AnalystProcedure,
    Column,
    ColumnSample,
    Domain,
    FederationTarget,
    InputRef,
    Mesh,
    Product,
    Source,
    SourceSample,
    Warehouse,
)
from snowmesh.readers import read_json_object, read_yaml

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


class Problems:
    """Collects ``file: field: message`` lines; :meth:`raise_if_any` turns them into one error."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.hint: str | None = None

    def add(self, file: Path | str, where: str, message: str, hint: str | None = None) -> None:
        self.lines.append(f"{file}: {where}: {message}")
        self.hint = self.hint or hint

    def raise_if_any(self) -> None:
        if self.lines:
            raise InputProblems(self.lines, self.hint)


def _schema_errors(rel: Path, data: dict[str, Any], out: Problems) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    for err in errors:
        msg = err.message
        if err.validator == "pattern" and err.schema.get("pattern") == _IDENT_PATTERN:
            msg = f"{err.instance!r} is not a plain Snowflake identifier (upper-case A-Z, 0-9, _ and $)"
        out.add(rel, json_path(err.absolute_path), msg)


def _read(path: Path, root: Path, out: Problems) -> dict[str, Any] | None:
    """One manifest, checked on its own; None (with problems recorded) if it fails."""
    rel = path.relative_to(root)
    try:
        data = read_yaml(path, rel)
    except InputError as exc:  # already "file: line N: ..."
        out.lines.append(exc.message)
        return None
    if not isinstance(data, dict):
        out.add(rel, "(top level)", "a domain manifest must be a mapping")
        return None
    before = len(out.lines)
    for trail, msg in checks.control_char_problems(data):
        out.add(rel, json_path(trail), msg)
    if len(out.lines) == before:  # the schema's "$" would accept the trailing newline found above
        _schema_errors(rel, data, out)
    if len(out.lines) == before:
        _check_reserved(rel, data, out)
    if len(out.lines) == before:
        _check_domain(rel, root, data, out)
    return data if len(out.lines) == before else None


def _check_reserved(rel: Path, data: Any, out: Problems, trail: tuple[Any, ...] = ()) -> None:
    """Reserved words pass the identifier pattern; reject them here, naming the field."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k in {"name", "database"} and isinstance(v, str):
                problem = checks.ident_problem(v)
                if problem:
                    out.add(rel, json_path((*trail, k)), problem)
            _check_reserved(rel, v, out, (*trail, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _check_reserved(rel, v, out, (*trail, i))


def _check_domain(rel: Path, root: Path, data: dict[str, Any], out: Problems) -> None:
    """Rules within one manifest that its schema cannot state."""
    for msg in checks.cron_problems(data["schedule"]["cron"]):
        out.add(rel, "schedule.cron", msg)
    tz_problem = checks.timezone_problem(data["schedule"].get("timezone", "UTC"))
    if tz_problem:
        out.add(rel, "schedule.timezone", tz_problem)
    for where, msg in checks.derived_name_problems(data):
        out.add(rel, where, msg)
    for what in ("sources", "products"):
        _check_unique(rel, what, [x["name"] for x in data[what]], out)
    for si, s in enumerate(data["sources"]):
        names = [c["name"] for c in s["columns"]]
        _check_unique(rel, f"sources[{si}].columns", names, out)
        for ci, c in enumerate(s["columns"]):
            problem = checks.number_problem(c["type"])
            if problem:
                out.add(rel, f"sources[{si}].columns[{ci}].type", problem)
        for ki, k in enumerate(s.get("key", ())):
            if k not in names:
                out.add(rel, f"sources[{si}].key[{ki}]", f"{k!r} is not a column of {s['name']}")
    for pi, p in enumerate(data["products"]):
        problem = checks.handler_problem(root, p["handler"])
        if problem:
            out.add(rel, f"products[{pi}].handler", problem)
    for xi, x in enumerate(data.get("procedures", ())):
        problem = checks.handler_problem(root, x["handler"])
        if problem:
            out.add(rel, f"procedures[{xi}].handler", problem)
    _check_unique(rel, "procedures", [x["name"] for x in data.get("procedures", ())], out)
    for where, msg in checks.sample_problems(root / rel.parent, data):
        out.add(rel, where, msg)
    for where, msg in federation.declaration_problems(data):
        out.add(rel, where, msg, hint="federation targets and principals are described in docs/federation.md")


def _build(data: dict[str, Any], path: Path) -> Domain:
    wh = data["warehouse"]
    sources = tuple(
        Source(
            name=s["name"],
            prefix=s["prefix"],
            format=s["format"],
            key=tuple(s.get("key", ())),
            columns=(cols := tuple(Column(**{**c, "sample": ColumnSample.of(c.get("sample"))}) for c in s["columns"])),
            sample=SourceSample.of(s.get("sample"), cols, s.get("key", ())),
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
            federation=tuple(
                FederationTarget(f["target"], tuple(f["readers"]), f.get("project", ""))
                for f in p.get("federation", ())
            ),
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
        sample_generator=data.get("sample", {}).get("generator", ""),
        procedures=tuple(
            AnalystProcedure(x["name"], x["handler"], x.get("execute_as", "caller") == "caller", x.get("callers", "readers"))
            for x in data.get("procedures", ())
        ),
    )


def _check_unique(rel: Path, where: str, names: list[str], out: Problems) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            out.add(rel, f"{where}[{i}].name", f"{n!r} is declared twice")
        seen.add(n)


def _check_identity(mesh: Mesh, out: Problems) -> None:
    """No two domains share a name, database, warehouse or landing prefix (named at the second)."""
    first: dict[tuple[str, str], str] = {}
    for d in mesh.domains:
        rel = str(d.path.relative_to(mesh.root))
        for what, value in (("name", d.name), ("database", d.database), ("warehouse.name", d.warehouse.name)):
            other = first.setdefault((what, value), rel)
            if other != rel:
                out.add(rel, what, f"{value!r} is already declared by {other}")
        for si, s in enumerate(d.sources):
            spot = f"s3://{d.bucket}/{s.prefix}/"
            here = f"{rel} sources[{si}]"
            other = first.setdefault(("prefix", spot), here)
            if other != here:
                out.add(rel, f"sources[{si}].prefix", f"{spot} is also the landing prefix of {other}: every file would load twice")


def _check_mesh(mesh: Mesh, out: Problems) -> None:
    """Rules across domains: identity first (a clash makes every reference ambiguous), then
    consumers, inputs and dependency cycles."""
    _check_identity(mesh, out)
    if out.lines:
        return
    by_name = {d.name: d for d in mesh.domains}
    known = ", ".join(sorted(by_name))
    for d in mesh.domains:
        rel = d.path.relative_to(mesh.root)
        for pi, p in enumerate(d.products):
            for ci, c in enumerate(p.consumers):
                if c not in by_name:
                    out.add(rel, f"products[{pi}].consumers[{ci}]", f"{c!r} is not a domain (known: {known})")
                elif c == d.name:
                    out.add(rel, f"products[{pi}].consumers[{ci}]", "a domain does not consume its own product")
            for ii, ref in enumerate(p.inputs):
                _check_input(mesh, d, rel, f"products[{pi}].inputs[{ii}]", ref, out, known)
    if not out.lines:
        _check_cycles(mesh, out)
    if not out.lines:
        _check_domain_cycle(mesh, out)


def _check_input(mesh: Mesh, d: Domain, rel: Path, where: str, ref: InputRef, out: Problems, known: str) -> None:
    if ref.is_raw:
        if ref.name not in {s.name for s in d.sources}:
            out.add(rel, where, f"{ref} is not a source of {d.name}")
        return
    producer = next((x for x in mesh.domains if x.name == ref.namespace), None)
    if producer is None:
        out.add(rel, where, f"{ref.namespace!r} is not a domain (known: {known})")
    elif ref.name not in {x.name for x in producer.products}:
        out.add(rel, where, f"{ref.namespace} publishes no product {ref.name!r}")
    elif ref.namespace != d.name and d.name not in producer.product(ref.name).consumers:
        out.add(
            rel, where, f"{d.name} reads {ref} but is not a declared consumer of it",
            hint=f"add {d.name} to consumers of {ref.name} in {producer.path.relative_to(mesh.root)}",
        )


def _check_cycles(mesh: Mesh, out: Problems) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(p: Product, path: list[str]) -> bool:
        if state.get(p.key) == 2:
            return True
        if state.get(p.key) == 1:
            cycle = " -> ".join(path[path.index(p.key):] + [p.key])
            d = mesh.domain(p.domain)
            out.add(d.path.relative_to(mesh.root), f"products ({p.name}).inputs", f"dependency cycle: {cycle}")
            return False
        state[p.key] = 1
        for up in mesh.upstream(p):
            if not visit(up, [*path, p.key]):
                return False
        state[p.key] = 2
        return True

    for p in mesh.products:
        if not visit(p, []):
            return


def _check_domain_cycle(mesh: Mesh, out: Problems) -> None:
    """Each domain is one task graph, run after its producers' (Mesh.domains_in_order): domains
    waiting for each other through different products would deadlock even without a product cycle."""
    cycle = mesh.domain_cycle()
    if cycle is None:
        return
    edges = mesh.domain_edges()
    why = "; ".join(edges[cycle[i]][cycle[i + 1]] for i in range(len(cycle) - 1))
    d = mesh.domain(cycle[0])
    out.add(d.path.relative_to(mesh.root), "products", f"domain dependency cycle: {' -> '.join(cycle)} ({why})",
            hint="a domain's products may read another domain's only if that domain reads none of its own")


_MULTILINE = frozenset({"description", "sql"})  # contract strings that may span lines


def _contract_files(mesh: Mesh, p: Product) -> list[str]:
    """The product's contract and every other major version beside it (deployed within its window)."""
    folder = (mesh.root / p.contract).parent
    others = sorted(folder.glob("v*.json")) if folder.is_dir() else []
    rels = [str(f.relative_to(mesh.root)) for f in others]
    return [p.contract] + [r for r in rels if r != p.contract]


def _load_contracts(mesh: Mesh, out: Problems) -> dict[str, tuple[dict[str, Any], Contract]]:
    loaded: dict[str, tuple[dict[str, Any], Contract]] = {}
    for d in mesh.domains:
        rel = d.path.relative_to(mesh.root)
        for pi, p in enumerate(d.products):
            if not (mesh.root / p.contract).is_file():
                out.add(rel, f"products[{pi}].contract", f"{p.contract} does not exist")
                continue
            for file in _contract_files(mesh, p):
                try:
                    doc = read_json_object(mesh.root / file, file)
                except InputError as exc:  # already "file: line N: ..."
                    out.lines.append(exc.message)
                    continue
                bad = list(checks.control_char_problems(doc, multiline=_MULTILINE))
                for trail, msg in bad:
                    out.add(file, "$" + "".join(f"[{t}]" if isinstance(t, int) else f".{t}" for t in trail), msg)
                if bad:
                    continue
                try:
                    contract = parse_contract(doc, source=file)
                except ContractError as exc:
                    for path, msg in exc.errors:
                        out.add(file, path, msg, hint="the contract format is described in docs/contracts.md")
                    continue
                _check_matches(file, p, contract, out, current=file == p.contract)
                loaded[file] = (doc, contract)
    return loaded


def _check_matches(file: str, p: Product, contract: Contract, out: Problems, current: bool) -> None:
    """The manifest and the contract agree on the product and the major version (= the file name)."""
    cp = contract.product
    if (cp.domain, cp.name) != (p.domain, p.name):
        out.add(file, "$.x-product", f"x-product is {cp.domain}.{cp.name}, but the manifest uses this contract for {p.key}")
    if contract.title != p.name:
        out.add(file, "$.title", f"{contract.title!r} is not the product name {p.name!r}")
    stem = Path(file).stem
    if stem != f"v{cp.major}":
        out.add(file, "$.x-product.version", f"version {cp.version} does not match the file name {stem}.json",
                hint="a major version bump goes into a new file v<MAJOR>.json")
    elif current and cp.major != p.major:
        out.add(file, "$.x-product.version", f"version {cp.version} is not major {p.major}")


def load_mesh(root: Path | str = ".") -> Mesh:
    """Load and validate the mesh under ``root`` (see the module docstring), or raise InputProblems."""
    root = Path(root).resolve()
    files = sorted((root / "domains").glob("*/domain.yml"))
    if not files:
        raise InputProblems([f"{root / 'domains'}: no domain manifests (domains/<domain>/domain.yml) found"],
                            hint="run mesh from the project root, or pass --project")
    out = Problems()
    domains = []
    for f in files:
        data = _read(f, root, out)
        if data is not None:
            domains.append(_build(data, f))
    out.raise_if_any()
    mesh = Mesh(root=root, domains=tuple(domains))
    _check_mesh(mesh, out)
    out.raise_if_any()
    contracts = _load_contracts(mesh, out)
    out.raise_if_any()
    return Mesh(root=root, domains=mesh.domains, contracts=MappingProxyType(contracts))
