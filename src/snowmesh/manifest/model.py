"""The typed, validated model of the mesh. Pure data: no I/O, no SQL."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import governance.ingest as ingest_names  # table names shared with the in-warehouse ingest

# Snowflake schemas every domain database has. Consumers only ever see PRODUCTS views.
RAW, STAGING, PRODUCTS = "RAW", "STAGING", "PRODUCTS"
SCHEMAS = (RAW, STAGING, PRODUCTS)


@dataclass(frozen=True)
class ColumnSample:
    """Optional hints for a column's generated sample data (``sample:`` under a column).

    Values are kept as the manifest's text (numbers, ISO dates and timestamps alike); the
    generator (snowmesh.generate.declared) reads them by the column's type. docs/add-a-domain.md."""

    enum: tuple[str, ...] = ()
    min: str | None = None
    max: str | None = None
    faker: str = ""  # a Faker provider method, e.g. company, city, email
    distribution: str = "uniform"  # uniform | normal | lognormal (numbers)
    ref: str = ""  # <SOURCE>.<COLUMN>: a key column of another source of the same domain
    null_rate: float = 0.0

    @classmethod
    def of(cls, d: Mapping[str, Any] | None) -> ColumnSample:
        d = d or {}
        return cls(
            enum=tuple(_text(v) for v in d.get("enum", ())),
            min=None if d.get("min") is None else _text(d["min"]),
            max=None if d.get("max") is None else _text(d["max"]),
            faker=d.get("faker", ""),
            distribution=d.get("distribution", "uniform"),
            ref=d.get("ref", ""),
            null_rate=float(d.get("null_rate", 0.0)),
        )


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    description: str = ""
    sample: ColumnSample = ColumnSample()


# Deliberate corruption a source's sample data may declare, so the quarantine is exercised:
# a number no cast accepts, an empty key, an impossible timestamp.
CORRUPT_REASONS = ("bad_number", "missing_key", "bad_timestamp")
_CORRUPT_TYPES = {"bad_number": ("NUMBER", "FLOAT"), "bad_timestamp": ("TIMESTAMP_NTZ", "DATE")}


def corrupt_column(reason: str, columns: Sequence[tuple[str, str, bool]], key: Sequence[str]) -> str | None:
    """The column a corrupt ``reason`` breaks when the manifest names none: the first key column
    for ``missing_key``, else the first column of a type the reason breaks (a timestamp before a date)."""
    if reason == "missing_key":
        return key[0] if key else None
    for prefix in _CORRUPT_TYPES.get(reason, ()):
        for name, sql_type, _ in columns:
            if sql_type.startswith(prefix):
                return name
    return None


def corrupt_fits(reason: str, sql_type: str, required: bool, is_key: bool) -> bool:
    """Whether breaking this column is sure to quarantine the row (an empty optional field loads as NULL)."""
    if reason == "missing_key":
        return is_key and required
    return sql_type.startswith(_CORRUPT_TYPES[reason])


@dataclass(frozen=True)
class CorruptRule:
    reason: str
    column: str


@dataclass(frozen=True)
class SourceSample:
    """``sample:`` under a source: how many rows (fixed ``rows``, or floor(``scale`` x the run's
    --rows/--clicks), default scale 1.0) and which corruption it carries (``corrupt``, default none)."""

    rows: int | None = None
    scale: float = 1.0
    corrupt: tuple[CorruptRule, ...] = ()

    @classmethod
    def of(cls, d: Mapping[str, Any] | None, columns: Sequence[Column], key: Sequence[str]) -> SourceSample:
        """From the manifest's ``sample:``; a corrupt entry is ``reason`` or ``{reason, column}``."""
        d = d or {}
        cols = [(c.name, c.type, c.required) for c in columns]
        rules = []
        for item in d.get("corrupt", ()):
            reason, column = (item, None) if isinstance(item, str) else (item["reason"], item.get("column"))
            rules.append(CorruptRule(reason, column or corrupt_column(reason, cols, key) or ""))
        return cls(rows=d.get("rows"), scale=float(d.get("scale", 1.0)), corrupt=tuple(rules))

    def row_count(self, run_scale: int) -> int:
        # Floor (with a hair for float noise: 0.1 x 6000 is 600, not 599), at least one row.
        return self.rows if self.rows is not None else max(1, math.floor(self.scale * run_scale + 1e-9))


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


