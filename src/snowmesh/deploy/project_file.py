"""Render ``snowflake.yml`` (snow CLI project definition v2) from the manifests.

One ``procedure`` entity per Snowpark handler -- each product's BUILD_<P>, each domain's
RAW.INGEST, the analyst procedures, the governance procedures (the task graphs' VALIDATE_PRODUCT
overload and RECORD_DAG_RUN among them) -- plus the Native App's ``application package`` and
``application``. Entities of any other type (a ``streamlit`` page, say) belong to whoever
wrote them: a re-render keeps them as they are.

    python -m snowmesh.deploy.project_file            # (re)write snowflake.yml
    python -m snowmesh.deploy.project_file --check    # exit 1 when the committed file is stale

Packages come from the snow CLI's artifact repository (PyPI): 3.30 accepts ``packages`` only
with one, and resolving the Anaconda channel at build time needs an account. Each entity
lists exactly the distributions its handler's code imports (found by reading the imports),
pinned as in pyproject.toml, so the procedures run what the local account tested.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from governance.sql import check_ident
from governance.validate import RESULT_COLUMNS
from snowmesh.deploy.code_artifacts import GOVERNANCE, PROCEDURES_DIR, bundled_zip, procedure_artifacts
from snowmesh.deploy.plan import GOVERNANCE_DB
from snowmesh.manifest.model import PRODUCTS, RAW, STAGING, Mesh
from snowmesh.pipeline.dag import procedure_name

PROJECT_FILE = "snowflake.yml"
CODE_STAGE = "SNOWPARK_CODE"  # one per database, created by `snow snowpark deploy`
GOVERNANCE_SCHEMA = "CATALOG"
RUNTIME = "3.11"
ARTIFACT_REPOSITORY = "snowflake.snowpark.pypi_shared_repository"
GENERATED_TYPES = frozenset({"procedure", "application package", "application"})

# Top-level import -> distribution, longest prefix wins. A handler importing anything else
# fails the render: add its distribution here and its pin to pyproject.toml.
DISTRIBUTIONS = {"snowflake.snowpark": "snowflake-snowpark-python", "jsonschema": "jsonschema", "sqlglot": "sqlglot"}

# The Native App (app/): what app/setup_script.sql creates; tests/test_ship.py holds it to this.
APP_PACKAGE, APP_NAME = "SNOWMESH_GOVERNANCE_PKG", "SNOWMESH_GOVERNANCE"
APP_SCHEMA, APP_DATA_SCHEMA = "CORE", "CATALOG"
APP_ROLES = ("APP_ADMIN", "APP_VIEWER")
APP_PROCEDURES = ("VALIDATE_PRODUCT", "PRODUCT_HEALTH")
APP_ARTIFACTS = (
    ("app/manifest.yml", "manifest.yml"),
    ("app/setup_script.sql", "setup_script.sql"),
    ("app/README.md", "README.md"),
    ("app/python/snowmesh_app.py", "python/snowmesh_app.py"),
    # The governance zip `snow snowpark build` writes (snowmesh.deploy.code_artifacts): the app ships no domain code.
    (bundled_zip(GOVERNANCE), "python/procedures.zip"),
)


# Who may CALL a procedure (USAGE, rendered by snowmesh.deploy.procedure_rights.procedure_grants).
PIPELINE = "pipeline"  # nobody: the domain's task graph runs it as the tasks' owner
READERS = "readers"  # the analyst role of every domain that can read all of the handler's INPUTS views
EVERY_ANALYST = "every-analyst"  # every domain's analyst role


@dataclass(frozen=True)
class ExtraProcedure:
    """A procedure the manifests do not declare: analyst and governance procedures."""

    name: str
    domain: str | None  # None: a governance procedure in GOVERNANCE_DB.CATALOG
    schema: str
    handler: str
    execute_as_caller: bool
    arguments: tuple[tuple[str, str], ...] | None = None  # None: the handler module's ARGUMENTS
    returns: tuple[tuple[str, str], ...] | str | None = None  # None: the handler module's RETURNS; str: scalar
    callers: str = PIPELINE


@dataclass(frozen=True)
class DomainProcedure:
    """A procedure every domain database gets, e.g. <DB>.RAW.INGEST() that its task graph CALLs."""

    name: str
    schema: str
    handler: str
    returns: str
    arguments: tuple[tuple[str, str], ...] = ()


_VALIDATION_TYPES = {"PASSED": "BOOLEAN"}

# Caller's rights where an analyst reads data: the procedure must not widen their grants, and
# masking policies must see the analyst's role, not the owner's. Owner's rights where the
# procedure writes governance state (the audit) or returns only aggregates across domains.
EXTRA_PROCEDURES = (
    # The task graphs' targets (snowmesh.pipeline.dag): the one-argument VALIDATE_PRODUCT overload
    # comes before the three-argument one, which keeps the entity key governance_validate_product.
    ExtraProcedure(
        "VALIDATE_PRODUCT", None, GOVERNANCE_SCHEMA, "governance.validate.validate_registered_product", False,
        arguments=(("PRODUCT", "VARCHAR"),), returns=tuple((c, _VALIDATION_TYPES.get(c, "VARCHAR")) for c in RESULT_COLUMNS),
    ),
    ExtraProcedure("RECORD_DAG_RUN", None, "AUDIT", "governance.dag_run.record", False,
                   arguments=(("DOMAIN", "VARCHAR"),), returns="VARCHAR"),
    ExtraProcedure(
        "VALIDATE_PRODUCT", None, GOVERNANCE_SCHEMA, "governance.validate.validate_product", False,
        arguments=(("CONTRACT_JSON", "VARCHAR"), ("TABLE_NAME", "VARCHAR"), ("RUN_ID", "VARCHAR")),
        returns=tuple((c, _VALIDATION_TYPES.get(c, "VARCHAR")) for c in RESULT_COLUMNS),
    ),
    # Analyst procedures (CALLed from worksheets). PRODUCT_HEALTH returns aggregates only, so every
    # analyst may call it with the owner's rights; the other two read product views with the
    # caller's rights, so only roles that may read those views get USAGE.
    ExtraProcedure("PRODUCT_HEALTH", None, GOVERNANCE_SCHEMA, "governance.product_health.product_health", False,
                   callers=EVERY_ANALYST),
    # A domain's own analyst procedures are declared in its manifest (``procedures:``): analyst_procedures().
)  # fmt: skip


def analyst_procedures(mesh: Mesh) -> tuple[ExtraProcedure, ...]:
    """Each domain's manifest-declared analyst procedures, in PRODUCTS of its database."""
    return tuple(
        ExtraProcedure(x.name, d.name, PRODUCTS, x.handler, x.execute_as_caller, callers=x.callers)
        for d in mesh.domains for x in d.procedures
    )

