"""ROI_BY_CAMPAIGN(START_DATE, END_DATE): revenue, spend, ROI and ROAS per campaign for a period.

An analyst procedure: ``CALL FINANCE_DB.PRODUCTS.ROI_BY_CAMPAIGN('2026-10-01', '2026-10-31')``
from a worksheet. It reads the published view only and aggregates in the warehouse; the
result set (one row per campaign) is the only thing that leaves it. It runs with the
caller's rights (snowflake.yml), so an analyst sees exactly what their own grants and any
masking policy on the view allow.

    ROI  = (revenue - spend) / spend      ROAS = revenue / spend      (NULL without spend)

Sums are taken over the product's already-rounded daily money columns, so the figures add
up with the rows of CAMPAIGN_ROI_V1 a consumer can see.
"""

from __future__ import annotations

import re
from datetime import date

from snowflake.snowpark import DataFrame, Session
from snowflake.snowpark import functions as F
from snowflake.snowpark.types import DecimalType

# Lineage: the published view it reads (as product handlers declare INPUTS); it writes nothing.
INPUTS = ("FINANCE_DB.PRODUCTS.CAMPAIGN_ROI_V1",)

# The procedure's interface, rendered into snowflake.yml by snowmesh.deploy.project_file.
ARGUMENTS: tuple[tuple[str, str], ...] = (("START_DATE", "VARCHAR"), ("END_DATE", "VARCHAR"))
RETURNS: tuple[tuple[str, str], ...] = (
    ("CAMPAIGN_ID", "VARCHAR"),
    ("CAMPAIGN_NAME", "VARCHAR"),
    ("CHANNEL", "VARCHAR"),
    ("REVENUE_USD", "NUMBER(18,2)"),
    ("SPEND_USD", "NUMBER(18,2)"),
    ("ROI", "NUMBER(18,6)"),
    ("ROAS", "NUMBER(18,6)"),
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(name: str, value: object) -> date:
    """A strict YYYY-MM-DD date; anything else is the caller's mistake, said in one sentence."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name} is required: give a date in YYYY-MM-DD form, e.g. '2026-10-01'")
    text = str(value).strip()
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a date in YYYY-MM-DD form, e.g. '2026-10-01'; got {text!r}") from None


def parse_period(start_date: object, end_date: object) -> tuple[date, date]:
    start, end = parse_date("START_DATE", start_date), parse_date("END_DATE", end_date)
    if start > end:
        raise ValueError(f"START_DATE {start.isoformat()} is after END_DATE {end.isoformat()}")
    return start, end


def check_arguments(start_date: object, end_date: object) -> None:
    """The arguments alone, before any query: ``mesh call`` runs it before it opens the account."""
    parse_period(start_date, end_date)


def transform(session: Session, start: date, end: date) -> DataFrame:
    rows = session.table(INPUTS[0]).filter(F.col("PERIOD_DATE").between(F.lit(start), F.lit(end)))
    totals = rows.group_by("CAMPAIGN_ID").agg(
        # A campaign renamed mid-period keeps one row: its id is the key, the name a label.
        F.max("CAMPAIGN_NAME").alias("CAMPAIGN_NAME"),
        F.max("CHANNEL").alias("CHANNEL"),
        F.sum("REVENUE_USD").alias("REV"),
        F.sum("SPEND_USD").alias("SPEND"),
    )
    rev, spend = F.col("REV"), F.col("SPEND")
    return totals.select(
        F.col("CAMPAIGN_ID"),
        F.col("CAMPAIGN_NAME"),
        F.col("CHANNEL"),
        rev.cast(DecimalType(18, 2)).alias("REVENUE_USD"),
        spend.cast(DecimalType(18, 2)).alias("SPEND_USD"),
        F.iff(spend > 0, (rev - spend) / spend, F.lit(None)).cast(DecimalType(18, 6)).alias("ROI"),
        F.iff(spend > 0, rev / spend, F.lit(None)).cast(DecimalType(18, 6)).alias("ROAS"),
    ).sort(F.col("ROI").desc_nulls_last(), F.col("CAMPAIGN_ID"))


def roi_by_campaign(session: Session, start_date: str, end_date: str) -> DataFrame:
    """Stored-procedure handler (RETURNS TABLE): campaigns of the period, best ROI first."""
    start, end = parse_period(start_date, end_date)
    return transform(session, start, end)