@dataclass(frozen=True)
class Source:
    name: str
    prefix: str
    format: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    sample: SourceSample = SourceSample()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

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
class FederationTarget:
    """``federation:`` under a product: publish its contract's view on another cloud (docs/federation.md).

    ``target`` is ``bigquery`` or ``synapse``; ``readers`` are that cloud's principals
    (``user:``/``group:``/``serviceAccount:`` e-mails on GCP, ``user:``/``group:``/``servicePrincipal:``
    Entra object ids on Azure); ``project`` is the GCP project of a BigQuery target."""

    target: str
    readers: tuple[str, ...]
    project: str = ""


@dataclass(frozen=True)
class Product:
    domain: str
    name: str
    contract: str
    handler: str
    inputs: tuple[InputRef, ...]
    consumers: tuple[str, ...] = ()
    description: str = ""
    federation: tuple[FederationTarget, ...] = ()

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
class AnalystProcedure:
    """``procedures:`` in a manifest: a table-returning procedure analysts CALL.

    Caller's rights by default: it reads product views as the analyst, so masking sees the
    analyst's role. ``callers``: ``readers`` (the analysts of every domain that may read all the
    views its module's INPUTS names) or ``every-analyst``."""

    name: str
    handler: str
    execute_as_caller: bool = True
    callers: str = "readers"


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
    # ``sample: {generator: <module>.<function>}``: the domain's own generator, in
    # domains/<domain>/<module>.py; sources it does not return are generated from their columns.
    sample_generator: str = ""
    procedures: tuple[AnalystProcedure, ...] = ()

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

    def domain_edges(self) -> dict[str, dict[str, str]]:
        """``{domain: {upstream domain: why}}``: a domain waits for the producers of the products its
        handlers read (manifest inputs) and for every domain that lists it as a consumer."""
        edges: dict[str, dict[str, str]] = {d.name: {} for d in self.domains}
        for d in self.domains:  # reads first: the reason a cycle names is the read, if there is one
            for p in d.products:
                for i in p.inputs:
                    if not i.is_raw and i.namespace != d.name:
                        edges[d.name].setdefault(i.namespace, f"{p.key} reads {i}")
        for d in self.domains:
            for p in d.products:
                for c in p.consumers:
                    if c in edges and c != d.name:
                        edges[c].setdefault(d.name, f"{p.key} lists {c} as a consumer")
        return edges

    def domain_cycle(self) -> list[str] | None:
        """A loop of domains waiting for each other (``[A, B, A]``), or None."""
        edges = self.domain_edges()
        state: dict[str, int] = {}

        def visit(n: str, path: list[str]) -> list[str] | None:
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if state.get(n) == 2:
                return None
            state[n] = 1
            for up in edges.get(n, {}):
                found = visit(up, [*path, n])
                if found:
                    return found
            state[n] = 2
            return None

        for d in self.domains:
            found = visit(d.name, [])
            if found:
                return found
        return None

    def domains_in_order(self) -> tuple[Domain, ...]:
        """Producers before consumers (a topological sort of domain_edges; ties keep manifest
        order). The front door has rejected cycles; any left would be appended in manifest order."""
        edges = self.domain_edges()
        done: list[str] = []
        while len(done) < len(self.domains):
            ready = [d.name for d in self.domains if d.name not in done and set(edges[d.name]) <= set(done)]
            if not ready:
                done += [d.name for d in self.domains if d.name not in done]
                break
            done.append(ready[0])
        return tuple(self.domain(n) for n in done)
