"""Contract variants for the diff tests: one product's v1 contract, edited in memory."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
V1 = json.loads((ROOT / "contracts/marketing/campaign_performance/v1.json").read_text())


def changed(mutate: Callable[[dict[str, Any]], Any], version: str | None = None) -> dict[str, Any]:
    """A deep copy of V1 with ``mutate`` applied, and ``version`` set when given."""
    doc = copy.deepcopy(V1)
    mutate(doc)
    if version:
        doc["x-product"]["version"] = version
    return doc


def kinds(diff) -> list[tuple[str, str | None, str]]:
    return [(c.kind, c.column, c.klass) for c in diff.changes]
