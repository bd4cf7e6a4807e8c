"""What each product's procedure reads and writes, as its handler module declares it.

Every handler module under ``procedures/`` declares ``INPUTS`` (a tuple of fully-qualified
names) and ``OUTPUT`` (one). They are read with ``ast`` from the source file, never by
importing it: the verifier runs no project code, and a handler path in a manifest cannot
make it import anything.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from governance.sql import IdentifierError
from snowmesh.access.grants import strict_ident
from snowmesh.errors import InputError
from snowmesh.manifest.model import PRODUCTS, STAGING, Domain, Mesh, Product

PROCEDURES_DIR = "procedures"
_HANDLER = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)+")


@dataclass(frozen=True)
class ProcedureDecl:
    product: Product
    file: Path  # relative to the mesh root
    inputs: tuple[tuple[str, str, str], ...]
    output: tuple[str, str, str]
    runs_as: str  # owner's rights: the owning domain's ENGINEER role
    # LINEAGE: output column -> the protected input columns (DB.SCHEMA.VIEW.COLUMN) it derives from
    lineage: tuple[tuple[str, tuple[tuple[str, str, str, str], ...]], ...] = ()
    declares_lineage: bool = False  # LINEAGE is in the module, even empty: "no output derives from a protected input"

    @property
    def expected_output(self) -> tuple[str, str, str]:
        """Where the pipeline reads the build from before publishing (``<DB>.STAGING.<PRODUCT>``)."""
        return (self.output[0], STAGING, self.product.name)


def manifest_inputs(mesh: Mesh, product: Product) -> set[tuple[str, str, str]]:
    """The objects the manifest says a product reads: own RAW tables and others' published views."""
    d = mesh.domain(product.domain)
    out: set[tuple[str, str, str]] = set()
    for ref in product.inputs:
        if ref.is_raw:
            out.add((d.database, "RAW", ref.name))
        else:
            upstream = mesh.domain(ref.namespace)
            out.add((upstream.database, PRODUCTS, upstream.product(ref.name).view))
    return out


def _where(mesh: Mesh, d: Domain, p: Product) -> str:
    index = d.products.index(p)
    return f"{d.path.relative_to(mesh.root)}: products[{index}].handler"


def handler_file(mesh: Mesh, product: Product) -> Path:
    d = mesh.domain(product.domain)
    # The schema pattern uses `$`, which lets a trailing newline through: match whole here.
    if not _HANDLER.fullmatch(product.handler):
        raise InputError(f"{_where(mesh, d, product)}: {product.handler!r} is not a dotted Python path")
    module = product.handler.rsplit(".", 1)[0]
    path = mesh.root / PROCEDURES_DIR / Path(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        raise InputError(
            f"{_where(mesh, d, product)}: handler module {module} not found "
            f"({path.relative_to(mesh.root)} does not exist)"
        )
    return path


def _constants(path: Path, rel: Path) -> dict[str, object]:
    try:
        tree = ast.parse(path.read_text(), filename=str(rel))
    except SyntaxError as exc:
        raise InputError(f"{rel}: line {exc.lineno}: not valid Python: {exc.msg}") from None
    out: dict[str, object] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name) and t.id in ("INPUTS", "OUTPUT", "LINEAGE") and node.value is not None:
                try:
                    out[t.id] = ast.literal_eval(node.value)
                except ValueError:
                    raise InputError(f"{rel}: line {node.lineno}: {t.id} must be a literal") from None
    return out


def _fqn(rel: Path, field: str, value: object) -> tuple[str, str, str]:
    if not isinstance(value, str) or value.count(".") != 2:
        raise InputError(f"{rel}: {field}: {value!r} is not a DATABASE.SCHEMA.OBJECT name")
    try:
        db, schema, name = (strict_ident(part) for part in value.split("."))
    except IdentifierError as exc:
        raise InputError(f"{rel}: {field}: {exc}") from None
    return (db, schema, name)


def read_declaration(mesh: Mesh, product: Product) -> ProcedureDecl:
    path = handler_file(mesh, product)
    rel = path.relative_to(mesh.root)
    consts = _constants(path, rel)
    for required in ("INPUTS", "OUTPUT"):
        if required not in consts:
            raise InputError(f"{rel}: {required} is not declared",
                             hint="a handler module declares INPUTS (tuple of names) and OUTPUT (one name)")
    inputs = consts["INPUTS"]
    if not isinstance(inputs, tuple | list):
        raise InputError(f"{rel}: INPUTS must be a tuple of fully-qualified names")
    return ProcedureDecl(
        product=product,
        file=rel,
        inputs=tuple(_fqn(rel, f"INPUTS[{i}]", v) for i, v in enumerate(inputs)),
        output=_fqn(rel, "OUTPUT", consts["OUTPUT"]),
        runs_as=mesh.domain(product.domain).engineer_role,
        lineage=_lineage(rel, consts.get("LINEAGE", {})),
        declares_lineage="LINEAGE" in consts,
    )


def _lineage(rel: Path, value: object) -> tuple[tuple[str, tuple[tuple[str, str, str, str], ...]], ...]:
    if not isinstance(value, dict):
        raise InputError(f"{rel}: LINEAGE must be a dict of output column -> tuple of DB.SCHEMA.VIEW.COLUMN")
    out = []
    for col, sources in value.items():
        where = f"LINEAGE[{col!r}]"
        if not isinstance(sources, tuple | list) or not sources:
            raise InputError(f"{rel}: {where} must be a non-empty tuple of DB.SCHEMA.VIEW.COLUMN names")
        names = []
        for i, src in enumerate(sources):
            if not isinstance(src, str) or src.count(".") != 3:
                raise InputError(f"{rel}: {where}[{i}]: {src!r} is not a DB.SCHEMA.VIEW.COLUMN name")
            try:
                db, schema, view, column = (strict_ident(part) for part in src.split("."))
            except IdentifierError as exc:
                raise InputError(f"{rel}: {where}[{i}]: {exc}") from None
            names.append((db, schema, view, column))
        try:
            out.append((strict_ident(col), tuple(names)))
        except IdentifierError as exc:
            raise InputError(f"{rel}: {where}: {exc}") from None
    return tuple(out)


def read_declarations(mesh: Mesh) -> list[ProcedureDecl]:
    return [read_declaration(mesh, p) for p in mesh.products]


__all__ = ["ProcedureDecl", "handler_file", "manifest_inputs", "read_declaration", "read_declarations"]
