"""The files ``mesh domain new`` / ``mesh product new`` write. Pure: text in, text out.

A scaffolded product reads one source of its domain and publishes, per day of the source's
first TIMESTAMP_NTZ/DATE column (if it has one), the number of distinct rows (``N_ROWS``, each key
counted once: a re-delivered row keeps its first landing) and the total of up to three numeric
columns (``TOTAL_<COLUMN>``). It is a starting point that passes ``mesh contract check`` and
``mesh run`` as written; docs/add-a-domain.md says what to change and what a handler must keep.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from snowmesh.manifest.model import Column, Domain, Source

DOMAIN_YML = """\
# {name}: scaffolded by `mesh domain new` -- edit freely (docs/add-a-domain.md).
name: {name}
owner: {owner}
description: What {name} owns and publishes (one line, shown in the catalog).
database: {name}_DB
warehouse:
  name: {name}_WH
  size: XSMALL
  auto_suspend_seconds: 60
  monthly_credit_quota: 10
landing:
  bucket: {bucket}
schedule:
  cron: "0 3 * * *"
  timezone: UTC
sources:
  # Sample data (mesh run, mesh generate, the contract gate) comes from these columns and
  # their `sample` hints; `corrupt` breaks --corrupt-fraction of the rows to exercise the quarantine.
  - name: EVENTS
    prefix: events
    format: csv_gzip
    key: [EVENT_ID]
    columns:
      - {{name: EVENT_ID, type: VARCHAR, required: true}}
      - {{name: EVENT_AT, type: TIMESTAMP_NTZ, required: true}}
      - {{name: CATEGORY, type: VARCHAR, required: true, sample: {{enum: [basic, plus, premium]}}}}
      - {{name: AMOUNT, type: "NUMBER(12,2)", required: true, sample: {{min: 1, max: 500, distribution: lognormal}}}}
      - {{name: NOTE, type: VARCHAR, sample: {{faker: sentence, null_rate: 0.2}}}}
    sample:
      scale: 0.1
      corrupt: [bad_number, missing_key, bad_timestamp]
products: []
"""


def domain_yml(name: str, owner: str) -> str:
    bucket = f"mesh-{name.lower().replace('_', '-')}-landing"[:63].rstrip("-")
    return DOMAIN_YML.format(name=name, owner=owner, bucket=bucket)


@dataclass(frozen=True)
class Shape:
    """What the scaffolded product computes from its source."""

    key: tuple[str, ...]
    day: Column | None
    totals: tuple[Column, ...]

    @property
    def columns(self) -> list[str]:
        return (["DAY"] if self.day else []) + ["N_ROWS"] + [f"TOTAL_{c.name}" for c in self.totals]


def shape(s: Source) -> Shape:
    day = next((c for t in ("TIMESTAMP_NTZ", "DATE") for c in s.columns if c.type == t and c.required), None)
    totals = tuple(c for c in s.columns if c.type.startswith(("NUMBER", "FLOAT")) and c.name not in s.key)[:3]
    return Shape(s.key, day, totals)


def _scale(c: Column) -> int:
    m = re.fullmatch(r"NUMBER\((\d+),(\d+)\)", c.type)
    return int(m.group(2)) if m else 0


def _total_type(c: Column) -> tuple[str, str]:
    """(Snowpark cast, contract x-snowflake-type) of a column's total."""
    if c.type == "FLOAT":
        return "DoubleType()", "FLOAT"
    return f"DecimalType(18, {_scale(c)})", f"NUMBER(18,{_scale(c)})"


def manifest_product(text: str, d: Domain, s: Source, product: str) -> str:
    """The manifest with the product appended to ``products:`` (comments and layout kept)."""
    folder = d.path.parent.name
    entry = (f"  - name: {product}\n"
             f"    description: Rows and totals of {s.name} per day (scaffolded; describe it).\n"
             f"    contract: contracts/{folder}/{product.lower()}/v1.json\n"
             f"    handler: {folder}.{product.lower()}.build\n"
             f"    inputs: [RAW.{s.name}]\n"
             f"    consumers: []\n")
    lines = text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if re.match(r"products:\s*(\[\s*\])?\s*(#.*)?$", line)), None)
    if at is None:
        return text + ("" if text.endswith("\n") else "\n") + "products:\n" + entry
    if "[" in lines[at]:
        lines[at] = "products:\n"
    end = next((i for i in range(at + 1, len(lines)) if re.match(r"[A-Za-z_]", lines[i])), len(lines))
    while end > at + 1 and not lines[end - 1].strip():
        end -= 1
    if end and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + entry + "".join(lines[end:])


