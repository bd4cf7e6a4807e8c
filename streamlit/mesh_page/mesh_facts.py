"""Lineage and domain cost for the page, from the domain manifests and TASK_RUNS.

In Streamlit in Snowflake the ``snowmesh`` package is not there, only the manifests and the
procedures' ``governance/`` package shipped as artifacts, so the manifests are read here as
plain YAML. ``lineage_dot`` prefers ``snowmesh.lineage`` when it is importable. The cost
estimate is ``governance.cost``: the same code (and numbers) as ``mesh finops`` locally.
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


# --------------------------------------------------------------------------- lineage


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fallback_lineage_dot(domains: list[DomainFacts]) -> str:
    """source (S3) -> raw table -> product view -> consumer domain, one cluster per domain."""
    by_name = {d.name: d for d in domains}
    lines = ["digraph mesh {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']
    edges: list[str] = []
    for d in domains:
        m = d.manifest
        bucket = (m.get("landing") or {}).get("bucket", "")
        lines.append(f"  subgraph {_q('cluster_' + d.name)} {{")
        lines.append(f"    label={_q(d.name)};")
        for s in m.get("sources") or []:
            src, raw = f"s3://{bucket}/{s['prefix']}/", f"{d.database}.RAW.{s['name']}"
            lines.append(f"    {_q(src)} [fillcolor=\"#fde9c9\"];")
            lines.append(f"    {_q(raw)} [fillcolor=\"#e3ecf7\"];")
            edges.append(f"  {_q(src)} -> {_q(raw)};")
        for p in m.get("products") or []:
            view = f"{d.database}.PRODUCTS.{_view(p)}"
            lines.append(f"    {_q(view)} [fillcolor=\"#d5f0d5\"];")
            for i in p.get("inputs") or []:
                ns, name = str(i).split(".", 1)
                if ns == "RAW":
                    edges.append(f"  {_q(f'{d.database}.RAW.{name}')} -> {_q(view)};")
                elif ns in by_name:
                    up = next((q for q in by_name[ns].manifest.get("products") or [] if q["name"] == name), None)
                    if up is not None:
                        edges.append(f"  {_q(f'{by_name[ns].database}.PRODUCTS.{_view(up)}')} -> {_q(view)};")
            for c in p.get("consumers") or []:
                edges.append(f"  {_q(view)} -> {_q('consumer: ' + str(c))} [style=dashed];")
        lines.append("  }")
    consumers = sorted({str(c) for d in domains for p in d.manifest.get("products") or [] for c in p.get("consumers") or []})
    lines += [f"  {_q('consumer: ' + c)} [shape=ellipse, fillcolor=\"#eeeeee\"];" for c in consumers]
    return "\n".join([*lines, *dict.fromkeys(edges), "}"])


def _view(product: dict) -> str:
    major = Path(str(product["contract"])).stem.lstrip("v")
    return f"{product['name']}_V{major}"


def lineage_dot(domains: list[DomainFacts], project: Path | None) -> tuple[str, str]:
    """(DOT text, where it came from): snowmesh.lineage when importable, else the fallback."""
    if project is not None:
        try:
            from snowmesh.lineage import build_lineage  # type: ignore[import-not-found]
            from snowmesh.manifest import load_mesh

            return build_lineage(load_mesh(project)).to_dot(), "snowmesh.lineage"
        except Exception as exc:  # noqa: BLE001 - not there (Snowflake) or not usable: the fallback draws it
            return fallback_lineage_dot(domains), f"the domain manifests (page fallback: {type(exc).__name__})"
    return fallback_lineage_dot(domains), "the domain manifests (page fallback)"


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
