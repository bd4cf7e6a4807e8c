"""AD_CLICKS: every valid click with campaign, channel and UTM fields, for revenue attribution."""

from __future__ import annotations

from snowflake.snowpark import DataFrame, Session, Window
from snowflake.snowpark import functions as F
from snowflake.snowpark.types import DecimalType, TimestampTimeZone, TimestampType

from governance.clock import build_time

INPUTS = ("MARKETING_DB.RAW.AD_CLICKS",)
OUTPUT = "MARKETING_DB.STAGING.AD_CLICKS"


def transform(session: Session) -> DataFrame:
    # A click id delivered twice keeps its first landing: attribution must not double count.
    w = Window.partition_by("CLICK_ID").order_by(F.col("_LOADED_AT"), F.col("_FILE"), F.col("_LINE"))
    return (
        session.table(INPUTS[0])
        .with_column("_RN", F.row_number().over(w))
        .filter(F.col("_RN") == 1)
        .select(
            F.col("CLICK_ID"),
            F.col("CAMPAIGN_ID"),
            F.col("CLICKED_AT").cast(TimestampType(TimestampTimeZone.NTZ)).alias("CLICKED_AT"),
            F.to_date(F.col("CLICKED_AT")).alias("CLICK_DATE"),
            F.col("CHANNEL"),
            F.col("COST_USD").cast(DecimalType(12, 4)).alias("COST_USD"),
            F.col("UTM_SOURCE"),
            F.col("UTM_MEDIUM"),
            F.col("UTM_CAMPAIGN"),
            F.lit(build_time()).alias("UPDATED_AT"),
        )
    )


def build(session: Session) -> str:
    transform(session).write.save_as_table(OUTPUT, mode="overwrite")
    return f"built {OUTPUT}"
