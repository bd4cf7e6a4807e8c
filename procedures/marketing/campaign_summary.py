"""CAMPAIGN_SUMMARY(CHANNEL): clicks, impressions, spend, CPC and CTR per campaign of one channel.

An analyst procedure: ``CALL MARKETING_DB.PRODUCTS.CAMPAIGN_SUMMARY('search')``. It reads the
published view CAMPAIGN_PERFORMANCE_V1 over all its days and aggregates in the warehouse. It
runs with the caller's rights (snowflake.yml): Marketing analysts and the consumers granted
the view can call it, and nobody reads more through it than their own grants allow.

    CPC = spend / clicks      CTR = clicks / impressions      (NULL when the divisor is 0)
"""

from __future__ import annotations

from snowflake.snowpark import DataFrame, Session
from snowflake.snowpark import functions as F
from snowflake.snowpark.types import DecimalType, LongType

# Lineage: the published view it reads (as product handlers declare INPUTS); it writes nothing.
INPUTS = ("MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1",)

# The CHANNEL enum of contracts/marketing/campaign_performance/v1.json: the values the product
# promises. A test keeps the two equal; a new channel is a contract change first.
CHANNELS: tuple[str, ...] = ("search", "social", "display", "email", "video")

ARGUMENTS: tuple[tuple[str, str], ...] = (("CHANNEL", "VARCHAR"),)
RETURNS: tuple[tuple[str, str], ...] = (
    ("CAMPAIGN_ID", "VARCHAR"),
    ("CAMPAIGN_NAME", "VARCHAR"),
    ("CHANNEL", "VARCHAR"),
    ("DAYS", "NUMBER(10,0)"),
    ("CLICKS", "NUMBER(18,0)"),
    ("IMPRESSIONS", "NUMBER(18,0)"),
    ("SPEND_USD", "NUMBER(18,2)"),
    ("CPC_USD", "NUMBER(16,4)"),
    ("CTR", "NUMBER(12,6)"),
)


def parse_channel(channel: object) -> str:
    """Case-insensitive: 'Search' is 'search'. Unknown channels are refused with the list."""
    known = ", ".join(sorted(CHANNELS))
    if channel is None or not str(channel).strip():
        raise ValueError(f"CHANNEL is required: one of {known}")
    value = str(channel).strip().lower()
    if value not in CHANNELS:
        raise ValueError(f"unknown channel {str(channel).strip()!r}: expected one of {known}")
    return value


def check_arguments(channel: object) -> None:
    """The argument alone, before any query: ``mesh call`` runs it before it opens the account."""
    parse_channel(channel)


def transform(session: Session, channel: str) -> DataFrame:
    totals = (
        session.table(INPUTS[0])
        .filter(F.col("CHANNEL") == F.lit(channel))
        .group_by("CAMPAIGN_ID")
        .agg(
            F.max("CAMPAIGN_NAME").alias("CAMPAIGN_NAME"),
            F.max("CHANNEL").alias("CHANNEL"),
            F.count_distinct("PERFORMANCE_DATE").alias("N_DAYS"),
            F.sum("CLICKS").alias("N_CLICKS"),
            F.sum("IMPRESSIONS").alias("N_IMPRESSIONS"),
            F.sum("SPEND_USD").alias("SPEND"),
        )
    )
    clicks, impressions, spend = F.col("N_CLICKS"), F.col("N_IMPRESSIONS"), F.col("SPEND")
    return totals.select(
        F.col("CAMPAIGN_ID"),
        F.col("CAMPAIGN_NAME"),
        F.col("CHANNEL"),
        F.col("N_DAYS").cast(LongType()).alias("DAYS"),
        clicks.cast(LongType()).alias("CLICKS"),
        impressions.cast(LongType()).alias("IMPRESSIONS"),
        spend.cast(DecimalType(18, 2)).alias("SPEND_USD"),
        F.iff(clicks > 0, spend / clicks, F.lit(None)).cast(DecimalType(16, 4)).alias("CPC_USD"),
        F.iff(impressions > 0, clicks / impressions, F.lit(None)).cast(DecimalType(12, 6)).alias("CTR"),
    ).sort(F.col("SPEND_USD").desc(), F.col("CAMPAIGN_ID"))


def campaign_summary(session: Session, channel: str) -> DataFrame:
    """Stored-procedure handler (RETURNS TABLE): campaigns of ``channel``, biggest spend first."""
    return transform(session, parse_channel(channel))