# Per domain database, owner's rights on the domain's warehouse, owned by the domain's engineer:
# INGEST writes RAW; PUBLISH(product) promotes and serves PRODUCTS (governance.publish).
DOMAIN_PROCEDURES = (
    DomainProcedure("INGEST", RAW, "governance.ingest.ingest", "VARCHAR"),
    DomainProcedure("PUBLISH", PRODUCTS, "governance.publish.publish", "VARCHAR", (("PRODUCT", "VARCHAR"),)),
)

# Entity keys of the overloads (same name, another signature): snowflake.yml keys must be unique.
_OVERLOAD_KEYS = {("VALIDATE_PRODUCT", 1): "governance_validate_product_by_name"}


@dataclass(frozen=True)
class ProcedureSpec:
    key: str  # the entity id in snowflake.yml
    name: str
    database: str
    schema: str
    handler: str
    arguments: tuple[tuple[str, str], ...]
    returns: str
    warehouse: str | None
    execute_as_caller: bool
    domain: str | None
    callers: tuple[str, ...] = ()  # domains whose <DOMAIN>_ANALYST role gets USAGE; () for pipeline procedures
    inputs: tuple[str, ...] = ()  # the views the handler module declares it reads (INPUTS), analyst procedures

    @property
    def fqn(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"

    @property
    def arg_types(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.arguments)

    @property
    def signature(self) -> str:
        """``NAME(TYPE, TYPE)``: how Snowflake tells overloads apart (GRANT ... ON PROCEDURE needs it)."""
        return f"{self.name}({', '.join(self.arg_types)})"

    @property
    def overload(self) -> str:
        """``DB.SCHEMA.NAME(TYPE, ...)``: one overload, fully qualified."""
        return f"{self.database}.{self.schema}.{self.signature}"

    @property
    def stage(self) -> str:
        return f"{self.database}.{STAGING if self.domain else GOVERNANCE_SCHEMA}.{CODE_STAGE}"


def returns_table(columns: tuple[tuple[str, str], ...]) -> str:
    return "TABLE (" + ", ".join(f"{check_ident(c)} {t}" for c, t in columns) + ")"


_MISSING = object()


def _module_attr(handler: str, attr: str, default: Any = _MISSING) -> Any:
    module = importlib.import_module(handler.rsplit(".", 1)[0])
    return getattr(module, attr) if default is _MISSING else getattr(module, attr, default)


def _callers(mesh: Mesh, x: ExtraProcedure, inputs: tuple[str, ...]) -> tuple[str, ...]:
    """The domains whose analysts may CALL ``x``, in manifest order."""
    names = [d.name for d in mesh.domains]
    if x.callers == PIPELINE:
        return ()
    if x.callers == EVERY_ANALYST:
        return tuple(names)
    # Any version's view of a product (<P>_V<N>): its consumers read the served old versions too.
    views = [(re.compile(rf"{re.escape(f'{d.database}.{PRODUCTS}.{p.name}')}_V[0-9]+"), p)
             for d in mesh.domains for p in d.products]
    allowed = set(names) if inputs else {x.domain}
    for name in inputs:
        p = next((p for pattern, p in views if pattern.fullmatch(name)), None)
        if p is None:
            raise ValueError(f"{x.handler}: INPUTS names {name}, which is no published product view of this mesh")
        allowed &= {p.domain, *p.consumers}  # caller's rights: a caller must be able to read every input
    return tuple(n for n in names if n in allowed)


def procedure_specs(mesh: Mesh) -> list[ProcedureSpec]:
    """Every procedure of the mesh: builds per domain, then its analyst procedures, then governance."""
    specs: list[ProcedureSpec] = []
    for d in mesh.domains:
        for p in d.products:
            name = procedure_name(p)  # the name the graph's BUILD tasks CALL
            specs.append(ProcedureSpec(f"{d.name}_{name}".lower(), name, d.database, STAGING, p.handler, (),
                                       "VARCHAR", d.warehouse.name, False, d.name))
        for dp in DOMAIN_PROCEDURES:
            specs.append(ProcedureSpec(f"{d.name}_{dp.name}".lower(), dp.name, d.database, dp.schema, dp.handler,
                                       dp.arguments, dp.returns, d.warehouse.name, False, d.name))
    names = {d.name for d in mesh.domains}
    for x in (*EXTRA_PROCEDURES, *analyst_procedures(mesh)):
        if x.domain is not None and x.domain not in names:
            continue  # the domain whose product it reads is not in this mesh
        d = mesh.domain(x.domain) if x.domain else None
        args = x.arguments if x.arguments is not None else _module_attr(x.handler, "ARGUMENTS")
        ret = x.returns if x.returns is not None else _module_attr(x.handler, "RETURNS")
        key = _OVERLOAD_KEYS.get((x.name, len(args)), f"{x.domain or 'governance'}_{x.name}".lower())
        inputs = tuple(_module_attr(x.handler, "INPUTS", ())) if x.callers != PIPELINE else ()
        specs.append(ProcedureSpec(key, x.name,
                                   d.database if d else GOVERNANCE_DB, x.schema, x.handler, tuple(args),
                                   ret if isinstance(ret, str) else returns_table(tuple(ret)),
                                   d.warehouse.name if d else None, x.execute_as_caller, x.domain,
                                   _callers(mesh, x, inputs), inputs))
    rank = {d.name: i for i, d in enumerate(mesh.domains)}
    # Grouped by domain, governance last; sorted() is stable, so builds stay before analyst procedures.
    return sorted(specs, key=lambda s: rank.get(s.domain or "", len(rank)))


def find_procedure(mesh: Mesh, name: str) -> ProcedureSpec:
    """By name (any case), ``DB.SCHEMA.NAME`` or entity id; an unknown name lists the known ones."""
    from snowmesh.errors import InputError

    specs = procedure_specs(mesh)
    want = name.strip().upper()
    matches = [s for s in specs if want in (s.name, s.fqn, s.key.upper())]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(s.name for s in specs))
    if matches:
        raise InputError(f"{name!r} names several procedures",
                         hint="give DB.SCHEMA.NAME or the snowflake.yml entity id: "
                         + ", ".join(f"{s.fqn} ({s.key})" for s in matches))
    raise InputError(f"no procedure {name!r} in this mesh", hint=f"known: {known}")


