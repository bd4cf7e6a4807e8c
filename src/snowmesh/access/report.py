"""Results of an access audit: data, not text. The CLI decides how to show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHECKS: dict[str, str] = {
    "graph": "the grant graph is well formed: grantees exist, database roles stay in their database, "
             "schemas use managed access",
    "isolation": "1. no role of one domain writes to or owns another domain's database, or uses its warehouse",
    "consumer-surface": "2. a consumer reaches nothing of a producer but its published secure views",
    "procedures": "3. each procedure reads its inputs and writes its output as its owner role (builds and INGEST)",
    "consumers": "4. every declared consumer reads the product's view, and no one else does",
    "procedure-usage": "5. analysts can CALL their domains' analyst procedures, no other role holds USAGE on a "
                       "procedure, and no one but the task graph calls a pipeline procedure",
    "governance": "6. no role but the platform's writes GOVERNANCE_DB or reads its audit; only the engineers "
                  "(INGEST) read the source registry",
    "policies": "every confidential or restricted column of a served view has a classification tag with a "
                "masking policy for its type",
    "senders": "7. every statement a real account's deploy sends can be executed by its sender, in plan order "
               "(statement kind -> privilege table, access/senders.NEEDS)",
    "readers": "8. analysts read published views only: nothing in RAW or STAGING, no table",
    "lineage": "9. a column derived from a protected input carries at least its classification, and a consumer's "
               "pipeline reads a producer's protected column only where the producer's contract allows it",
    "terraform-drift": "Terraform's consumer and governance grants equal the rendered SQL grants",
    "account-drift": "the account's grants equal what the manifests declare",
}  # fmt: skip


@dataclass(frozen=True)
class Violation:
    check: str
    message: str
    path: str = ""  # the chain of roles and the privilege that cause it, when there is one

    def to_dict(self) -> dict[str, str]:
        out = {"check": self.check, "message": self.message}
        if self.path:
            out["path"] = self.path
        return out


@dataclass
class CheckResult:
    id: str
    proven: list[str] = field(default_factory=list)  # evidence: what holds, and through which path
    violations: list[Violation] = field(default_factory=list)
    skipped: str = ""  # why the check did not run (e.g. no terraform/ directory)

    @property
    def title(self) -> str:
        return CHECKS[self.id]

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, message: str, path: str = "") -> None:
        v = Violation(self.id, message, path)
        if v not in self.violations:  # the same fact reached twice is one violation
            self.violations.append(v)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "title": self.title, "ok": self.ok, "proven": self.proven,
                               "violations": [v.to_dict() for v in self.violations]}
        if self.skipped:
            out["skipped"] = self.skipped
        return out


@dataclass
class AuditReport:
    source: str  # "plan + terraform", or "account <connection>"
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def violations(self) -> list[Violation]:
        return [v for c in self.checks for v in c.violations]

    @property
    def ok(self) -> bool:
        return not self.violations

    def check(self, id_: str) -> CheckResult:
        return next(c for c in self.checks if c.id == id_)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "ok": self.ok, "violations": len(self.violations),
                "checks": [c.to_dict() for c in self.checks]}


__all__ = ["CHECKS", "AuditReport", "CheckResult", "Violation"]
