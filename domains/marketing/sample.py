"""Marketing's sample data: CAMPAIGNS, AD_CLICKS and AD_SPEND (the manifest's sample.generator).

``generate(ctx)`` returns ``{"CAMPAIGNS": SourceData, "AD_CLICKS": SourceData, "AD_SPEND": SourceData}``
for the run's ``ctx.rows`` clicks (snowmesh.generate.domain.SampleContext); the corruption of each
source is what domain.yml declares under its ``sample.corrupt``.

* Campaigns: ``campaign_count(clicks)`` of them (20 at 10k clicks, ~50 at 1M, at most 200), ids
  CMP-0001.., Faker catch-phrase names, each active on at least one day of the window.
* Clicks: CLK-000000001.. numbered in time order over the ``days``-day window ending on
  ``end_date``; each falls on a day its campaign is active; CHANNEL is the campaign's;
  UTM_CAMPAIGN is the campaign id in lower case.
* Spend: one row per campaign and active day; SPEND_USD is that day's click cost rounded to cents,
  IMPRESSIONS is 40-250x the day's clicks plus 200-3000.

``click_core`` holds the numeric click arrays, so a consumer's generator (Finance's) can rebuild
the same clicks from the same parameters without reading any file (``ctx.generator_of("MARKETING")``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from faker import Faker

from snowmesh.generate import corrupt
from snowmesh.generate.common import (
    DAY,
    HOUR_P,
    SourceData,
    Window,
    check_params,
    dates,
    fixed,
    ids,
    partition_ranges,
    rng,
    take,
    timestamps,
)

if TYPE_CHECKING:
    from snowmesh.generate.domain import SampleContext

# Independent RNG streams: changing how one table is drawn never shifts another table's values,
# and Finance's generator can rebuild the clicks without drawing anything else.
STREAM_CAMPAIGNS, STREAM_CLICKS, STREAM_SPEND = 1, 2, 3
STREAM_CORRUPT_CLICKS, STREAM_CORRUPT_SPEND = 4, 5
STREAM_UTM = 8

CHANNELS = ("search", "social", "display", "email", "video")
_CPC_USD = np.array([2.40, 1.30, 0.90, 0.60, 1.10])  # typical cost per click, per channel
_COST_SIGMA = 0.35  # log-normal spread of the cost around it
_UTM_MEDIUM = ("cpc", "paid_social", "display", "email", "video")
_UTM_SOURCES = (
    ("google", "bing"),
    ("facebook", "instagram", "linkedin", "tiktok"),
    ("google_display", "criteo"),
    ("newsletter", "braze"),
    ("youtube", "vimeo"),
)
_UTM_FLAT = tuple(s for group in _UTM_SOURCES for s in group)
_UTM_OFFSET = np.cumsum([0] + [len(g) for g in _UTM_SOURCES[:-1]])
_UTM_COUNT = np.array([len(g) for g in _UTM_SOURCES])


def campaign_count(clicks: int) -> int:
    """Grows with the fifth root of scale: 20 at 10k clicks, 50 at 1M, capped at 200."""
    return int(min(200, max(3, round(20 * (max(clicks, 1) / 10_000) ** 0.2))))


@dataclass(frozen=True)
class ClickCore:
    """Numeric campaigns and clicks (clicks in final, time-sorted order: row i is CLK-(i+1))."""

    window: Window
    channel: np.ndarray  # per campaign, index into CHANNELS
    start_day: np.ndarray  # per campaign, day offset from window.first (may be negative)
    end_day: np.ndarray  # per campaign, inclusive, may lie past the window
    budget_cents: np.ndarray  # per campaign
    campaign: np.ndarray  # per click, campaign index (0-based)
    at: np.ndarray  # per click, epoch seconds
    cost: np.ndarray  # per click, 1e-4 USD
    corrupt: corrupt.Plan  # which click rows are broken

    @property
    def campaign_ids(self) -> list[str]:
        return [f"CMP-{i + 1:04d}" for i in range(len(self.channel))]


def click_core(
    clicks: int, seed: int, corrupt_fraction: float, days: int, end_date: date, rules: tuple[corrupt.Rule, ...]
) -> ClickCore:
    """``rules``: AD_CLICKS' declared corruption (which rows break depends only on their count being > 0)."""
    check_params(clicks, seed, corrupt_fraction, days)
    window = Window(end_date, days)
    g = rng(seed, STREAM_CAMPAIGNS)
    n_c = campaign_count(clicks)
    channel = g.integers(0, len(CHANNELS), n_c)
    start = g.integers(-40, max(days - 1, 1), n_c)
    # Long-running campaigns; the max() keeps every campaign live on at least one window day.
    end = np.maximum(start + g.integers(14, 91, n_c) - 1, g.integers(0, days, n_c))
    first, last = np.maximum(start, 0), np.minimum(end, days - 1)
    active = last - first + 1
    weight = g.lognormal(0.0, 0.8, n_c) * active
    share = weight / weight.sum()
    mean_cpc = _CPC_USD[channel] * np.exp(_COST_SIGMA**2 / 2)
    daily = clicks * share / active * mean_cpc * g.uniform(1.3, 2.2, n_c)
    budget_cents = np.maximum(500, np.rint(daily * 100)).astype(np.int64)

    # The same draws in the same order as ever, computed in place and in narrower types where the
    # values fit: at 10M clicks each temporary int64 array is 80 MB.
    g = rng(seed, STREAM_CLICKS)
    campaign = g.choice(n_c, size=clicks, p=share).astype(np.int32)
    frac = g.random(clicks)
    frac *= active[campaign]
    at = frac.astype(np.int64)  # the day offset
    del frac
    at += first[campaign]
    at *= DAY
    at += window.first_second
    hour = g.choice(24, size=clicks, p=HOUR_P)
    hour *= 3600
    at += hour
    del hour
    at += g.integers(0, 3600, clicks)
    order = np.argsort(at, kind="stable")
    campaign, at = campaign[order], at[order]
    del order
    cost = g.lognormal(0.0, _COST_SIGMA, clicks)
    cost *= _CPC_USD[channel[campaign]]
    cost *= 10_000
    cost = np.maximum(1, np.rint(cost, out=cost)).astype(np.int64)

    plan = corrupt.plan(rules, clicks, corrupt_fraction, rng(seed, STREAM_CORRUPT_CLICKS))
    return ClickCore(window, channel, start, end, budget_cents, campaign, at, cost, plan)


