"""Marketing's and Finance's own generators (domains/*/sample.py, through generate_domain): manifest-exact columns, determinism, honest corrupt-row bookkeeping, attribution
that points at real earlier clicks, and landing into a real (moto) S3 server.

Files are re-read with the csv module and checked by rules written here, independently of the
generator's own code, so a generator bug cannot vouch for itself.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from moto.server import ThreadedMotoServer

from snowmesh.generate import SourceData, encode, generate_domain, land, summarize, write_local
from snowmesh.handlers import domain_module
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
MESH = load_mesh(ROOT)
campaign_count = domain_module(MESH.domain("MARKETING"), "sample").campaign_count


def generate_marketing(clicks, **kw):
    return generate_domain(MESH, "MARKETING", clicks, **kw)


def generate_finance(clicks, **kw):
    return generate_domain(MESH, "FINANCE", clicks, **kw)

CLICKS, SEED = 5_000, 7
FIRST, LAST = date(2026, 10, 3), date(2026, 11, 1)  # default 30-day window ending 2026-11-01

# What a valid value looks like, per column; anything else must be a declared corrupt row.
TS = "%Y-%m-%d %H:%M:%S"
NUM2, NUM4 = re.compile(r"^\d+\.\d{2}$"), re.compile(r"^\d+\.\d{4}$")
KEYS = {"AD_CLICKS": "CLICK_ID", "AD_SPEND": "CAMPAIGN_ID", "TRANSACTIONS": "ORDER_ID"}
NUMBERS = {"AD_CLICKS": ("COST_USD", NUM4), "AD_SPEND": ("SPEND_USD", NUM2), "TRANSACTIONS": ("AMOUNT", NUM2)}
TIMES = {"AD_CLICKS": "CLICKED_AT", "TRANSACTIONS": "ORDERED_AT"}


@pytest.fixture(scope="module")
def data():
    return {**generate_marketing(CLICKS, seed=SEED), **generate_finance(CLICKS, seed=SEED)}


@pytest.fixture(scope="module")
def landed(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("landing")
    files = write_local(data, out)
    parsed = {}
    for f in files:
        with gzip.open(out / f.key, "rt", newline="") as fh:
            parsed[f.key] = list(csv.reader(fh))
    return files, parsed


def _rows(parsed, files, source):
    """Data rows of a source, with their file's dt, in file order."""
    out = []
    for f in files:
        if f.source == source:
            dt = f.key.split("/")[1].removeprefix("dt=")
            out += [(dt, dict(zip(parsed[f.key][0], r, strict=True))) for r in parsed[f.key][1:]]
    return out


def _why_invalid(source: str, row: dict[str, str]) -> str | None:
    if row[KEYS[source]] == "":
        return "missing_key"
    col, pattern = NUMBERS[source]
    if not pattern.match(row[col]):
        return "bad_number"
    if source in TIMES:
        try:
            datetime.strptime(row[TIMES[source]], TS)
        except ValueError:
            return "bad_timestamp"
    return None


def test_sources_and_columns_match_manifests(data, landed):
    files, parsed = landed
    declared = {s.name: (s.prefix, tuple(c.name for c in s.columns))
                for d in MESH.domains if d.name in ("MARKETING", "FINANCE") for s in d.sources}
    assert set(declared) == set(data)
    for name, (prefix, columns) in declared.items():
        assert data[name].table.column_names == list(columns)
        mine = [f for f in files if f.source == name]
        assert mine and all(
            re.fullmatch(rf"{prefix}/dt=\d{{4}}-\d\d-\d\d/part-00000\.csv\.gz", f.key) for f in mine
        )
        assert all(parsed[f.key][0] == list(columns) for f in mine)


def test_layout_one_file_per_day_and_snapshots_on_end_date(landed):
    files, _ = landed
    days = {(FIRST + timedelta(days=i)).isoformat() for i in range(30)}
    for source in ("AD_CLICKS", "AD_SPEND", "TRANSACTIONS"):
        dts = [f.key.split("/")[1][3:] for f in files if f.source == source]
        assert len(dts) == len(set(dts)) and set(dts) <= days
        assert len(dts) >= 25
    assert [f.key for f in files if f.source in ("CAMPAIGNS", "FX_RATES")] == [
        "campaigns/dt=2026-11-01/part-00000.csv.gz",
        "fx_rates/dt=2026-11-01/part-00000.csv.gz",
    ]


def test_same_seed_same_bytes_other_seed_other_bytes():
    def blob(seed):
        return {f.key: body for f, body in encode(generate_marketing(3_000, seed=seed))} | {
            f.key: body for f, body in encode(generate_finance(3_000, seed=seed))
        }

    first, again, other = blob(11), blob(11), blob(12)
    assert first == again
    assert any(first[k] != other.get(k) for k in first)