def contract_json(d: Domain, s: Source, product: str) -> str:
    sh = shape(s)
    props: dict[str, dict[str, object]] = {}
    if sh.day:
        props["DAY"] = {"type": "string", "format": "date", "x-unique": True, "x-classification": "internal",
                        "description": f"The day of {sh.day.name}."}
    props["N_ROWS"] = {"type": "integer", "minimum": 1, "x-classification": "internal",
                     "description": f"Distinct {s.name} rows" + (" that day." if sh.day else ".")}
    for c in sh.totals:
        props[f"TOTAL_{c.name}"] = {"type": "number", "x-snowflake-type": _total_type(c)[1],
                                    "x-classification": "internal", "description": f"Sum of {c.name}."}
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"contracts/{d.path.parent.name}/{product.lower()}/v1.json",
        "title": product,
        "description": f"Rows and totals of {s.name} per day.",
        "type": "object",
        "additionalProperties": False,
        "x-product": {"domain": d.name, "name": product, "owner": d.owner, "version": "1.0.0", "status": "active"},
        **({"x-primary-key": ["DAY"]} if sh.day else {}),
        "x-quality": {"row_count": {"min": 1}},
        "required": list(props),
        "properties": props,
    }
    return json.dumps(doc, indent=2) + "\n"


def handler_py(d: Domain, s: Source, product: str) -> str:
    sh = shape(s)
    keys = ", ".join(f'"{k}"' for k in sh.key)
    count = f'F.count("{sh.key[0]}")' if sh.key else 'F.count(F.lit(1))'
    aggs = [f'{count}.alias("_ROWS")'] + [f'F.sum("{c.name}").alias("_{c.name}")' for c in sh.totals]
    cols = (['F.col("DAY")'] if sh.day else []) + ['F.col("_ROWS").cast(LongType()).alias("N_ROWS")']
    cols += [f'F.col("_{c.name}").cast({_total_type(c)[0]}).alias("TOTAL_{c.name}")' for c in sh.totals]
    types = sorted({"LongType"} | {_total_type(c)[0].split("(")[0] for c in sh.totals})
    body = "    raw = session.table(INPUTS[0])\n"
    if sh.key:
        body += (
            "    # A row delivered twice (the same key in two files) counts once: keep its first landing.\n"
            "    # _FILE, _LINE and _LOADED_AT are the platform's raw columns (docs/add-a-domain.md).\n"
            f"    first = Window.partition_by({keys}).order_by(F.col(\"_LOADED_AT\"), F.col(\"_FILE\"), F.col(\"_LINE\"))\n"
            "    raw = raw.with_column(\"_RN\", F.row_number().over(first)).filter(F.col(\"_RN\") == 1)\n"
        )
    if sh.day:
        body += f'    grouped = raw.with_column("DAY", F.to_date(F.col("{sh.day.name}"))).group_by("DAY")\n'
    else:
        body += "    grouped = raw.group_by()\n"
    body += "    return grouped.agg(\n        " + ",\n        ".join(aggs) + ",\n    ).select(\n        "
    body += ",\n        ".join(cols) + ",\n    )\n"
    window = ", Window" if sh.key else ""
    return f'''"""{product}: rows and totals of {s.name} per day (scaffolded by `mesh product new`).

The handler contract (docs/add-a-domain.md): INPUTS are the tables it reads (its own RAW tables,
or another domain's granted PRODUCTS views), OUTPUT is its STAGING table; transform(session)
returns the rows as one Snowpark plan (the contract gate infers its schema without running it),
build(session) writes them to OUTPUT. The platform validates OUTPUT against
contracts/{d.path.parent.name}/{product.lower()}/v1.json and only then publishes {product}_V1.
"""

from __future__ import annotations

from snowflake.snowpark import DataFrame, Session{window}
from snowflake.snowpark import functions as F
from snowflake.snowpark.types import {", ".join(types)}

INPUTS = ("{d.database}.RAW.{s.name}",)
OUTPUT = "{d.database}.STAGING.{product}"


def transform(session: Session) -> DataFrame:
{body}

def build(session: Session) -> str:
    transform(session).write.save_as_table(OUTPUT, mode="overwrite")
    return f"built {{OUTPUT}}"
'''


_SNOWPARK_TYPES = {"VARCHAR": "StringType()", "BOOLEAN": "BooleanType()", "DATE": "DateType()",
                   "TIMESTAMP_NTZ": "TimestampType()", "FLOAT": "DoubleType()", "NUMBER": "LongType()"}


def _field(c: Column) -> str:
    m = re.fullmatch(r"NUMBER\((\d+),(\d+)\)", c.type)
    t = f"DecimalType({m.group(1)}, {m.group(2)})" if m else _SNOWPARK_TYPES[c.type]
    return f'StructField("{c.name}", {t})'


