"""The typed, validated model of the mesh. Pure data: no I/O, no SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import governance.ingest as ingest_names  # table names shared with the in-warehouse ingest

# Snowflake schemas every domain database has. Consumers only ever see PRODUCTS views.
RAW, STAGING, PRODUCTS = "RAW", "STAGING", "PRODUCTS"
SCHEMAS = (RAW, STAGING, PRODUCTS)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Source:
    name: str
    prefix: str
    format: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    @property
    def landing_table(self) -> str:
        return ingest_names.landing_table(self.name)

    @property
    def quarantine_table(self) -> str:
        return ingest_names.quarantine_table(self.name)


@dataclass(frozen=True)
class Warehouse:
    name: str
    size: str
    auto_suspend_seconds: int
    monthly_credit_quota: int

    @property
    def monitor(self) -> str:
        return f"{self.name}_MONITOR"


@dataclass(frozen=True)
class InputRef:
    """``RAW.<SOURCE>`` (own raw table) or ``<DOMAIN>.<PRODUCT>`` (another domain's published view)."""

    namespace: str
    name: str

    @property
    def is_raw(self) -> bool:
        return self.namespace == RAW

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass(frozen=True)
class Product:
    domain: str
    name: str
    contract: str
    handler: str
    inputs: tuple[InputRef, ...]
    consumers: tuple[str, ...] = ()
    description: str = ""

    @property
    def major(self) -> int:
        return int(Path(self.contract).stem.lstrip("v"))

    @property
    def view(self) -> str:
        """The published secure view, ``<PRODUCT>_V<MAJOR>``."""
        return f"{self.name}_V{self.major}"

    @property
    def key(self) -> str:
        return f"{self.domain}.{self.name}"


@dataclass(frozen=True)
class Domain:
    name: str
    owner: str
    database: str
    warehouse: Warehouse
    bucket: str
    cron: str
    timezone: str
    sources: tuple[Source, ...]
    products: tuple[Product, ...]
    description: str = ""
    path: Path = field(default=Path("."), compare=False)

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)

    def product(self, name: str) -> Product:
        return next(p for p in self.products if p.name == name)

    # Role names follow the Snowflake-Labs mesh template (docs/naming.md).
    @property
    def engineer_role(self) -> str:
        return f"{self.name}_ENGINEER"

    @property
    def analyst_role(self) -> str:
        return f"{self.name}_ANALYST"

    @property
    def wh_usage_role(self) -> str:
        return f"{self.name}_WH_USAGE"


@dataclass(frozen=True)
class Mesh:
    root: Path
    domains: tuple[Domain, ...]
    # Every contract file the manifests reference (each product's and its other major versions),
    # keyed by its path under root: (document, parsed Contract). Filled by the front door,
    # load_mesh, only after every file passed the contract engine.
    contracts: Mapping[str, tuple[dict[str, Any], Any]] = field(default_factory=dict, compare=False, repr=False)

    def contract_doc(self, rel: str) -> dict[str, Any]:
        """A validated contract document by its path under root (e.g. ``product.contract``)."""
        return self.contracts[rel][0]

    def domain(self, name: str) -> Domain:
        for d in self.domains:
            if d.name == name:
                return d
        raise KeyError(name)

    @property
    def products(self) -> tuple[Product, ...]:
        return tuple(p for d in self.domains for p in d.products)

    def product(self, key: str) -> Product:
        """Look a product up by ``DOMAIN.PRODUCT`` or by its bare name when that is unique."""
        matches = [p for p in self.products if key.upper() in (p.key, p.name)]
        if len(matches) != 1:
            raise KeyError(key)
        return matches[0]

    def upstream(self, product: Product) -> list[Product]:
        return [self.domain(i.namespace).product(i.name) for i in product.inputs if not i.is_raw]

    def products_in_order(self) -> list[Product]:
        """Products in dependency order (the loader has already rejected cycles)."""
        done: list[Product] = []
        seen: set[str] = set()

        def visit(p: Product) -> None:
            if p.key in seen:
                return
            seen.add(p.key)
            for up in self.upstream(p):
                visit(up)
            done.append(p)

        for p in self.products:
            visit(p)
        return done
