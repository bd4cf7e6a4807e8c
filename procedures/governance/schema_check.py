"""Schema checks: an observed table/DataFrame schema against the contract.

The observed schema comes from INFORMATION_SCHEMA.COLUMNS (metadata, not a data scan) or from
a Snowpark DataFrame's ``schema`` (the pre-deploy gate infers a product's output schema from
sample data on the local account). A missing contract column plus a new column of a compatible
type is reported as one rename, because that is what it almost always is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from governance.checks import CheckResult
from governance.contract import Contract, normalize_type, pair_renames, type_fit
from governance.sql import ident, literal, split_fqn


@dataclass(frozen=True)
class ObservedColumn:
    name: str
    type: str  # normalized Snowflake type: VARCHAR, NUMBER(p,s), FLOAT, DATE, TIMESTAMP_NTZ, ...
    nullable: bool


@dataclass(frozen=True)
class SchemaFinding:
    kind: str  # missing | renamed | unexpected | type | nullable
    column: str
    message: str
    breaking: bool


# --------------------------------------------------------------------------- describe


def columns_query(table: Sequence[str]) -> str:
    """INFORMATION_SCHEMA query for one table's columns, in ordinal order."""
    db, schema, name = table
    return (
        "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE\n"
        f"FROM {ident(db)}.INFORMATION_SCHEMA.COLUMNS\n"
        f"WHERE TABLE_SCHEMA = {literal(schema)} AND TABLE_NAME = {literal(name)}\n"
        "ORDER BY ORDINAL_POSITION"
    )


def observed_from_rows(rows: Iterable[Sequence[Any]]) -> list[ObservedColumn]:
    """Rows of (name, data_type, is_nullable, precision, scale) -> observed columns.

    Snowflake (and fakesnow) report VARCHAR as TEXT and NUMBER without its precision in DATA_TYPE.
    """
    out = []
    for name, data_type, is_nullable, precision, scale in rows:
        t = str(data_type).upper()
        if t in ("NUMBER", "DECIMAL", "NUMERIC") and precision is not None:
            t = f"NUMBER({int(precision)},{int(scale or 0)})"
        out.append(ObservedColumn(str(name), normalize_type(t), str(is_nullable).upper() == "YES"))
    return out


def describe_table(session: Any, table: str) -> list[ObservedColumn]:
    """Observed schema of ``DB.SCHEMA.NAME`` (unquoted); empty if the table does not exist."""
    parts = split_fqn(table)
    if len(parts) != 3:
        raise ValueError(f"{table!r}: expected DB.SCHEMA.NAME")
    return observed_from_rows(tuple(r) for r in session.sql(columns_query(parts)).collect())


def snowpark_type_name(dt: Any) -> str:
    """A Snowpark DataType as a Snowflake type (by class name: no import needed for the mapping)."""
    n = type(dt).__name__
    if n == "DecimalType":
        return f"NUMBER({dt.precision},{dt.scale})"
    if n in ("LongType", "IntegerType", "ShortType", "ByteType"):
        return "NUMBER(38,0)"
    if n == "TimestampType":
        tz = str(getattr(getattr(dt, "tz", None), "value", "ntz") or "ntz").lower()
        return {"ltz": "TIMESTAMP_LTZ", "tz": "TIMESTAMP_TZ"}.get(tz, "TIMESTAMP_NTZ")
    simple = {
        "StringType": "VARCHAR",
        "DoubleType": "FLOAT",
        "FloatType": "FLOAT",
        "BooleanType": "BOOLEAN",
        "DateType": "DATE",
        "TimeType": "TIME",
        "BinaryType": "BINARY",
        "VariantType": "VARIANT",
        "ArrayType": "ARRAY",
        "MapType": "OBJECT",
        "StructType": "OBJECT",
    }
    return simple.get(n, n.removesuffix("Type").upper())


def describe_dataframe(df: Any) -> list[ObservedColumn]:
    """Observed schema of a Snowpark DataFrame (a DESCRIBE of its query: no rows are fetched)."""
    return [
        ObservedColumn(f.name.strip('"'), normalize_type(snowpark_type_name(f.datatype)), bool(f.nullable))
        for f in df.schema.fields
    ]


