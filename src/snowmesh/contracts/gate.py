"""The pre-deploy contract gate: do the handlers still produce what their contracts promise?

No account is needed. On a *scratch* local account (a fresh temporary state folder, so the
user's .mesh is never touched) the gate deploys the mesh, lands a small generated sample,
ingests it, and then, product by product in dependency order:

1. calls the handler module's ``transform(session)`` and infers the Snowpark output schema
   (names, types, nullability: a DESCRIBE of the plan, no rows fetched);
2. diffs it against the product's contract with the engine's ``diff_schema`` (renames are
   reported as renames: ``column CLICKS renamed to CLICK_COUNT? (breaks contract v1)``);
3. if the schema holds, builds, validates the sample with the contract's data checks and
   publishes, so that downstream handlers can read the views they consume.

Outcome: schema breaks are input errors (exit 2: the code and its contract disagree); an
error-severity data check failing on the sample, or a handler that raises, is exit 1.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from governance.schema_check import ObservedColumn, SchemaFinding, describe_dataframe, diff_schema
from snowmesh.console import Reporter, SilentReporter
from snowmesh.contracts.loading import LoadedContract, mesh_contracts
from snowmesh.errors import InputError, InputProblems
from snowmesh.federation import mesh_problems
from snowmesh.handlers import import_module
from snowmesh.landing import LandOptions, land_mesh
from snowmesh.manifest.model import Mesh, Product
from snowmesh.pipeline import steps
from snowmesh.pipeline.runner import deploy

STATE_ENV = "SNOWMESH_STATE_DIR"


@dataclass
class ProductGate:
    product: str
    contract_version: str
    observed: list[ObservedColumn] = field(default_factory=list)
    findings: list[SchemaFinding] = field(default_factory=list)
    data_failures: list[str] = field(default_factory=list)
    published: bool = False
    skipped: str = ""  # why the product was not checked (an upstream product failed)
    error: str = ""  # the handler raised

    @property
    def breaking(self) -> list[SchemaFinding]:
        return [f for f in self.findings if f.breaking]

    @property
    def warnings(self) -> list[SchemaFinding]:
        return [f for f in self.findings if not f.breaking]

    @property
    def ok(self) -> bool:
        return not (self.breaking or self.data_failures or self.skipped or self.error)


@dataclass
class GateReport:
    products: list[ProductGate] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.products)

    @property
    def exit_code(self) -> int:
        """0 pass; 2 a contract and its product's schema disagree; 1 anything else failed."""
        if self.ok:
            return 0
        return 2 if any(p.breaking for p in self.products) else 1

    def problems(self) -> list[str]:
        """One line per failure, e.g. ``CAMPAIGN_PERFORMANCE: column CLICKS renamed to CLICK_COUNT? ...``."""
        out: list[str] = []
        for p in self.products:
            name = p.product.split(".")[-1]
            out += [f"{name}: {f.message}" for f in p.breaking]
            out += [f"{name}: sample data fails {c}" for c in p.data_failures]
            if p.error:
                out.append(f"{name}: handler failed: {p.error}")
            if p.skipped:
                out.append(f"{name}: not checked: {p.skipped}")
        return out


@contextmanager
def scratch_state() -> Iterator[Path]:
    """Point the local account at a fresh temporary folder for the duration, then remove it."""
    previous = os.environ.get(STATE_ENV)
    folder = Path(tempfile.mkdtemp(prefix="snowmesh-gate-"))
    os.environ[STATE_ENV] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(STATE_ENV, None)
        else:
            os.environ[STATE_ENV] = previous
        shutil.rmtree(folder, ignore_errors=True)


def transform_of(p: Product, root: Path | None = None):
    """The ``transform(session) -> DataFrame`` beside the product's ``build`` handler (from the
    project's own procedures/ with ``root``: a new domain needs no reinstall)."""
    module_name = p.handler.rsplit(".", 1)[0]
    try:
        module = import_module(root, module_name) if root is not None else importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"{p.key}: cannot import handler module {module_name}: {exc}") from None
    fn = getattr(module, "transform", None)
    if not callable(fn):
        raise InputError(
            f"{p.key}: {module_name} has no transform(session) function",
            hint="each handler module exposes transform(session) -> DataFrame and build(session)",
        )
    return fn


def _check_product(
    target, mesh: Mesh, p: Product, loaded: LoadedContract, transform, run_id: str
) -> ProductGate:
    result = ProductGate(p.key, loaded.contract.version)
    try:
        result.observed = describe_dataframe(transform(target.session))
    except Exception as exc:  # noqa: BLE001 - a handler bug is a gate result, reported with the product's name
        result.error = _first_line(exc)
        return result
    result.findings = diff_schema(loaded.contract, result.observed)
    if result.breaking:
        return result
    outcome = steps.ProductOutcome(p.key)
    try:
        steps.run_build(target, mesh, p, outcome)
        steps.run_validate(target, mesh, p, run_id, outcome)
        result.data_failures = list(outcome.failed_checks)
        if outcome.validation_passed:
            steps.run_publish(target, mesh, p, SilentReporter(), outcome)
    except Exception as exc:  # noqa: BLE001 - same: the gate reports it and goes on
        result.error = _first_line(exc)
    result.published = outcome.published
    return result


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def run_gate(root: Path, reporter: Reporter, options: LandOptions | None = None) -> GateReport:
    """Run the gate for every product of the mesh under ``root``; see the module docstring."""
    from snowmesh.manifest import load_mesh
    from snowmesh.target import open_target as target_for

    mesh = load_mesh(root)
    # Input problems first, before any server starts: every contract parses and names its
    # product, and every handler module imports and has a transform().
    contracts = mesh_contracts(mesh)
    # Federated views (BigQuery, T-SQL) parse and select exactly their contract's columns:
    # pure, so it runs before any server starts (snowmesh.federation, docs/federation.md).
    federation_problems = mesh_problems(mesh)
    if federation_problems:
        raise InputProblems(federation_problems)
    order = mesh.products_in_order()
    transforms = {p.key: transform_of(p, mesh.root) for p in order}
    options = options or LandOptions(clicks=5_000, days=7)
    report = GateReport()
    run_id = "gate-" + uuid.uuid4().hex[:8]
    with (
        reporter.progress("contract gate", total=3 + len(order)) as step,
        scratch_state(),
        target_for(mesh.root, None, keep_servers=False) as target,
    ):
        deploy(target, mesh, reporter)
        step(1)
        land_mesh(target, mesh, options, reporter)
        step(1)
        for d in mesh.domains:
            steps.run_ingest(target, mesh, d.name, reporter)
        step(1)
        for p in order:
            failed_up = [u.key for u in mesh.upstream(p) if not _published(report, u.key)]
            if failed_up:
                skipped = f"upstream {', '.join(failed_up)} did not pass the gate"
                report.products.append(ProductGate(p.key, contracts[p.key].contract.version, skipped=skipped))
            else:
                report.products.append(
                    _check_product(target, mesh, p, contracts[p.key], transforms[p.key], run_id)
                )
            step(1)
    return report


def _published(report: GateReport, key: str) -> bool:
    return any(p.product == key and p.published for p in report.products)
