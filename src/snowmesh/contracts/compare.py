"""``mesh contract diff`` and ``validate`` helpers: outcome classes, JSON shapes, verification on data.

The classification itself is the engine's (governance.diff); this module decides what a
command reports and which exit code it means:

* 0 -- compatible: no breaking change and the version bump is big enough;
* 1 -- a breaking change, a version bump smaller than the changes need, or (with --verify)
  a tightened guarantee that current data does not meet yet;
* 2 -- bad input (raised as InputError before anything runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from governance.diff import ContractDiff, diff_contracts
from governance.validate import ValidationReport
from snowmesh.contracts.loading import LoadedContract, find_product
from snowmesh.errors import InputError
from snowmesh.manifest.model import Mesh


@dataclass
class DiffOutcome:
    diff: ContractDiff
    old: LoadedContract
    new: LoadedContract
    allow_breaking: bool = False
    verification: ValidationReport | None = None  # set by --verify when there was something to verify

    @property
    def product(self) -> str:
        p = self.new.contract.product
        return f"{p.domain}.{p.name}"

    @property
    def needs_verification(self) -> bool:
        return any(c.verify_on_data for c in self.diff.changes)

    @property
    def breaking_ok(self) -> bool:
        """Breaking changes fail, unless explicitly allowed with a major bump (a new contract file)."""
        return not self.diff.breaking or (self.allow_breaking and self.diff.actual_bump == "major")

    @property
    def verified(self) -> bool | None:
        return None if self.verification is None else self.verification.passed

    @property
    def verdict(self) -> str:
        if not self.breaking_ok:
            return "breaking"
        if not self.diff.semver_ok:
            return "wrong version bump"
        if self.verified is False:
            return "not met by current data"
        return "compatible"

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "compatible" else 1

    def semver_message(self) -> str:
        try:
            self.diff.check_semver()
        except ValueError as exc:
            return str(exc)
        return ""


def diff(old: LoadedContract, new: LoadedContract, allow_breaking: bool = False) -> DiffOutcome:
    return DiffOutcome(diff_contracts(old.contract, new.contract), old, new, allow_breaking)


def verify_table(mesh: Mesh, outcome: DiffOutcome) -> str:
    """The published table the new contract is checked against (``DB.PRODUCTS.NAME``)."""
    from snowmesh.pipeline.steps import product_table

    product = find_product(mesh, outcome.product)
    if outcome.new.contract.product.major != product.major:
        raise InputError(
            f"--verify: {outcome.product} publishes contract v{product.major}, the new contract is "
            f"v{outcome.new.contract.product.major}",
            hint="a new major version is a new product version; there is no current data to verify",
        )
    return product_table(mesh, product)


def change_dict(c: Any) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "column": c.column,
        "detail": c.detail,
        "class": c.klass,
        "verify_on_data": c.verify_on_data,
        "new_column": c.new_column,
        "candidates": list(c.candidates),
    }


def result_dict(r: Any) -> dict[str, Any]:
    return {
        "check": r.check,
        "column": r.column,
        "observed": r.observed,
        "expected": r.expected,
        "passed": r.passed,
        "severity": r.severity,
    }


def report_dict(report: ValidationReport) -> dict[str, Any]:
    return {
        "product": f"{report.domain}.{report.product}" if report.domain else report.product,
        "contract_version": report.contract_version,
        "table": report.table,
        "run_id": report.run_id,
        "passed": report.passed,
        "data_queries": report.queries,
        "results": [result_dict(r) for r in report.results],
    }


def outcome_dict(outcome: DiffOutcome) -> dict[str, Any]:
    d = outcome.diff
    return {
        "product": outcome.product,
        "old": {"path": str(outcome.old.path), "version": d.old_version},
        "new": {"path": str(outcome.new.path), "version": d.new_version},
        "actual_bump": d.actual_bump,
        "required_bump": d.required_bump,
        "semver_ok": d.semver_ok,
        "breaking": bool(d.breaking),
        "needs_verification": outcome.needs_verification,
        "verification": None if outcome.verification is None else report_dict(outcome.verification),
        "verdict": outcome.verdict,
        "exit_code": outcome.exit_code,
        "changes": [change_dict(c) for c in d.changes],
    }
