"""The domains and their cost for the page, from the domain manifests and TASK_RUNS.

In Streamlit in Snowflake the ``snowmesh`` package is not there, only the manifests and the
procedures' ``governance/`` package shipped as artifacts, so the manifests are read here as
plain YAML (the lineage picture is ``mesh_page.lineage_view``). The cost estimate is
``governance.cost``: the same code (and numbers) as ``mesh finops`` locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from governance import cost

# Re-exported: the page and its tests name them here.
CREDITS_PER_HOUR = cost.CREDITS_PER_HOUR
credits_per_hour = cost.credits_per_hour
month_start = cost.month_start


@dataclass(frozen=True)
class DomainFacts:
    name: str
    database: str
    warehouse: str
    size: str
    quota: float  # monthly credit quota
    manifest: dict  # the whole domain.yml


def manifests_dir(*candidates: Path | None) -> Path | None:
    """The first ``domains/`` folder holding a domain.yml: the project's, or the app's artifact copy."""
    for base in candidates:
        if base is not None and any((base / "domains").glob("*/domain.yml")):
            return base / "domains"
    return None


def load_domains(domains_dir: Path) -> list[DomainFacts]:
    out = []
    for path in sorted(domains_dir.glob("*/domain.yml")):
        m = yaml.safe_load(path.read_text()) or {}
        wh = m.get("warehouse") or {}
        out.append(DomainFacts(str(m["name"]), str(m["database"]), str(wh.get("name", "")),
                               str(wh.get("size", "XSMALL")), float(wh.get("monthly_credit_quota") or 0), m))
    return out


# --------------------------------------------------------------------------- cost


COST_COLUMNS = ["DOMAIN", "WAREHOUSE", "SIZE", "TASK_RUNS", "DAG_RUNS", "SECONDS", "BUSY_CREDITS",
                "CREDITS_ESTIMATE", "MONTHLY_QUOTA", "QUOTA_USED_PCT"]


def cost_vs_quota(session: Any, domains: list[DomainFacts], now: datetime | None = None) -> pd.DataFrame:
    """One row per domain: this month's task seconds, the ESTIMATED credits (governance.cost: with the
    60 s minimum per DAG run; BUSY_CREDITS without it), the quota and the share of it used."""
    rows = session.sql(cost.task_runs_sql(month_start(now))).collect()
    per_wh, _ = cost.estimate([cost.Warehouse(d.name, d.warehouse, d.size, d.quota) for d in domains],
                              [tuple(r) for r in rows])
    out = []
    for w in per_wh:
        pct = w.quota_pct
        out.append({
            "DOMAIN": w.domain, "WAREHOUSE": w.warehouse, "SIZE": w.size, "TASK_RUNS": w.task_runs,
            "DAG_RUNS": w.dag_runs, "SECONDS": round(w.seconds, 3), "BUSY_CREDITS": round(w.busy_credits, 6),
            "CREDITS_ESTIMATE": round(w.credits, 6), "MONTHLY_QUOTA": w.quota,
            "QUOTA_USED_PCT": None if pct is None else round(pct, 4),
        })  # fmt: skip
    return pd.DataFrame(out, columns=COST_COLUMNS)
