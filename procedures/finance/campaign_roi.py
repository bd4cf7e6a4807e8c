"""CAMPAIGN_ROI: Finance revenue joined with Marketing's *granted* secure views -- zero copy.

Revenue is attributed to a campaign by the order's click id (through MARKETING's AD_CLICKS_V1
view) or, failing that, by its UTM campaign. Spend comes from CAMPAIGN_PERFORMANCE_V1. Both
Marketing inputs are read in place as views; nothing of Marketing is copied into FINANCE_DB.

    ROI  = (revenue - spend) / spend
    ROAS = revenue / spend
"""

from __future__ import annotations

from snowflake.snowpark import DataFrame, Session
from snowflake.snowpark import functions as F
from snowflake.snowpark.types import DecimalType, LongType

from governance.clock import build_time

INPUTS = (
    "FINANCE_DB.RAW.TRANSACTIONS",
    "FINANCE_DB.RAW.FX_RATES",
    "MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1",
    "MARKETING_DB.PRODUCTS.AD_CLICKS_V1",
)
OUTPUT = "FINANCE_DB.STAGING.CAMPAIGN_ROI"
# Column lineage from protected input columns (docs/security.md, "Who sees clear values"): every
# output column derived from one, with its sources. `mesh audit access` (proof 9) holds the output
# to at least the source's classification, and Marketing's contract must allow FINANCE's pipeline
# to read SPEND_USD in clear (x-tags "unmask-for:FINANCE"), else this build would read NULLs.
LINEAGE = {
    "SPEND_USD": ("MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1.SPEND_USD",),
    "ROI": ("MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1.SPEND_USD",),
    "ROAS": ("MARKETING_DB.PRODUCTS.CAMPAIGN_PERFORMANCE_V1.SPEND_USD",),
}


def attributed_revenue(session: Session) -> DataFrame:
    """Revenue in USD per campaign and day of order."""
    orders = session.table(INPUTS[0])
    fx = session.table(INPUTS[1]).group_by("CURRENCY").agg(F.max("USD_PER_UNIT").alias("USD_PER_UNIT"))
    clicks = session.table(INPUTS[3]).select(
        F.col("CLICK_ID").alias("C_CLICK_ID"), F.col("CAMPAIGN_ID").alias("C_CAMPAIGN_ID")
    )
    campaigns = session.table(INPUTS[2]).select(F.col("CAMPAIGN_ID").alias("U_CAMPAIGN_ID")).distinct()
    priced = orders.join(fx, "CURRENCY", how="inner").with_column(
        "REVENUE", F.col("AMOUNT") * F.col("USD_PER_UNIT")
    )
    by_click = priced.join(clicks, priced["ATTRIBUTED_CLICK_ID"] == clicks["C_CLICK_ID"], how="left")
    # UTM campaigns arrive lower case ('cmp-0007'); campaign ids are upper case.
    by_utm = by_click.join(campaigns, F.upper(by_click["UTM_CAMPAIGN"]) == campaigns["U_CAMPAIGN_ID"], how="left")
    return (
        by_utm.with_column("CAMPAIGN_ID", F.coalesce(F.col("C_CAMPAIGN_ID"), F.col("U_CAMPAIGN_ID")))
        .filter(F.col("CAMPAIGN_ID").is_not_null())
        .with_column("PERIOD_DATE", F.to_date(F.col("ORDERED_AT")))
        .group_by("CAMPAIGN_ID", "PERIOD_DATE")
        .agg(F.count("ORDER_ID").alias("N_ORDERS"), F.sum("REVENUE").alias("REVENUE"))
    )


def transform(session: Session) -> DataFrame:
    revenue = attributed_revenue(session)
    perf = session.table(INPUTS[2])
    spend = perf.group_by("CAMPAIGN_ID", "PERFORMANCE_DATE").agg(F.sum("SPEND_USD").alias("SPEND")).select(
        F.col("CAMPAIGN_ID").alias("S_CAMPAIGN_ID"), F.col("PERFORMANCE_DATE"), F.col("SPEND")
    )
    names = perf.select(
        F.col("CAMPAIGN_ID").alias("N_CAMPAIGN_ID"), F.col("CAMPAIGN_NAME"), F.col("CHANNEL")
    ).distinct()
    daily = revenue.join(
        spend,
        (revenue["CAMPAIGN_ID"] == spend["S_CAMPAIGN_ID"]) & (revenue["PERIOD_DATE"] == spend["PERFORMANCE_DATE"]),
        how="full",
    ).select(
        F.coalesce(revenue["CAMPAIGN_ID"], spend["S_CAMPAIGN_ID"]).alias("K_CAMPAIGN_ID"),
        F.coalesce(revenue["PERIOD_DATE"], spend["PERFORMANCE_DATE"]).alias("K_DATE"),
        F.coalesce(F.col("N_ORDERS"), F.lit(0)).alias("N_ORDERS"),
        F.coalesce(F.col("REVENUE"), F.lit(0)).alias("REVENUE"),
        F.coalesce(F.col("SPEND"), F.lit(0)).alias("SPEND"),
    )
    # Round money first and derive ROI/ROAS from the rounded figures, so the published
    # columns agree with each other exactly (the contract checks it).
    money = daily.select(
        "K_CAMPAIGN_ID",
        "K_DATE",
        "N_ORDERS",
        F.col("REVENUE").cast(DecimalType(16, 2)).alias("REVENUE_USD"),
        F.col("SPEND").cast(DecimalType(16, 2)).alias("SPEND_USD"),
    )
    rev, spd = F.col("REVENUE_USD"), F.col("SPEND_USD")
    return money.join(names, money["K_CAMPAIGN_ID"] == names["N_CAMPAIGN_ID"], how="inner").select(
        F.col("K_CAMPAIGN_ID").alias("CAMPAIGN_ID"),
        F.col("CAMPAIGN_NAME"),
        F.col("CHANNEL"),
        F.col("K_DATE").alias("PERIOD_DATE"),
        F.col("N_ORDERS").cast(LongType()).alias("ORDERS"),
        rev,
        spd,
        F.iff(spd > 0, (rev - spd) / spd, F.lit(None)).cast(DecimalType(18, 6)).alias("ROI"),
        F.iff(spd > 0, rev / spd, F.lit(None)).cast(DecimalType(18, 6)).alias("ROAS"),
        F.lit(build_time()).alias("UPDATED_AT"),
    )


def build(session: Session) -> str:
    transform(session).write.save_as_table(OUTPUT, mode="overwrite")
    return f"built {OUTPUT}"