def missing_on_account(root: Any, specs: list[ProcedureSpec]) -> list[ProcedureSpec]:
    """The procedures of ``specs`` a real account does not hold (name and arity), read with
    snowflake.core's ``ProcedureCollection.iter``: a USAGE grant on one would fail, a task CALLing
    one would fail when it runs. ``root`` is a snowflake.core Root or a stand-in."""
    from snowflake.core.exceptions import NotFoundError

    found: dict[tuple[str, str], dict[str, set[int | None]]] = {}
    out = []
    for s in specs:
        where = (s.database, s.schema)
        if where not in found:
            found[where] = {}
            try:
                for proc in root.databases[s.database].schemas[s.schema].procedures.iter():
                    args = getattr(proc, "arguments", None)
                    found[where].setdefault(proc.name.upper(), set()).add(None if args is None else len(args))
            except NotFoundError:
                pass  # no such database or schema: nothing of it is deployed
        arities = found[where].get(s.name, set())
        if not (None in arities or len(s.arguments) in arities):  # an unreadable signature counts as present
            out.append(s)
    return out


def _third_party_imports(source: Path, root: Path, seen: set[Path]) -> set[str]:
    """Dotted names of non-stdlib, non-local modules ``source`` imports, following local imports."""
    if source in seen or not source.is_file():
        return set()
    seen.add(source)
    local = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for m in modules:
            top = m.split(".")[0]
            if top in local:
                path = root.joinpath(*m.split("."))
                found |= _third_party_imports(path.with_suffix(".py"), root, seen)
                found |= _third_party_imports(path / "__init__.py", root, seen)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.add(m)
    return found


