"""Finance's sample data: TRANSACTIONS and FX_RATES (the manifest's sample.generator).

``generate(ctx)`` returns ``{"TRANSACTIONS": SourceData, "FX_RATES": SourceData}``. Orders point at
Marketing's clicks: the clicks are rebuilt from the same run parameters with Marketing's own
generator (``ctx.generator_of("MARKETING").click_core``), not read back from files.

* ``orders(ctx)`` = ``TRANSACTIONS``' declared ``sample.scale`` (0.1) x ``ctx.rows`` clicks,
  ORD-000000001.. numbered in time order.
* ~60% carry ATTRIBUTED_CLICK_ID, a click that exists and is not one of the corrupt click rows;
  the order comes at or after the click (a few hours later, clamped to the window's last second).
* ~20% of the others carry only UTM_CAMPAIGN (lower-case campaign id, e.g. 'cmp-0007'), timed after
  a click of that campaign; the rest are organic, spread over the window.
* AMOUNT is in CURRENCY (USD/EUR/GBP); FX_RATES gives USD_PER_UNIT for each, one file dated end_date.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from snowmesh.generate import corrupt
from snowmesh.generate.common import (
    DAY,
    HOUR_P,
    SourceData,
    blank_unless,
    fixed,
    ids,
    partition_ranges,
    rng,
    take,
    timestamps,
)

if TYPE_CHECKING:
    from snowmesh.generate.domain import SampleContext

STREAM_ORDERS, STREAM_CORRUPT_ORDERS = 6, 7  # beside Marketing's streams 1-5 and 8

CURRENCIES = ("USD", "EUR", "GBP")
_CURRENCY_P = (0.60, 0.25, 0.15)
# USD per unit, 6 decimals, fixed so that revenue in USD is easy to recompute downstream.
FX_USD_PER_UNIT = {"USD": "1.000000", "EUR": "1.083500", "GBP": "1.271200"}

ATTRIBUTED_SHARE = 0.60  # of all orders
UTM_ONLY_SHARE = 0.20  # of the orders without a click id
_DELAY_MEAN_S = 3 * 3600  # click -> order


def _orders(core: Any, n: int, seed: int, corrupt_fraction: float, columns: list[str],
            rules: tuple[corrupt.Rule, ...]) -> SourceData:
    g = rng(seed, STREAM_ORDERS)
    n_clicks = len(core.at)
    attributed = g.random(n) < ATTRIBUTED_SHARE
    utm_only = ~attributed & (g.random(n) < UTM_ONLY_SHARE)

    # Attribute only to clicks that will load; without replacement while there are enough of them.
    clean = np.ones(n_clicks, dtype=bool)
    clean[core.corrupt.rows] = False
    valid = np.flatnonzero(clean)
    if len(valid) == 0:
        attributed[:] = False
    k = int(attributed.sum())
    click = np.zeros(n, dtype=np.int64)
    if k:
        click[attributed] = g.choice(valid, size=k, replace=k > len(valid))
    click[utm_only] = g.integers(0, n_clicks, int(utm_only.sum()))

    window = core.window
    touched = attributed | utm_only
    delay = (g.exponential(_DELAY_MEAN_S, n) + 30).astype(np.int64)
    after_click = np.minimum(core.at[click] + delay, window.last_second)
    day = g.integers(0, window.days, n)
    organic = window.first_second + day * DAY + g.choice(24, size=n, p=HOUR_P) * 3600 + g.integers(0, 3600, n)
    at = np.where(touched, after_click, organic)

    customer = g.integers(1, max(50, n // 3) + 1, n)
    currency = g.choice(len(CURRENCIES), size=n, p=_CURRENCY_P)
    cents = np.maximum(100, np.rint(g.lognormal(3.6, 0.6, n) * 100)).astype(np.int64)

    order = np.argsort(at, kind="stable")
    at, click, attributed, utm_only = at[order], click[order], attributed[order], utm_only[order]
    customer, currency, cents = customer[order], currency[order], cents[order]

    utm_campaigns = [c.lower() for c in core.campaign_ids]
    utm = core.campaign[click]  # only what the files need: the clicks' core can go after this
    # Widths of the whole source, as ids() takes them from its input: the same in every file.
    customer_width, click_width = max(6, len(str(int(customer.max())))), max(9, len(str(int(click.max()) + 1)))
    plan = corrupt.plan(rules, n, corrupt_fraction, rng(seed, STREAM_CORRUPT_ORDERS))

    def build(a: int, b: int) -> pa.Table:
        """Rows [a, b): the draws are whole (one seed, one set of values), the text one file at a time."""
        table = pa.table(
            [
                ids("ORD-", np.arange(a + 1, b + 1), max(9, len(str(n)))),
                ids("CUS-", customer[a:b], customer_width),
                timestamps(at[a:b]),
                fixed(cents[a:b], 2),
                take(CURRENCIES, currency[a:b]),
                blank_unless(attributed[a:b], ids("CLK-", click[a:b] + 1, click_width)),
                blank_unless(utm_only[a:b], take(utm_campaigns, utm[a:b])),
            ],
            names=columns,
        )
        return corrupt.apply_part(rules, table, plan, a)

    return SourceData.lazy("TRANSACTIONS", columns, n, build, partition_ranges(at // DAY),
                           corrupt.broken(rules, plan))


def _fx_rates(end_date: date, columns: list[str]) -> SourceData:
    table = pa.table(
        [pa.array(list(FX_USD_PER_UNIT)), pa.array(list(FX_USD_PER_UNIT.values()))],
        names=columns,
    )
    return SourceData("FX_RATES", table, ((end_date.isoformat(), 0, table.num_rows),))


def orders(ctx: SampleContext) -> int:
    return ctx.source("TRANSACTIONS").sample.row_count(ctx.rows)


def generate(ctx: SampleContext) -> dict[str, SourceData]:
    """TRANSACTIONS and FX_RATES in memory; same context -> byte-identical files."""
    marketing = ctx.generator_of("MARKETING")
    core = marketing.click_core(ctx.rows, ctx.seed, ctx.corrupt_fraction, ctx.days, ctx.end_date,
                                ctx.rules("AD_CLICKS", "MARKETING"))
    return {
        "TRANSACTIONS": _orders(core, orders(ctx), ctx.seed, ctx.corrupt_fraction, ctx.columns("TRANSACTIONS"),
                                ctx.rules("TRANSACTIONS")),
        "FX_RATES": _fx_rates(ctx.end_date, ctx.columns("FX_RATES")),
    }
