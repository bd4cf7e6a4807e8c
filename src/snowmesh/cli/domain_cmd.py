"""``mesh domain new NAME`` and ``mesh product new DOMAIN PRODUCT``: scaffold a domain's own files.

``domain new`` writes ``domains/<name>/domain.yml`` (one source with sample hints and declared
corruption) and then does what ``product new`` does for a first product ``<NAME>_DAILY``:
``contracts/<name>/<product>/v1.json``, the handler ``procedures/<name>/<product>.py`` and its test
``tests/domains/<name>/test_<name>_<product>.py`` (Snowpark's local testing mode: no account).
Nothing outside the domain's folders is touched. The result is loaded through the front door
before the command returns; if it does not pass, every file written is removed again (exit 2),
so a failed scaffold changes nothing. What the files hold is in snowmesh.generate.scaffold.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Annotated

import typer

from snowmesh.errors import InputError

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project root (holds domains/).")]
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,62}$")


def _name(raw: str, what: str) -> str:
    """An upper-case identifier whose lower case is a folder and a Python package name."""
    from governance.sql import IdentifierError, check_ident

    name = raw.upper()
    if not _NAME.match(name):
        raise InputError(f"{what} {raw!r}: use letters, digits and _ (starting with a letter), at most 63 characters")
    try:
        check_ident(name)
    except IdentifierError as exc:
        raise InputError(f"{what} {raw!r}: {exc}") from None
    return name


def _not_a_python_module(project: Path, package: str) -> None:
    """procedures/ goes first on the import path: a domain package must not shadow a real module."""
    if (project / "procedures" / package).exists():
        return
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None or package == "governance":
        raise InputError(f"domain {package.upper()}: '{package}' is already a Python module; its handlers "
                         "could not be imported under that name", hint="pick another domain name")


def _write_all(project: Path, files: dict[Path, str], edits: dict[Path, str]) -> None:
    """Write new files and edited manifests, then load the mesh; on any problem undo everything."""
    from snowmesh.manifest import load_mesh

    clash = [str(p.relative_to(project)) for p in files if p.exists()]
    if clash:
        raise InputError(f"{', '.join(clash)} already exist(s); nothing written")
    before = {p: p.read_text(encoding="utf-8") for p in edits}
    made: list[Path] = []
    try:
        for path, text in {**files, **edits}.items():
            for parent in reversed(path.relative_to(project).parents):
                folder = project / parent
                if not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            path.write_text(text, encoding="utf-8")
            if path in files:
                made.append(path)
        load_mesh(project)
    except BaseException:
        for path, text in before.items():
            path.write_text(text, encoding="utf-8")
        for path in reversed(made):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        raise


def _product_files(project: Path, mesh, domain: str, product: str, source: str | None) -> tuple[dict, dict]:
    from snowmesh.generate.scaffold import contract_json, handler_py, manifest_product, test_py

    d = mesh.domain(domain)
    if product in {p.name for p in d.products}:
        raise InputError(f"{d.path.relative_to(project)}: {domain} already has a product {product}")
    if not d.sources:
        raise InputError(f"{d.path.relative_to(project)}: {domain} declares no source for {product} to read",
                         hint="add a source to its manifest first (docs/add-a-domain.md)")
    try:
        s = d.source(source.upper()) if source else d.sources[0]
    except StopIteration:
        raise InputError(f"--source {source}: not a source of {domain} "
                         f"(declared: {', '.join(x.name for x in d.sources)})") from None
    folder, file = d.path.parent.name, product.lower()
    files = {
        project / "contracts" / folder / file / "v1.json": contract_json(d, s, product),
        project / "procedures" / folder / f"{file}.py": handler_py(d, s, product),
        project / "tests" / "domains" / folder / f"test_{folder}_{file}.py": test_py(d, s, product),
    }
    init = project / "procedures" / folder / "__init__.py"
    if not init.exists():
        files[init] = f'"""{d.name}\'s Snowpark handlers (run inside Snowflake as stored procedures)."""\n'
    edits = {d.path: manifest_product(d.path.read_text(encoding="utf-8"), d, s, product)}
    return files, edits


def domain_new(
    name: Annotated[str, typer.Argument(help="The domain, e.g. ORDERS (folders use its lower case).")],
    project: ProjectOpt = Path("."),
    owner: Annotated[str | None, typer.Option(help="Owner e-mail (default <name>-data@example.com).")] = None,
    product: Annotated[str | None, typer.Option(help="First product (default <NAME>_DAILY).")] = None,
) -> None:
    """Scaffold a new domain: manifest, a source with sample hints, a first product, its contract, handler, test."""
    from snowmesh.generate.scaffold import domain_yml
    from snowmesh.manifest import load_mesh

    dom = _name(name, "domain")
    first = _name(product or f"{dom}_DAILY", "product")
    project = project.resolve()
    mesh = load_mesh(project)  # the mesh as it is must pass first: the new domain is checked with it
    if dom in {d.name for d in mesh.domains}:
        raise InputError(f"domain {dom} already exists ({mesh.domain(dom).path.relative_to(project)})")
    _not_a_python_module(project, dom.lower())
    manifest = project / "domains" / dom.lower() / "domain.yml"
    _write_all(project, {manifest: domain_yml(dom, owner or f"{dom.lower().replace('_', '-')}-data@example.com")}, {})
    try:  # the first product is rendered from the domain as the front door read it
        files, edits = _product_files(project, load_mesh(project), dom, first, None)
        _write_all(project, files, edits)
    except BaseException:
        manifest.unlink()
        manifest.parent.rmdir()
        raise
    files[manifest] = ""
    for path in sorted(files):
        print(f"created {path.relative_to(project)}")
    print(f"next: mesh contract check -p {project} && mesh run -p {project} (docs/add-a-domain.md)")


def product_new(
    domain: Annotated[str, typer.Argument(help="An existing domain.")],
    product: Annotated[str, typer.Argument(help="The new product, e.g. ORDERS_BY_CATEGORY.")],
    project: ProjectOpt = Path("."),
    source: Annotated[str | None, typer.Option(help="The source it reads (default: the domain's first).")] = None,
) -> None:
    """Scaffold a product in an existing domain: manifest entry, contract, handler and its test."""
    from snowmesh.manifest import load_mesh

    dom, name = _name(domain, "domain"), _name(product, "product")
    project = project.resolve()
    mesh = load_mesh(project)
    if dom not in {d.name for d in mesh.domains}:
        raise InputError(f"domain {dom} does not exist (known: {', '.join(d.name for d in mesh.domains)})",
                         hint=f"mesh domain new {dom}")
    files, edits = _product_files(project, mesh, dom, name, source)
    _write_all(project, files, edits)
    for path in sorted([*files, *edits]):
        print(f"{'edited' if path in edits else 'created'} {path.relative_to(project)}")


def register(app: typer.Typer) -> None:
    domain = typer.Typer(help="Domains: scaffold a new one (docs/add-a-domain.md).", no_args_is_help=True)
    app.add_typer(domain, name="domain")
    domain.command("new")(domain_new)


def register_product(product: typer.Typer) -> None:
    """``mesh product new``: called by products_cmd, which owns the ``product`` group."""
    product.command("new")(product_new)
