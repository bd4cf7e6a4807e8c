"""An independent computation of campaign ROI from the generated files, with pandas only.

It reads the gzip CSV files back from S3 and re-derives everything the warehouse does --
validity of each row, attribution, FX, per-day rounding -- without any project SQL or
Snowpark code, so the end-to-end test compares two separate implementations.

Guards (used by tests/test_mesh_e2e.py): campaign ROI computed a second, independent way.
"""

from __future__ import annotations

import io
import re
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

TS = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")


def read_source(s3, bucket: str, prefix: str) -> pd.DataFrame:
    frames = []
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        frames.append(pd.read_csv(io.BytesIO(body), compression="gzip", dtype=str, keep_default_na=False))
    return pd.concat(frames, ignore_index=True)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.where(s.str.fullmatch(r"-?\d+(\.\d+)?"), None), errors="coerce")


def _ts_ok(s: pd.Series) -> pd.Series:
    ok = s.str.match(TS)
    parsed = pd.to_datetime(s.where(ok), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    return ok & parsed.notna()


def valid_clicks(df: pd.DataFrame) -> pd.DataFrame:
    ok = (df.CLICK_ID != "") & (df.CAMPAIGN_ID != "") & (df.CHANNEL != "") & _num(df.COST_USD).notna() & _ts_ok(df.CLICKED_AT)
    return df[ok]


def valid_spend(df: pd.DataFrame) -> pd.DataFrame:
    ok = (df.CAMPAIGN_ID != "") & _num(df.SPEND_USD).notna() & _num(df.IMPRESSIONS).notna() & (df.SPEND_DATE != "")
    out = df[ok].copy()
    out["SPEND"] = _num(out.SPEND_USD)
    return out


def valid_orders(df: pd.DataFrame) -> pd.DataFrame:
    ok = (df.ORDER_ID != "") & (df.CUSTOMER_ID != "") & _num(df.AMOUNT).notna() & _ts_ok(df.ORDERED_AT) & (df.CURRENCY != "")
    return df[ok].copy()


def cents(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def roi_by_campaign(s3, marketing_bucket: str, finance_bucket: str) -> dict[str, dict[str, Decimal]]:
    clicks = valid_clicks(read_source(s3, marketing_bucket, "ad_clicks")).drop_duplicates("CLICK_ID")
    spend = valid_spend(read_source(s3, marketing_bucket, "ad_spend"))
    campaigns = set(read_source(s3, marketing_bucket, "campaigns").CAMPAIGN_ID)
    orders = valid_orders(read_source(s3, finance_bucket, "transactions"))
    fx = read_source(s3, finance_bucket, "fx_rates")
    rate = dict(zip(fx.CURRENCY, _num(fx.USD_PER_UNIT)))

    click_campaign = dict(zip(clicks.CLICK_ID, clicks.CAMPAIGN_ID))
    spend_campaigns = set(spend.CAMPAIGN_ID)

    def attribute(row) -> str | None:
        if row.ATTRIBUTED_CLICK_ID in click_campaign:
            return click_campaign[row.ATTRIBUTED_CLICK_ID]
        utm = row.UTM_CAMPAIGN.upper()
        # The product resolves UTM campaigns against campaigns that appear in CAMPAIGN_PERFORMANCE.
        return utm if utm in campaigns and utm in (spend_campaigns | set(clicks.CAMPAIGN_ID)) else None

    orders["CAMPAIGN"] = orders.apply(attribute, axis=1)
    orders = orders[orders.CAMPAIGN.notna() & orders.CURRENCY.isin(rate)]
    orders["REV"] = _num(orders.AMOUNT) * orders.CURRENCY.map(rate)
    orders["DAY"] = orders.ORDERED_AT.str[:10]

    result: dict[str, dict[str, Decimal]] = {}
    # The product rounds money per campaign and day, then sums: do the same.
    for (camp, _day), rev in orders.groupby(["CAMPAIGN", "DAY"]).REV.sum().items():
        r = result.setdefault(camp, {"revenue": Decimal(0), "spend": Decimal(0)})
        r["revenue"] += cents(rev)
    for (camp, _day), sp in spend.groupby(["CAMPAIGN_ID", "SPEND_DATE"]).SPEND.sum().items():
        r = result.setdefault(camp, {"revenue": Decimal(0), "spend": Decimal(0)})
        r["spend"] += cents(sp)
    for r in result.values():
        r["roi"] = (r["revenue"] - r["spend"]) / r["spend"] if r["spend"] else None
    return result
