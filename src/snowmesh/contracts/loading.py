"""Find and load contracts for the CLI, turning every problem into an :class:`InputError` (exit 2).

A contract is named either by its product (``MARKETING.CAMPAIGN_PERFORMANCE`` or a unique bare
name, resolved through the manifests) or by a file path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.contract import Contract, ContractError, parse_contract
from snowmesh.errors import InputError
from snowmesh.manifest.model import Mesh, Product
from snowmesh.readers import read_json_object


@dataclass(frozen=True)
class LoadedContract:
    doc: dict[str, Any]
    contract: Contract
    path: Path
    product: Product | None = None  # the manifest product, when it was named or found


def read_json(path: Path) -> dict[str, Any]:
    """A contract file through the strict reader (size, UTF-8, duplicate keys, an object)."""
    return read_json_object(path)


def parse(doc: dict[str, Any], source: str) -> Contract:
    """parse_contract with its (path, message) list rewritten as one input error."""
    try:
        return parse_contract(doc, source=source)
    except ContractError as exc:
        lines = [f"{p}: {m}" for p, m in exc.errors[:10]]
        more = f"\n  ... and {len(exc.errors) - 10} more" if len(exc.errors) > 10 else ""
        raise InputError(
            f"{source}: invalid contract\n  " + "\n  ".join(lines) + more,
            hint="the format is described in docs/contracts.md",
        ) from None


def load_path(path: Path, display: str | None = None) -> LoadedContract:
    doc = read_json(path)
    return LoadedContract(doc, parse(doc, display or str(path)), path)


def find_product(mesh: Mesh, name: str) -> Product:
    try:
        return mesh.product(name)
    except KeyError:
        known = ", ".join(p.key for p in mesh.products)
        raise InputError(f"unknown product {name!r}", hint=f"known products: {known}") from None


def looks_like_path(ref: str) -> bool:
    return ref.endswith((".json", ".yaml", ".yml")) or "/" in ref or "\\" in ref


def resolve(mesh: Mesh, ref: str) -> LoadedContract:
    """A product name or a contract file path -> the loaded contract (and its product if known)."""
    if looks_like_path(ref):
        path = Path(ref)
        loaded = load_path(path)
        key = f"{loaded.contract.product.domain}.{loaded.contract.product.name}"
        product = next((p for p in mesh.products if p.key == key), None)
        return LoadedContract(loaded.doc, loaded.contract, path, product)
    product = find_product(mesh, ref)
    if product.contract in mesh.contracts:  # validated by the front door (load_mesh)
        doc, contract = mesh.contracts[product.contract]
        return LoadedContract(doc, contract, mesh.root / product.contract, product)
    loaded = load_path(mesh.root / product.contract, product.contract)
    check_matches_product(product, loaded.contract)
    return LoadedContract(loaded.doc, loaded.contract, loaded.path, product)


def check_matches_product(product: Product, contract: Contract) -> None:
    """The manifest and the contract must agree on what product and major version this is."""
    cp = contract.product
    if (cp.domain, cp.name) != (product.domain, product.name):
        raise InputError(
            f"{product.contract}: x-product is {cp.domain}.{cp.name}, but the manifest uses this "
            f"contract for {product.key}",
            hint="a product's contract must name that product in x-product",
        )
    if contract.title != product.name:
        raise InputError(
            f"{product.contract}: title {contract.title!r} is not the product name {product.name!r}"
        )
    if cp.major != product.major:
        raise InputError(
            f"{product.contract}: version {cp.version} does not match the file name v{product.major}.json",
            hint="a major version bump goes into a new file v<MAJOR>.json",
        )


def mesh_contracts(mesh: Mesh) -> dict[str, LoadedContract]:
    """Every product's contract, parsed and matched against its manifest entry (or InputError)."""
    return {p.key: resolve(mesh, p.key) for p in mesh.products_in_order()}
