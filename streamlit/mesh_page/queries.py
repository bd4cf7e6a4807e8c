"""What the page shows, as pandas frames computed in the warehouse.

Every figure is aggregated by the account (one statement per section); only the small
answers -- a row per product, per campaign, per warehouse -- reach the page. The product
health and ROI logic is the shipped procedures' own code (``governance.product_health``,
``finance.roi_by_campaign``), so the page, ``mesh call`` and ``CALL ...`` agree by
construction. Locally those packages are installed with the project; in Snowflake they are
artifacts of the streamlit entity (docs/page.md).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

REGISTRY = "GOVERNANCE_DB.CATALOG.DATA_PRODUCTS"
TASK_RUNS = "GOVERNANCE_DB.AUDIT.TASK_RUNS"
ROI_VIEW = "FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1"

VALIDATION_BADGES = {"PASSED": "✅ passed", "FAILED": "❌ failed", "NEVER": "⚪ never validated"}


def _frame(df: Any) -> pd.DataFrame:
    """A Snowpark DataFrame's rows as pandas, Decimals as floats (charts and comparisons)."""
    names = list(df.schema.names)
    rows = [tuple(float(v) if isinstance(v, Decimal) else v for v in r) for r in df.collect()]
    return pd.DataFrame(rows, columns=[n.strip('"') for n in names])


def validation_badge(result: str | None) -> str:
    return VALIDATION_BADGES.get(str(result or "NEVER").upper(), f"❔ {result}")


def freshness_badge(published: Any, fresh: Any, age_hours: Any, sla_hours: Any) -> str:
    if not published:
        return "⚪ not published"
    if fresh is None or pd.isna(fresh):
        return "⚪ no SLA" if sla_hours is None or pd.isna(sla_hours) else "⚪ unknown"
    word = "🟢 fresh" if bool(fresh) else "🔴 stale"
    return f"{word} ({float(age_hours):.1f} h of {float(sla_hours):g} h)"


def catalog(session: Any) -> pd.DataFrame:
    """One row per registered product with its health badges.

    The health (last validation, freshness vs the contract's x-sla, row count) is
    PRODUCT_HEALTH's one query. Registry columns it does not return (OWNER today; SLA or
    freshness columns a newer registry may add) are joined on as they are, whatever exists.
    """
    from governance.product_health import health

    out = _frame(health(session))
    registry = _frame(session.table(REGISTRY).drop("CONTRACT") if _has_contract(session) else session.table(REGISTRY))
    extra = [c for c in registry.columns if c not in out.columns and c not in ("DOMAIN", "PRODUCT")]
    if extra:
        out = out.merge(registry[["DOMAIN", "PRODUCT", *extra]], on=["DOMAIN", "PRODUCT"], how="left")
    out.insert(2, "VALIDATION", [validation_badge(v) for v in out["LAST_VALIDATION"]])
    out.insert(3, "FRESHNESS", [
        freshness_badge(p, f, a, s)
        for p, f, a, s in zip(out["PUBLISHED"], out["FRESH"], out["FRESHNESS_HOURS"], out["SLA_HOURS"])
    ])
    return out


def _has_contract(session: Any) -> bool:
    return "CONTRACT" in [n.strip('"') for n in session.table(REGISTRY).schema.names]


def roi_period(session: Any) -> tuple[date, date] | None:
    """The first and last PERIOD_DATE of the ROI product, or None when it has no rows."""
    from snowflake.snowpark import functions as F

    row = session.table(ROI_VIEW).agg(F.min("PERIOD_DATE"), F.max("PERIOD_DATE")).collect()[0]
    return None if row[0] is None else (row[0], row[1])


def roi_channels(session: Any) -> list[str]:
    """Every CHANNEL of the ROI product, sorted: the chart's colour order, the same for any period."""
    rows = session.table(ROI_VIEW).select("CHANNEL").distinct().collect()
    return sorted(str(r[0]) for r in rows if r[0] is not None)


def roi_by_campaign(session: Any, start: date, end: date) -> pd.DataFrame:
    """ROI_BY_CAMPAIGN's answer for [start, end]: one row per campaign, best ROI first."""
    from finance.roi_by_campaign import parse_period, transform

    start, end = parse_period(start.isoformat(), end.isoformat())
    return _frame(transform(session, start, end))
