"""Sample data of one domain, from its manifest: the platform never names a domain.

``generate_domain(mesh, "SHOP", rows=10_000, seed=42)`` returns ``{source: SourceData}`` for
every source the domain declares, in manifest order:

* if the manifest names a generator (``sample: {generator: sample.generate}``: the function
  ``generate(ctx: SampleContext) -> {source: SourceData}`` in ``domains/<domain>/sample.py``), the
  sources it returns come from it; it is checked to return only declared sources with exactly
  the declared columns;
* every other source is generated from its declared columns and hints (generate.declared),
  a referenced source before the sources that refer to it.

Same mesh and arguments -> byte-identical files. The context gives a generator the run's
parameters, the declared corruption of any source (``ctx.rules``), seeded streams, the
declared-only generation (``ctx.declared``) and a producer domain's generator module
(``ctx.generator_of``), so a consumer's data can agree with its producer's.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from types import ModuleType

import numpy as np
import pyarrow as pa

from snowmesh.errors import InputError
from snowmesh.generate import corrupt
from snowmesh.generate.common import DEFAULT_END_DATE, SourceData, Window, check_params
from snowmesh.generate.declared import declared_source, loadable_keys
from snowmesh.manifest.model import Domain, Mesh, Source


@dataclass(frozen=True)
class SampleContext:
    mesh: Mesh
    domain: Domain
    rows: int  # the run's scale: --rows/--clicks (a source's sample.scale multiplies it)
    seed: int = 42
    corrupt_fraction: float = 0.001
    days: int = 30
    end_date: date = DEFAULT_END_DATE

    @property
    def window(self) -> Window:
        return Window(self.end_date, self.days)

    def source(self, name: str, domain: str | None = None) -> Source:
        return self.mesh.domain(domain or self.domain.name).source(name)

    def columns(self, name: str) -> list[str]:
        return [c.name for c in self.source(name).columns]

    def rules(self, name: str, domain: str | None = None) -> tuple[corrupt.Rule, ...]:
        """The corruption a source's manifest declares (another domain's source with ``domain``)."""
        return corrupt.rules(self.source(name, domain))

    def rng(self, *names: str) -> np.random.Generator:
        """A stream of its own per (domain, names...): adding a column never shifts another's values."""
        stream = zlib.crc32(".".join((self.domain.name, *names)).encode())
        return np.random.default_rng([self.seed, stream])

    def declared(self, name: str, refs: dict[str, pa.Array] | None = None) -> SourceData:
        return declared_source(self, self.source(name), refs or {})

    def generator_of(self, domain: str) -> ModuleType:
        """A producer domain's generator module (e.g. to rebuild the rows its sources hold)."""
        from snowmesh.handlers import domain_module

        d = self.mesh.domain(domain)
        if not d.sample_generator:
            raise InputError(f"{d.name} declares no sample.generator (its data comes from its columns)")
        return domain_module(d, d.sample_generator.split(".")[0])


def _own_generator(ctx: SampleContext) -> dict[str, SourceData]:
    from snowmesh.handlers import domain_module

    module, _, function = ctx.domain.sample_generator.partition(".")
    where = f"{ctx.mesh.root.name}/domains/{ctx.domain.path.parent.name}/{module}.py"
    out = getattr(domain_module(ctx.domain, module), function)(ctx)
    if not isinstance(out, dict):
        raise InputError(f"{where}: {function}() returned {type(out).__name__}, not {{source: SourceData}}")
    declared = {s.name: s for s in ctx.domain.sources}
    for name, data in out.items():
        if name not in declared:
            raise InputError(f"{where}: {function}() returned {name!r}, not a source of {ctx.domain.name} "
                             f"(declared: {', '.join(declared)})")
        if not isinstance(data, SourceData) or data.source != name:
            raise InputError(f"{where}: {function}()[{name!r}] is not the SourceData of {name}")
        want = [c.name for c in declared[name].columns]
        if data.column_names != want:
            raise InputError(f"{where}: {name} has columns {data.column_names}, its manifest declares {want}")
    return out


def _ref_order(sources: tuple[Source, ...]) -> list[Source]:
    """Referenced sources first (the loader rejected reference loops)."""
    by_name = {s.name: s for s in sources}
    done: list[Source] = []

    def visit(s: Source) -> None:
        if s in done:
            return
        for c in s.columns:
            if c.sample.ref:
                visit(by_name[c.sample.ref.split(".")[0]])
        done.append(s)

    for s in sources:
        visit(s)
    return done


def generate_domain(
    mesh: Mesh,
    domain: str,
    rows: int,
    seed: int = 42,
    corrupt_fraction: float = 0.001,
    days: int = 30,
    end_date: date = DEFAULT_END_DATE,
) -> dict[str, SourceData]:
    check_params(rows, seed, corrupt_fraction, days)
    d = mesh.domain(domain)
    ctx = SampleContext(mesh, d, rows, seed, corrupt_fraction, days, end_date)
    out = _own_generator(ctx) if d.sample_generator else {}
    for s in _ref_order(d.sources):
        if s.name in out:
            continue
        refs = {c.sample.ref: loadable_keys(out[r], c.sample.ref.split(".")[1])
                for c in s.columns if c.sample.ref for r in [c.sample.ref.split(".")[0]]}
        out[s.name] = declared_source(ctx, s, refs)
    return {s.name: out[s.name].with_prefix(s.prefix) for s in d.sources}