def test_files_hold_exactly_the_in_memory_values(data, landed):
    files, parsed = landed
    for name, src in data.items():
        rows = [r for f in files if f.source == name for r in parsed[f.key][1:]]
        assert rows == [list(r.values()) for r in src.table.to_pylist()]
        assert sum(f.rows for f in files if f.source == name) == src.rows == len(rows)


def test_corrupt_rows_are_exactly_the_declared_lines(landed):
    files, parsed = landed
    totals = summarize(files)
    for source in KEYS:
        found, declared = set(), set()
        for f in (f for f in files if f.source == source):
            for line, row in enumerate(parsed[f.key][1:], start=2):
                why = _why_invalid(source, dict(zip(parsed[f.key][0], row, strict=True)))
                if why:
                    found.add((f.key, line, why))
            declared |= {(f.key, line, why) for line, why in f.corrupt_lines}
            assert f.rows == len(parsed[f.key]) - 1
        assert found == declared
        rows, bad = totals[source]
        assert bad == len(declared) == -(-rows // 1000)  # ceil(0.001 * rows)
    assert totals["CAMPAIGNS"][1] == totals["FX_RATES"][1] == 0


def test_every_reason_shows_up_at_a_high_fraction():
    files = list(
        encode(
            generate_marketing(2_000, corrupt_fraction=0.05) | generate_finance(2_000, corrupt_fraction=0.05)
        )
    )
    for source in KEYS:
        found, declared = set(), set()
        for f, body in (x for x in files if x[0].source == source):
            rows = list(csv.reader(io.StringIO(gzip.decompress(body).decode(), newline="")))
            found |= {
                (f.key, i, w)
                for i, r in enumerate(rows[1:], 2)
                if (w := _why_invalid(source, dict(zip(rows[0], r))))
            }
            declared |= {(f.key, line, why) for line, why in f.corrupt_lines}
        assert found == declared
        expected = {"bad_number", "missing_key"} | ({"bad_timestamp"} if source in TIMES else set())
        assert {why for *_, why in declared} == expected


def test_no_corruption_when_fraction_is_zero():
    files = [
        f
        for f, _ in encode(
            generate_marketing(2_000, corrupt_fraction=0) | generate_finance(2_000, corrupt_fraction=0)
        )
    ]
    assert all(not f.corrupt_lines for f in files)


def test_clicks_follow_their_campaigns(landed):
    files, parsed = landed
    campaigns = {r["CAMPAIGN_ID"]: r for _, r in _rows(parsed, files, "CAMPAIGNS")}
    assert len(campaigns) == campaign_count(CLICKS)
    assert all(re.fullmatch(r"CMP-\d{4}", c) for c in campaigns)
    assert all(r["CHANNEL"] in {"search", "social", "display", "email", "video"} for r in campaigns.values())
    clicks = _rows(parsed, files, "AD_CLICKS")
    ids = [r["CLICK_ID"] for _, r in clicks if r["CLICK_ID"]]
    assert all(re.fullmatch(r"^CLK-[0-9]+$", i) for i in ids) and len(set(ids)) == len(ids)
    for dt, r in clicks:
        if _why_invalid("AD_CLICKS", r):
            continue
        camp = campaigns[r["CAMPAIGN_ID"]]
        at = datetime.strptime(r["CLICKED_AT"], TS)
        assert at.date().isoformat() == dt and FIRST <= at.date() <= LAST
        assert camp["START_DATE"] <= dt <= camp["END_DATE"]
        assert r["CHANNEL"] == camp["CHANNEL"] and r["UTM_CAMPAIGN"] == r["CAMPAIGN_ID"].lower()
        assert r["UTM_SOURCE"] and r["UTM_MEDIUM"]


def test_spend_covers_active_days_with_more_impressions_than_clicks(landed):
    files, parsed = landed
    per_day = Counter((r["CAMPAIGN_ID"], dt) for dt, r in _rows(parsed, files, "AD_CLICKS"))
    spend = [(dt, r) for dt, r in _rows(parsed, files, "AD_SPEND") if not _why_invalid("AD_SPEND", r)]
    keys = [(r["CAMPAIGN_ID"], r["SPEND_DATE"]) for _, r in spend]
    assert len(set(keys)) == len(keys)
    for dt, r in spend:
        assert r["SPEND_DATE"] == dt
        assert int(r["IMPRESSIONS"]) > 20 * per_day[(r["CAMPAIGN_ID"], dt)]
    # SPEND_USD is the day's click cost rounded half up to cents (where every cost is readable).
    cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    unreadable = set()
    for dt, r in _rows(parsed, files, "AD_CLICKS"):
        if NUM4.match(r["COST_USD"]):
            cost[(r["CAMPAIGN_ID"], dt)] += Decimal(r["COST_USD"])
        else:
            unreadable.add((r["CAMPAIGN_ID"], dt))
    for dt, r in spend:
        key = (r["CAMPAIGN_ID"], dt)
        if key not in unreadable:
            assert Decimal(r["SPEND_USD"]) == cost[key].quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    # Every (campaign, day) with clicks has its spend row, bar those whose CAMPAIGN_ID was blanked.
    every = [(r["CAMPAIGN_ID"], r["SPEND_DATE"]) for _, r in _rows(parsed, files, "AD_SPEND")]
    blanked = sum(1 for c, _ in every if c == "")
    clicked_days = {k for k in per_day if k[0]}
    assert len(clicked_days - set(every)) <= blanked


def test_orders_attribute_to_real_earlier_clicks(data, landed):
    files, parsed = landed
    clicked = {
        r["CLICK_ID"]: r for _, r in _rows(parsed, files, "AD_CLICKS") if not _why_invalid("AD_CLICKS", r)
    }
    campaigns = {r["CAMPAIGN_ID"].lower() for _, r in _rows(parsed, files, "CAMPAIGNS")}
    orders = _rows(parsed, files, "TRANSACTIONS")
    assert len(orders) == CLICKS // 10
    attributed = utm_only = 0
    for dt, r in orders:
        assert re.fullmatch(r"CUS-\d{6}", r["CUSTOMER_ID"]) and r["CURRENCY"] in {"USD", "EUR", "GBP"}
        if r["ATTRIBUTED_CLICK_ID"]:
            attributed += 1
            assert r["UTM_CAMPAIGN"] == ""
            click = clicked[r["ATTRIBUTED_CLICK_ID"]]  # exists and is itself a valid row
            if _why_invalid("TRANSACTIONS", r) != "bad_timestamp":
                assert r["ORDERED_AT"] >= click["CLICKED_AT"]
        elif r["UTM_CAMPAIGN"]:
            utm_only += 1
            assert r["UTM_CAMPAIGN"] in campaigns
        if not _why_invalid("TRANSACTIONS", r):
            assert re.fullmatch(r"ORD-\d{9}", r["ORDER_ID"]) and r["ORDERED_AT"][:10] == dt
    assert 0.52 < attributed / len(orders) < 0.68
    assert 0.12 < utm_only / (len(orders) - attributed) < 0.28
    fx = {r["CURRENCY"]: Decimal(r["USD_PER_UNIT"]) for _, r in _rows(parsed, files, "FX_RATES")}
    assert fx["USD"] == 1 and abs(fx["EUR"] - Decimal("1.08")) < Decimal("0.05")
    assert abs(fx["GBP"] - Decimal("1.27")) < Decimal("0.05")
    assert all(len(v.as_tuple().digits) and -v.as_tuple().exponent == 6 for v in fx.values())


def test_campaign_count_scales_gently():
    assert campaign_count(10_000) == 20
    assert 45 <= campaign_count(1_000_000) <= 55
    assert campaign_count(10**12) == 200


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        generate_marketing(0)
    with pytest.raises(ValueError):
        generate_marketing(100, corrupt_fraction=1.5)
    with pytest.raises(ValueError):
        generate_finance(100, seed=-1)


@pytest.fixture(scope="module")
def s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield client
    server.stop()


def test_land_puts_the_expected_keys_in_s3(s3, data, landed):
    files, parsed = landed
    s3.create_bucket(Bucket="mesh-marketing-landing")
    marketing = {k: data[k] for k in ("CAMPAIGNS", "AD_CLICKS", "AD_SPEND")}
    seen: list[int] = []
    result = land(marketing, s3, "mesh-marketing-landing", progress=seen.append)

    local = {f.key: f for f in files if f.source in marketing}
    assert {f.key: f for f in result} == local
    assert sum(seen) == sum(f.rows for f in result)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="mesh-marketing-landing")
    keys = sorted(o["Key"] for p in pages for o in p.get("Contents", []))
    assert keys == sorted(local)
    body = s3.get_object(Bucket="mesh-marketing-landing", Key=result[1].key)["Body"].read()
    rows = list(csv.reader(io.StringIO(gzip.decompress(body).decode(), newline="")))
    assert rows == parsed[result[1].key]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["mesh-marketing-landing"]


def test_quotes_only_where_needed(data):
    for _, body in encode(data):
        for line in gzip.decompress(body).decode().splitlines():
            assert '"' not in line or ('"12,5x"' in line and line.count('"') == 2)
    odd = pa.table({"CURRENCY": ["a,b", 'say "hi"', "", "plain"], "USD_PER_UNIT": ["1", "2", "3", "4"]})
    ((meta, body),) = encode({"FX_RATES": SourceData("FX_RATES", odd, (("2026-11-01", 0, 4),), prefix="fx_rates")})
    assert gzip.decompress(body) == b'CURRENCY,USD_PER_UNIT\n"a,b",1\n"say ""hi""",2\n,3\nplain,4\n'
    assert meta.rows == 4 and meta.key == "fx_rates/dt=2026-11-01/part-00000.csv.gz"