def _value(c: Column, i: int, day: int) -> str:
    """A plain valid value of the column for test row ``i`` on day ``day`` (1 or 2 of October)."""
    if c.type == "VARCHAR":
        return repr(c.sample.enum[i % len(c.sample.enum)]) if c.sample.enum else repr(f"{c.name[:3]}-{i + 1}")
    if c.type == "BOOLEAN":
        return str(i % 2 == 0)
    if c.type == "DATE":
        return f"date(2026, 10, {day})"
    if c.type == "TIMESTAMP_NTZ":
        return f"datetime(2026, 10, {day}, {8 + i}, 30)"
    if c.type == "FLOAT":
        return f"{10.5 * (i + 1)}"
    scale = _scale(c)
    return f'Decimal("{(i + 1) * 10}.{"5" * scale}")' if scale else str((i + 1) * 10)


def test_py(d: Domain, s: Source, product: str) -> str:
    sh = shape(s)
    folder, module = d.path.parent.name, product.lower()
    days = (1, 1, 2)  # two rows on the first day, one on the second
    rows = [[_value(c, i, days[i]) for c in s.columns] for i in range(3)]
    dup = list(rows[0])  # the first row re-delivered in a later file: counted once
    lines = [f"    [{', '.join(r)}, \"f1.csv.gz\", {i + 2}, datetime(2026, 10, 3)]," for i, r in enumerate(rows)]
    lines.append(f"    [{', '.join(dup)}, \"f2.csv.gz\", 2, datetime(2026, 10, 4)],  # delivered twice")
    expect_rows = {"2026-10-01": 2, "2026-10-02": 1} if sh.day else {"all": 3}
    totals = [c.name for c in sh.totals]
    text = " ".join(" ".join(r) for r in rows)
    stdlib = ["import json"]
    stdlib += [f"from datetime import {', '.join(n for n in ('date', 'datetime') if n + '(' in text or n == 'datetime')}"]
    stdlib += ["from decimal import Decimal"] if "Decimal(" in text else []
    stdlib += ["from pathlib import Path"]
    fields = [_field(c) for c in s.columns]
    used = sorted({"LongType", "StringType", "StructField", "StructType", "TimestampType"}
                  | {re.search(r", (\w+)\(", f).group(1) for f in fields})
    return f'''"""{product}'s handler on four rows, in Snowpark's local testing mode (no account, seconds).

Scaffolded by `mesh product new`: it checks what the scaffolded handler computes. Change it with
the handler, and add the cases your product must get right (docs/add-a-domain.md).
"""

from __future__ import annotations

{chr(10).join(stdlib)}

import pytest

from snowmesh.handlers import import_module

ROOT = Path(__file__).resolve().parents[3]
handler = import_module(ROOT, "{folder}.{module}")  # from the project's procedures/: no reinstall
CONTRACT = json.loads((ROOT / "contracts/{folder}/{module}/v1.json").read_text())

# The raw table as the platform loads it: the declared columns, then _FILE, _LINE, _LOADED_AT.
ROWS = [
{chr(10).join(lines)}
]


@pytest.fixture(scope="module")
def session():
    from snowflake.snowpark import Session

    s = Session.builder.config("local_testing", True).create()
    yield s
    s.close()


def _load_raw(session) -> None:
    from snowflake.snowpark.types import (
{"".join(f"        {t},{chr(10)}" for t in used)}    )

    schema = StructType([
        {(chr(10) + "        ").join(f + "," for f in fields)}
        StructField("_FILE", StringType()),
        StructField("_LINE", LongType()),
        StructField("_LOADED_AT", TimestampType()),
    ])
    session.create_dataframe(ROWS, schema).write.save_as_table(handler.INPUTS[0], mode="overwrite")


def test_output_columns_are_the_contract_columns(session):
    _load_raw(session)
    assert handler.transform(session).columns == list(CONTRACT["properties"])


def test_each_row_counts_once_and_totals_add_up(session):
    _load_raw(session)
    got = handler.transform(session).collect()
    by_day = {{str(r["DAY"]) if "DAY" in r.as_dict() else "all": r.as_dict() for r in got}}
    assert {{k: v["N_ROWS"] for k, v in by_day.items()}} == {expect_rows!r}
    first_landings = ROWS[:3]
    for name in {totals!r}:
        column = {[c.name for c in s.columns]!r}.index(name)
        expected = sum(r[column] for r in first_landings)
        assert float(sum(v["TOTAL_" + name] for v in by_day.values())) == pytest.approx(float(expected))
'''