def _campaigns(core: ClickCore, seed: int, columns: list[str]) -> SourceData:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    names = [fake.unique.catch_phrase().title() for _ in core.campaign_ids]
    first_day = core.window.first_epoch_day
    table = pa.table(
        [
            pa.array(core.campaign_ids),
            pa.array(names),
            take(CHANNELS, core.channel),
            dates(first_day + core.start_day),
            dates(first_day + core.end_day),
            fixed(core.budget_cents, 2),
        ],
        names=columns,
    )
    return SourceData("CAMPAIGNS", table, ((core.window.end_date.isoformat(), 0, table.num_rows),))


def _clicks(core: ClickCore, seed: int, columns: list[str], rules: tuple[corrupt.Rule, ...]) -> SourceData:
    """A lazy source: the draws are whole (one seed, one set of values), the text one file at a time."""
    n = len(core.at)
    g = rng(seed, STREAM_UTM)
    ch = core.channel[core.campaign].astype(np.int8)  # 5 channels: a byte a click, not eight
    utm_source = (_UTM_OFFSET[ch] + g.integers(0, 1 << 30, n) % _UTM_COUNT[ch]).astype(np.int16)
    campaign_ids = core.campaign_ids
    lower = [c.lower() for c in campaign_ids]
    width = max(9, len(str(n)))  # of the whole source: every file's ids have the same width

    def build(a: int, b: int) -> pa.Table:
        campaign, chan = core.campaign[a:b], ch[a:b]
        table = pa.table(
            [
                ids("CLK-", np.arange(a + 1, b + 1), width),
                take(campaign_ids, campaign),
                timestamps(core.at[a:b]),
                take(CHANNELS, chan),
                fixed(core.cost[a:b], 4),
                take(_UTM_FLAT, utm_source[a:b]),
                take(_UTM_MEDIUM, chan),
                take(lower, campaign),
            ],
            names=columns,
        )
        return corrupt.apply_part(rules, table, core.corrupt, a)

    return SourceData.lazy("AD_CLICKS", columns, n, build, partition_ranges(core.at // DAY),
                           corrupt.broken(rules, core.corrupt))


def _spend(
    core: ClickCore, seed: int, corrupt_fraction: float, columns: list[str], rules: tuple[corrupt.Rule, ...]
) -> SourceData:
    days = core.window.days
    n_c = len(core.channel)
    first, last = np.maximum(core.start_day, 0), np.minimum(core.end_day, days - 1)
    active = last - first + 1
    # One row per (campaign, active day), ordered by day then campaign.
    camp = np.repeat(np.arange(n_c), active)
    day = first[camp] + np.arange(len(camp)) - np.repeat(np.cumsum(active) - active, active)
    order = np.lexsort((camp, day))
    camp, day = camp[order], day[order]

    click_day = (core.at - core.window.first_second) // DAY
    cell = core.campaign * days + click_day
    n_clicks = np.bincount(cell, minlength=n_c * days)[camp * days + day]
    # Float sums of integers stay exact below 2**53; round half up to cents.
    units = np.rint(np.bincount(cell, weights=core.cost, minlength=n_c * days)).astype(np.int64)
    cents = (units[camp * days + day] + 50) // 100

    g = rng(seed, STREAM_SPEND)
    impressions = n_clicks * g.integers(40, 251, len(camp)) + g.integers(200, 3001, len(camp))
    table = pa.table(
        [
            take(core.campaign_ids, camp),
            dates(core.window.first_epoch_day + day),
            fixed(cents, 2),
            pa.array(impressions).cast(pa.string()),
        ],
        names=columns,
    )
    plan = corrupt.plan(rules, len(camp), corrupt_fraction, rng(seed, STREAM_CORRUPT_SPEND))
    table, broken = corrupt.apply(rules, table, plan)
    return SourceData("AD_SPEND", table, partition_ranges(core.window.first_epoch_day + day), broken)


def generate(ctx: SampleContext) -> dict[str, SourceData]:
    """CAMPAIGNS, AD_CLICKS and AD_SPEND in memory; same context -> byte-identical files."""
    core = click_core(ctx.rows, ctx.seed, ctx.corrupt_fraction, ctx.days, ctx.end_date, ctx.rules("AD_CLICKS"))
    return {
        "CAMPAIGNS": _campaigns(core, ctx.seed, ctx.columns("CAMPAIGNS")),
        "AD_CLICKS": _clicks(core, ctx.seed, ctx.columns("AD_CLICKS"), ctx.rules("AD_CLICKS")),
        "AD_SPEND": _spend(core, ctx.seed, ctx.corrupt_fraction, ctx.columns("AD_SPEND"), ctx.rules("AD_SPEND")),
    }