def describe(session: Any, obj: Any) -> list[ObservedColumn]:
    """Observed schema of a table name (``DB.SCHEMA.NAME``) or a Snowpark DataFrame."""
    return describe_table(session, obj) if isinstance(obj, str) else describe_dataframe(obj)


# --------------------------------------------------------------------------- compare


def _compare(
    contract: Contract, observed: Sequence[ObservedColumn]
) -> list[tuple[CheckResult, SchemaFinding | None]]:
    v = f"contract v{contract.product.major}"
    seen = {o.name: o for o in observed}
    expected = {c.name: c for c in contract.columns}
    missing = {c.name: c.snowflake_type for c in contract.columns if c.name not in seen}
    extra = {o.name: o.type for o in observed if o.name not in expected}
    renames = dict(pair_renames(missing, extra))
    out: list[tuple[CheckResult, SchemaFinding | None]] = []

    for c in contract.columns:
        o = seen.get(c.name)
        if o is None and c.name in renames:
            new = renames[c.name]
            msg = f"column {c.name} renamed to {new}? (breaks {v})"
            res = CheckResult(
                "renamed", c.name, f"{new} {extra[new]}", f"{c.name} {c.snowflake_type}", False, "error"
            )
            out.append((res, SchemaFinding("renamed", c.name, msg, True)))
            continue
        if o is None:
            msg = f"column {c.name} {c.snowflake_type} is missing (breaks {v})"
            res = CheckResult("present", c.name, "missing", "present", False, "error")
            out.append((res, SchemaFinding("missing", c.name, msg, True)))
            continue
        fit = type_fit(c.snowflake_type, o.type)
        res = CheckResult(
            "type",
            c.name,
            o.type,
            c.snowflake_type,
            fit in ("exact", "narrower"),
            "warn" if fit == "wider" else "error",
        )
        finding = None
        if fit == "incompatible":
            finding = SchemaFinding(
                "type", c.name, f"column {c.name} is {o.type}, {v} says {c.snowflake_type}", True
            )
        elif fit == "wider":
            msg = f"column {c.name} is {o.type}, wider than {c.snowflake_type} in {v}: values may not fit"
            finding = SchemaFinding("type", c.name, msg, False)
        out.append((res, finding))
        if not c.nullable:
            # Information, never a failing check: Snowpark's save_as_table writes nullable columns, and
            # build_checks gives every required column a not_null data check, which is the enforcement
            # (a NULL fails it, naming the column). A failing row here on every good run hid real failures.
            res = CheckResult(
                "nullable", c.name, "NULL" if o.nullable else "NOT NULL",
                "NOT NULL (enforced by the not_null data check)", True, "info",
            )
            finding = None
            if o.nullable:
                msg = f"column {c.name} is nullable; {v} requires NOT NULL (enforced by the data check)"
                finding = SchemaFinding("nullable", c.name, msg, False)
            out.append((res, finding))

    renamed_to = set(renames.values())
    for name, t in extra.items():
        if name in renamed_to:
            continue
        strict = not contract.additional_properties
        expected_text = "absent (additionalProperties: false)" if strict else "absent"
        res = CheckResult("unexpected_column", name, t, expected_text, False, "error" if strict else "warn")
        msg = f"column {name} {t} is not in {v}" + (" (additionalProperties is false)" if strict else "")
        out.append((res, SchemaFinding("unexpected", name, msg, strict)))
    return out


def check_schema(contract: Contract, observed: Sequence[ObservedColumn]) -> list[CheckResult]:
    """One result per schema promise: type (and NOT NULL) per column, renames, missing and extra columns."""
    if not observed:
        return [CheckResult("table_exists", None, "missing", "present", False, "error")]
    return [r for r, _ in _compare(contract, observed)]


def diff_schema(contract: Contract, observed: Sequence[ObservedColumn]) -> list[SchemaFinding]:
    """Only the problems, as sentences, e.g. ``column CLICKS renamed to CLICK_COUNT? (breaks contract v1)``."""
    return [f for _, f in _compare(contract, observed) if f is not None]

