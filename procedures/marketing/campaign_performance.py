"""CAMPAIGN_PERFORMANCE: one row per campaign and day -- clicks, impressions, spend, CPC, CTR.

Stored procedure handler. Everything happens in the warehouse as one Snowpark plan; no
rows come back to Python. The output is written to STAGING; the publish step promotes it
to PRODUCTS only after the contract validation passes.
"""

from __future__ import annotations

from snowflake.snowpark import DataFrame, Session, Window
from snowflake.snowpark import functions as F
from snowflake.snowpark.types import DecimalType, LongType

from governance.clock import build_time

# Lineage declarations, checked against domains/marketing/domain.yml by the tests.
INPUTS = ("MARKETING_DB.RAW.CAMPAIGNS", "MARKETING_DB.RAW.AD_CLICKS", "MARKETING_DB.RAW.AD_SPEND")
OUTPUT = "MARKETING_DB.STAGING.CAMPAIGN_PERFORMANCE"


def latest_campaigns(session: Session) -> DataFrame:
    """The newest landed version of each campaign (a campaign file may be re-delivered)."""
    w = Window.partition_by("CAMPAIGN_ID").order_by(F.col("_LOADED_AT").desc(), F.col("_LINE").desc())
    return (
        session.table(INPUTS[0])
        .with_column("_RN", F.row_number().over(w))
        .filter(F.col("_RN") == 1)
        .select("CAMPAIGN_ID", "CAMPAIGN_NAME", "CHANNEL", "DAILY_BUDGET_USD")
    )


def transform(session: Session) -> DataFrame:
    clicks = (
        session.table(INPUTS[1])
        .with_column("PERFORMANCE_DATE", F.to_date(F.col("CLICKED_AT")))
        .group_by("CAMPAIGN_ID", "PERFORMANCE_DATE")
        .agg(F.count("CLICK_ID").alias("N_CLICKS"), F.sum("COST_USD").alias("CLICK_COST"))
    )
    spend = (
        session.table(INPUTS[2])
        .group_by("CAMPAIGN_ID", "SPEND_DATE")
        .agg(F.sum("SPEND_USD").alias("SPEND"), F.sum("IMPRESSIONS").alias("N_IMPRESSIONS"))
        .with_column_renamed("CAMPAIGN_ID", "S_CAMPAIGN_ID")
    )
    # Full outer join: a day with spend but no clicks (or clicks but no spend row) still counts.
    daily = clicks.join(
        spend,
        (clicks["CAMPAIGN_ID"] == spend["S_CAMPAIGN_ID"]) & (clicks["PERFORMANCE_DATE"] == spend["SPEND_DATE"]),
        how="full",
    ).select(
        F.coalesce(clicks["CAMPAIGN_ID"], spend["S_CAMPAIGN_ID"]).alias("K_CAMPAIGN_ID"),
        F.coalesce(clicks["PERFORMANCE_DATE"], spend["SPEND_DATE"]).alias("K_DATE"),
        F.coalesce(F.col("N_CLICKS"), F.lit(0)).alias("N_CLICKS"),
        F.coalesce(F.col("CLICK_COST"), F.lit(0)).alias("CLICK_COST"),
        F.coalesce(F.col("SPEND"), F.lit(0)).alias("SPEND"),
        F.coalesce(F.col("N_IMPRESSIONS"), F.lit(0)).alias("N_IMPRESSIONS"),
    )
    campaigns = latest_campaigns(session)
    joined = daily.join(campaigns, daily["K_CAMPAIGN_ID"] == campaigns["CAMPAIGN_ID"], how="inner")
    clicks_c, spend_c, impr_c = F.col("N_CLICKS"), F.col("SPEND"), F.col("N_IMPRESSIONS")
    # Explicit casts: the output schema *is* the contract (contracts/marketing/campaign_performance/v1.json).
    return joined.select(
        F.col("K_CAMPAIGN_ID").alias("CAMPAIGN_ID"),
        F.col("CAMPAIGN_NAME"),
        F.col("CHANNEL"),
        F.col("K_DATE").alias("PERFORMANCE_DATE"),
        clicks_c.cast(LongType()).alias("CLICKS"),
        impr_c.cast(LongType()).alias("IMPRESSIONS"),
        spend_c.cast(DecimalType(14, 2)).alias("SPEND_USD"),
        F.col("CLICK_COST").cast(DecimalType(16, 4)).alias("CLICK_COST_USD"),
        F.iff(clicks_c > 0, spend_c / clicks_c, F.lit(None)).cast(DecimalType(16, 4)).alias("CPC_USD"),
        F.iff(impr_c > 0, clicks_c / impr_c, F.lit(None)).cast(DecimalType(12, 6)).alias("CTR"),
        F.lit(build_time()).alias("UPDATED_AT"),
    )


def build(session: Session) -> str:
    """Stored procedure entry point: (re)build the candidate table in STAGING."""
    transform(session).write.save_as_table(OUTPUT, mode="overwrite")
    return f"built {OUTPUT}"