def handler_packages(root: Path, handler: str, pins: dict[str, str]) -> list[str]:
    """The pinned distributions a handler's code needs, snowflake-snowpark-python first."""
    procs = root / PROCEDURES_DIR
    module = handler.rsplit(".", 1)[0]
    dists = set()
    for m in _third_party_imports(procs.joinpath(*module.split(".")).with_suffix(".py"), procs, set()):
        match = max((k for k in DISTRIBUTIONS if m == k or m.startswith(k + ".")), key=len, default=None)
        if match is None:
            raise ValueError(f"{handler}: imports {m!r}, which maps to no known distribution (see DISTRIBUTIONS)")
        dists.add(DISTRIBUTIONS[match])
    # Snowflake requires the Snowpark package for every Python procedure, imported or not.
    dists.add("snowflake-snowpark-python")
    ordered = sorted(dists, key=lambda n: (n != "snowflake-snowpark-python", n))
    return [pins.get(n, n) for n in ordered]


_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")


def pyproject_pins(root: Path) -> dict[str, str]:
    """``name -> requirement`` from pyproject.toml's [project] dependencies (extras dropped)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    pins = {}
    for req in tomllib.loads(path.read_text()).get("project", {}).get("dependencies", []):
        m = _REQUIREMENT.match(req.split(";")[0].strip())
        if m:
            pins[m.group(1).lower()] = m.group(1) + m.group(2).replace(" ", "")
    return pins


def procedure_entity(spec: ProcedureSpec, packages: list[str], artifacts: list[str]) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "type": "procedure",
        "identifier": {"name": spec.name, "database": spec.database, "schema": spec.schema},
        "stage": spec.stage,
        "handler": spec.handler,
        "signature": [{"name": n, "type": t} for n, t in spec.arguments],
        "returns": spec.returns,
        "runtime": RUNTIME,
        "artifacts": artifacts,  # its domain's folder and governance only (code_artifacts)
        "artifact_repository": ARTIFACT_REPOSITORY,
        "packages": packages,
        "execute_as_caller": spec.execute_as_caller,
    }
    if spec.warehouse:
        entity["meta"] = {"warehouse": spec.warehouse}
    return entity


def app_entities() -> dict[str, Any]:
    return {
        "snowmesh_governance_pkg": {
            "type": "application package",
            "identifier": APP_PACKAGE,
            "artifacts": [{"src": src, "dest": dest} for src, dest in APP_ARTIFACTS],
        },
        "snowmesh_governance": {
            "type": "application",
            "identifier": APP_NAME,
            "from": {"target": "snowmesh_governance_pkg"},
        },
    }


def _is_manifest(artifact: Any) -> bool:
    return isinstance(artifact, dict) and re.fullmatch(r"domains/[^/]+/domain\.yml", str(artifact.get("src", ""))) is not None


def _with_manifests(mesh: Mesh, entity: dict[str, Any]) -> dict[str, Any]:
    """The page reads every domain's manifest, so its artifacts list each one (derived, not
    hand-listed): entries kept in place while their domain exists, a new domain's appended."""
    wanted = [str(d.path.relative_to(mesh.root)) for d in mesh.domains]
    kept = [a for a in entity.get("artifacts", []) if not _is_manifest(a) or a["src"] in wanted]
    have = {a["src"] for a in kept if _is_manifest(a)}
    kept += [{"src": rel, "dest": f"streamlit/{rel}"} for rel in wanted if rel not in have]
    return {**entity, "artifacts": kept}


