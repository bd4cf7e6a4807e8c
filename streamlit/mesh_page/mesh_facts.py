"""Lineage and domain cost for the page, from the domain manifests and TASK_RUNS.

FOLD LATER: ``snowmesh.lineage`` (build_lineage(mesh).to_dot()) and ``snowmesh.finops``
(credits per domain warehouse vs quota) are being written alongside this page. Until they
land, the page computes both here, from the manifests read as plain YAML: in Streamlit in
Snowflake the ``snowmesh`` package is not there, only the manifests shipped as artifacts.
``lineage_dot`` prefers ``snowmesh.lineage`` when it is importable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

# Standard warehouse credits per hour by size (Snowflake's published table). The figure the
# page shows is an ESTIMATE: task seconds x rate, without the 60 s minimum per resume,
# auto-suspend tails, cloud services or queries outside the task graphs.
CREDITS_PER_HOUR = {
    "XSMALL": 1, "SMALL": 2, "MEDIUM": 4, "LARGE": 8, "XLARGE": 16, "XXLARGE": 32,
    "XXXLARGE": 64, "X4LARGE": 128, "X5LARGE": 256, "X6LARGE": 512,
}  # fmt: skip
_SIZE_ALIASES = {"2XLARGE": "XXLARGE", "3XLARGE": "XXXLARGE", "4XLARGE": "X4LARGE", "5XLARGE": "X5LARGE",
                 "6XLARGE": "X6LARGE"}


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


def credits_per_hour(size: str) -> float:
    key = size.upper().replace("-", "").replace("_", "")
    key = _SIZE_ALIASES.get(key, key)
    if key not in CREDITS_PER_HOUR:
        raise ValueError(f"unknown warehouse size {size!r}")
    return float(CREDITS_PER_HOUR[key])


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


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC).replace(tzinfo=None)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def task_seconds_query(since: datetime) -> str:
    """Seconds of task runs per warehouse since ``since`` (UTC), summed in the warehouse."""
    return (
        'SELECT "WAREHOUSE", COUNT(*) AS "TASK_RUNS", CAST(SUM("SECONDS") AS NUMBER(18,3)) AS "SECONDS" '
        'FROM "GOVERNANCE_DB"."AUDIT"."TASK_RUNS" '
        f"WHERE \"STARTED_AT\" >= CAST('{since:%Y-%m-%d %H:%M:%S}' AS TIMESTAMP_NTZ) "
        'GROUP BY "WAREHOUSE"'
    )


def cost_vs_quota(session: Any, domains: list[DomainFacts], now: datetime | None = None) -> pd.DataFrame:
    """One row per domain: month-to-date task seconds, ESTIMATED credits, quota, share used."""
    since = month_start(now)
    used = {str(r[0]): (int(r[1]), float(r[2] or 0)) for r in session.sql(task_seconds_query(since)).collect()}
    rows = []
    for d in domains:
        runs, seconds = used.get(d.warehouse, (0, 0.0))
        credits = seconds / 3600.0 * credits_per_hour(d.size)
        rows.append({
            "DOMAIN": d.name, "WAREHOUSE": d.warehouse, "SIZE": d.size, "TASK_RUNS": runs,
            "SECONDS": round(seconds, 3), "CREDITS_ESTIMATE": round(credits, 6), "MONTHLY_QUOTA": d.quota,
            "QUOTA_USED_PCT": round(100.0 * credits / d.quota, 4) if d.quota else None,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["DOMAIN", "WAREHOUSE", "SIZE", "TASK_RUNS", "SECONDS",
                                       "CREDITS_ESTIMATE", "MONTHLY_QUOTA", "QUOTA_USED_PCT"])