def render_project(mesh: Mesh, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The project definition as data; ``existing`` contributes the entities this does not own."""
    pins = pyproject_pins(mesh.root)
    entities: dict[str, Any] = {}
    for s in procedure_specs(mesh):
        # Artifacts first: an import of another domain's folder is named as such, not as an unknown distribution.
        artifacts = procedure_artifacts(mesh.root, s.domain, s.key, s.handler)
        entities[s.key] = procedure_entity(s, handler_packages(mesh.root, s.handler, pins), artifacts)
    entities.update(app_entities())
    existing = existing or {}
    for key, entity in (existing.get("entities") or {}).items():
        if isinstance(entity, dict) and entity.get("type") not in GENERATED_TYPES and key not in entities:
            entities[key] = _with_manifests(mesh, entity) if entity.get("type") == "streamlit" else entity
    extra = {k: v for k, v in existing.items() if k not in ("definition_version", "entities")}
    return {"definition_version": 2, **extra, "entities": entities}


HEADER = """\
# GENERATED from domains/*/domain.yml by `python -m snowmesh.deploy.project_file`: edit the
# manifests or src/snowmesh/deploy/project_file.py, not the procedure or application entities
# here. Entities of other types (e.g. streamlit) are kept as written when this file is rendered.
# Build and deploy: docs/shipping.md (the procedures' artifacts are globs: snow needs
# SNOWFLAKE_CLI_FEATURES_ENABLE_SNOWPARK_GLOB_SUPPORT=true for `snow snowpark build` and `deploy`).
"""


def render_text(mesh: Mesh, existing: dict[str, Any] | None = None) -> str:
    body = yaml.safe_dump(render_project(mesh, existing), sort_keys=False, default_flow_style=False, width=10_000)
    return HEADER + body


def read_existing(root: Path) -> tuple[str | None, dict[str, Any] | None]:
    path = root / PROJECT_FILE
    if not path.is_file():
        return None, None
    text = path.read_text()
    data = yaml.safe_load(text)
    return text, data if isinstance(data, dict) else None


def stale_diff(mesh: Mesh) -> str:
    """Empty when snowflake.yml is what the manifests render, else a unified diff."""
    text, data = read_existing(mesh.root)
    want = render_text(mesh, data)
    if text == want:
        return ""
    return "".join(difflib.unified_diff((text or "").splitlines(True), want.splitlines(True),
                                        f"{PROJECT_FILE} (committed)", f"{PROJECT_FILE} (rendered)"))


def write(mesh: Mesh) -> Path:
    _, data = read_existing(mesh.root)
    path = mesh.root / PROJECT_FILE
    path.write_text(render_text(mesh, data))
    return path


def _main(argv: list[str] | None = None) -> int:  # the module's own front end: `python -m ...`
    import argparse

    from snowmesh.errors import MeshError
    from snowmesh.manifest import load_mesh

    parser = argparse.ArgumentParser(prog="python -m snowmesh.deploy.project_file", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when snowflake.yml is stale; write nothing")
    parser.add_argument("--project", default=".", help="project root (holds domains/)")
    args = parser.parse_args(argv)
    try:
        mesh = load_mesh(args.project)
    except MeshError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.exit_code
    if args.check:
        diff = stale_diff(mesh)
        if diff:
            sys.stderr.write(f"{PROJECT_FILE} is stale: run `python -m snowmesh.deploy.project_file`\n{diff}")
            return 1
        sys.stdout.write(f"{PROJECT_FILE} is up to date\n")
        return 0
    sys.stdout.write(f"wrote {write(mesh)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
