"""The typed contract model: a contract file (JSON Schema 2020-12 + ``x-`` keys) -> :class:`Contract`.

Parsing is two steps: the document is validated against ``contract_meta.schema.json`` (shape,
key typos), then against rules a JSON Schema cannot express (a primary key column must be
required, custom SQL must be a single read-only SELECT, ...). Both report ``file: $.json.path``.

Runs inside Snowflake (procedures zip) and in the CI gate: stdlib + jsonschema + sqlglot only.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from governance.sql import IdentifierError, check_ident

META_SCHEMA_FILE = "contract_meta.schema.json"

# Consumer-visible sensitivity order, used by the diff (raising it can cut consumers off).
CLASSIFICATION_RANK = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}

_NUMBER_RE = re.compile(r"^NUMBER\((\d+),(\d+)\)$")


class ContractError(ValueError):
    """A malformed contract. ``errors`` holds ``(json_path, message)`` pairs, first one in ``path``."""

    def __init__(self, source: str, errors: list[tuple[str, str]]) -> None:
        self.source = source
        self.errors = errors
        self.path = errors[0][0] if errors else "$"
        lines = [f"{source}: {p}: {m}" for p, m in errors[:10]]
        more = f"\n... and {len(errors) - 10} more" if len(errors) > 10 else ""
        super().__init__("invalid contract\n" + "\n".join(lines) + more)


@dataclass(frozen=True)
class Column:
    name: str
    json_type: str  # string | integer | number | boolean
    snowflake_type: str  # VARCHAR, DATE, TIMESTAMP_NTZ, NUMBER(p,s), FLOAT, BOOLEAN
    nullable: bool
    format: str | None = None
    description: str = ""
    classification: str | None = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    pattern: str | None = None
    max_length: int | None = None
    unique: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Product:
    domain: str
    name: str
    owner: str
    version: str
    status: str = "active"
    description: str = ""
    tags: tuple[str, ...] = ()
    deprecation_date: str | None = None  # ISO date; snowmesh.versions decides what it means

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


@dataclass(frozen=True)
class Sla:
    freshness_column: str
    max_age_hours: float
    schedule: str | None = None


@dataclass(frozen=True)
class CustomCheck:
    name: str
    sql: str  # as written, with the {table} placeholder
    expect: float
    op: str = "=="
    severity: str = "error"
    description: str = ""


@dataclass(frozen=True)
class Quality:
    row_count_min: int | None = None
    row_count_max: int | None = None
    max_null_pct: dict[str, float] = field(default_factory=dict)
    max_duplicate_pct: dict[str, float] = field(default_factory=dict)
    custom: tuple[CustomCheck, ...] = ()


@dataclass(frozen=True)
class Contract:
    title: str
    description: str
    product: Product
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    sla: Sla | None = None
    quality: Quality = field(default_factory=Quality)
    additional_properties: bool = False
    tags: tuple[str, ...] = ()
    source: str = "<contract>"
    odcs_metadata: str = ""  # x-odcs (document and columns) as canonical JSON: informational, diffed as patch

    @property
    def version(self) -> str:
        return self.product.version

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


# --------------------------------------------------------------------------- meta-schema


@lru_cache(maxsize=1)
def meta_schema() -> dict[str, Any]:
    # importlib.resources, not open(__file__...): inside Snowflake the package is a zip import.
    text = resources.files("governance").joinpath(META_SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def json_path(parts: Any) -> str:
    """``$.x-product.version`` / ``$.required[0]``: readable, and the same form the semantic rules use."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", str(p)):
            out += f".{p}"
        else:
            out += "[" + json.dumps(str(p)) + "]"
    return out


def _meta_errors(doc: Any) -> list[tuple[str, str]]:
    validator = jsonschema.Draft202012Validator(meta_schema())
    errors = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        # A oneOf failure says only "not valid under any of the given schemas": show the closest cause.
        best = jsonschema.exceptions.best_match(err.context) if err.context else None
        message = err.message if best is None else f"{err.message} ({best.message})"
        errors.append((json_path(err.absolute_path), message))
    return errors


# --------------------------------------------------------------------------- parsing


def snowflake_type(prop: dict[str, Any]) -> str:
    """The Snowflake column type for one JSON Schema property (see the mapping in the module doc)."""
    json_type = _json_type(prop)
    if json_type == "string":
        return {"date": "DATE", "date-time": "TIMESTAMP_NTZ"}.get(prop.get("format", ""), "VARCHAR")
    if json_type == "integer":
        return "NUMBER(38,0)"
    if json_type == "number":
        return prop.get("x-snowflake-type", "FLOAT")
    return "BOOLEAN"


def _json_type(prop: dict[str, Any]) -> str:
    t = prop["type"]
    return t[0] if isinstance(t, list) else t


def parse_contract(doc: dict[str, Any], source: str = "<contract>") -> Contract:
    """Validate ``doc`` (meta-schema, then semantic rules) and build the typed model."""
    errors = _meta_errors(doc)
    if errors:
        raise ContractError(source, errors)
    errors = _semantic_errors(doc)
    if errors:
        raise ContractError(source, errors)

    required = set(doc.get("required", []))
    columns = tuple(
        Column(
            name=name,
            json_type=_json_type(p),
            snowflake_type=snowflake_type(p),
            nullable=name not in required,
            format=p.get("format"),
            description=p.get("description", ""),
            classification=p.get("x-classification"),
            enum=tuple(p["enum"]) if "enum" in p else None,
            minimum=p.get("minimum"),
            maximum=p.get("maximum"),
            exclusive_minimum=p.get("exclusiveMinimum"),
            exclusive_maximum=p.get("exclusiveMaximum"),
            pattern=p.get("pattern"),
            max_length=p.get("maxLength"),
            unique=bool(p.get("x-unique", False)),
            tags=tuple(p.get("x-tags", ())),
        )
        for name, p in doc["properties"].items()
    )
    prod = doc["x-product"]
    sla = doc.get("x-sla")
    q = doc.get("x-quality", {})
    return Contract(
        title=doc["title"],
        description=doc.get("description", ""),
        product=Product(
            domain=prod["domain"],
            name=prod["name"],
            owner=prod["owner"],
            version=prod["version"],
            status=prod.get("status", "active"),
            description=prod.get("description", ""),
            tags=tuple(prod.get("tags", ())),
            deprecation_date=prod.get("deprecation_date"),
        ),
        columns=columns,
        primary_key=tuple(doc.get("x-primary-key", ())),
        sla=Sla(sla["freshness_column"], sla["max_age_hours"], sla.get("schedule")) if sla else None,
        quality=Quality(
            row_count_min=q.get("row_count", {}).get("min"),
            row_count_max=q.get("row_count", {}).get("max"),
            max_null_pct=dict(q.get("max_null_pct", {})),
            max_duplicate_pct=dict(q.get("max_duplicate_pct", {})),
            custom=tuple(
                CustomCheck(
                    name=c["name"],
                    sql=c["sql"],
                    expect=c["expect"],
                    op=c.get("op", "=="),
                    severity=c.get("severity", "error"),
                    description=c.get("description", ""),
                )
                for c in q.get("custom", ())
            ),
        ),
        additional_properties=doc.get("additionalProperties", True),
        tags=tuple(doc.get("x-tags", ())),
        source=source,
        odcs_metadata=_odcs_metadata(doc),
    )


def _odcs_metadata(doc: dict[str, Any]) -> str:
    kept = {"": doc.get("x-odcs")} | {n: p["x-odcs"] for n, p in doc["properties"].items() if "x-odcs" in p}
    return json.dumps(kept, sort_keys=True) if any(v is not None for v in kept.values()) else ""


def load_contract(path: str | Path) -> Contract:
    """Read and parse a contract file; JSON syntax errors are reported like schema errors."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ContractError(
            str(p), [("$", f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")]
        ) from e
    return parse_contract(doc, source=str(p))


def _semantic_errors(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Rules beyond JSON Schema. Paths are in the same ``$.a.b[0]`` form jsonschema uses."""
    from governance.checks import CustomSqlError, guard_custom_sql  # checks imports this module

    errors: list[tuple[str, str]] = []
    props: dict[str, Any] = doc["properties"]
    required = doc.get("required", [])

    def need_column(name: str, path: str) -> None:
        if name not in props:
            errors.append((path, f"{name!r} is not a column of this contract"))

    for name in [doc["title"], *props]:
        try:
            check_ident(name)  # the meta-schema checks the shape; this also rejects reserved words
        except IdentifierError as e:
            errors.append((f"$.properties.{name}" if name in props else "$.title", str(e)))
    for i, name in enumerate(required):
        need_column(name, f"$.required[{i}]")
    for name, p in props.items():
        path = f"$.properties.{name}"
        jt, nullable_type = _json_type(p), isinstance(p["type"], list)
        if name in required and nullable_type:
            errors.append((f"{path}.type", "a required column cannot also allow null"))
        if "x-snowflake-type" in p and jt != "number":
            errors.append((f"{path}.x-snowflake-type", "only allowed for type number"))
        if "format" in p and jt != "string":
            errors.append((f"{path}.format", "only allowed for type string"))
        numeric = jt in ("integer", "number")
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if key in p and not numeric:
                errors.append((f"{path}.{key}", "only allowed for integer and number columns"))
        for key in ("pattern", "maxLength"):
            if key in p and (jt != "string" or "format" in p):
                errors.append((f"{path}.{key}", "only allowed for plain string columns"))
        if "pattern" in p:
            try:
                re.compile(p["pattern"])
            except re.error as e:
                errors.append((f"{path}.pattern", f"not a valid regular expression: {e}"))
        for i, v in enumerate(p.get("enum", ())):
            if isinstance(v, str) != (jt == "string") or isinstance(v, bool):
                errors.append((f"{path}.enum[{i}]", f"{v!r} does not match the column type {jt}"))
    for i, name in enumerate(doc.get("x-primary-key", ())):
        need_column(name, f"$.x-primary-key[{i}]")
        if name in props and name not in required:
            errors.append((f"$.x-primary-key[{i}]", f"primary key column {name!r} must be in required"))
    sla = doc.get("x-sla")
    if sla:
        col = sla["freshness_column"]
        need_column(col, "$.x-sla.freshness_column")
        if col in props and props[col].get("format") not in ("date", "date-time"):
            errors.append(("$.x-sla.freshness_column", f"{col!r} must be a date or date-time column"))
    q = doc.get("x-quality", {})
    for key in ("max_null_pct", "max_duplicate_pct"):
        for name in q.get(key, {}):
            need_column(name, f"$.x-quality.{key}.{name}")
    rc = q.get("row_count", {})
    if "min" in rc and "max" in rc and rc["min"] > rc["max"]:
        errors.append(("$.x-quality.row_count", "min is greater than max"))
    seen: set[str] = set()
    for i, c in enumerate(q.get("custom", ())):
        if c["name"] in seen:
            errors.append((f"$.x-quality.custom[{i}].name", f"duplicate check name {c['name']!r}"))
        seen.add(c["name"])
        try:
            guard_custom_sql(c["sql"])
        except CustomSqlError as e:
            errors.append((f"$.x-quality.custom[{i}].sql", str(e)))
    return errors


# --------------------------------------------------------------------------- types


def normalize_type(t: str) -> str:
    """Canonical spelling: VARCHAR(16777216)/TEXT/STRING -> VARCHAR, DOUBLE -> FLOAT, INT -> NUMBER(38,0)."""
    u = re.sub(r"\s+", "", t.upper())
    base = u.split("(")[0]
    if base in ("VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER", "NVARCHAR"):
        return "VARCHAR"
    if base in ("FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLEPRECISION", "REAL"):
        return "FLOAT"
    if base in ("INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"):
        return "NUMBER(38,0)"
    if base in ("NUMBER", "DECIMAL", "NUMERIC"):
        m = re.match(r"^\w+\((\d+)(?:,(\d+))?\)$", u)
        return f"NUMBER({m.group(1)},{m.group(2) or 0})" if m else "NUMBER(38,0)"
    if base in ("TIMESTAMP", "DATETIME"):
        return "TIMESTAMP_NTZ"
    return u


def number_parts(t: str) -> tuple[int, int] | None:
    m = _NUMBER_RE.match(normalize_type(t))
    return (int(m.group(1)), int(m.group(2))) if m else None


def type_fit(expected: str, observed: str) -> str:
    """How ``observed`` fits the contract's ``expected`` type.

    ``exact``; ``narrower`` (NUMBER with the same scale and less precision: every value fits);
    ``wider`` (same scale, more precision: values may not fit the promise); ``incompatible``.
    """
    e, o = normalize_type(expected), normalize_type(observed)
    if e == o:
        return "exact"
    en, on = number_parts(e), number_parts(o)
    if en and on and en[1] == on[1]:
        return "narrower" if on[0] < en[0] else "wider"
    return "incompatible"


# Below this name similarity (difflib ratio) a missing and a new column are unrelated, not a
# rename: CLICKS/CLICK_COUNT is 0.59, SPEND_USD/SPEND 0.71, ORDER_ID/CAMPAIGN_ID 0.32.
RENAME_MIN_SIMILARITY = 0.5


def name_similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def rename_candidates(missing: dict[str, str], added: dict[str, str]) -> dict[str, list[str]]:
    """For each missing column, the new columns that could be its new name, most similar first.

    A candidate has a compatible type and a name at least RENAME_MIN_SIMILARITY alike.
    """
    return {
        old: sorted(
            (
                n
                for n, t in added.items()
                if type_fit(old_type, t) != "incompatible" and name_similarity(old, n) >= RENAME_MIN_SIMILARITY
            ),
            key=lambda n: -name_similarity(old, n),
        )
        for old, old_type in missing.items()
    }


def pair_renames(missing: dict[str, str], added: dict[str, str]) -> list[tuple[str, str]]:
    """Pair missing columns with new columns of a compatible type and a similar name (name -> type maps).

    Each new column is used once; among several candidates the most similar name wins, so
    CLICKS pairs with CLICK_COUNT rather than with an unrelated NUMBER column.
    """
    pairs: list[tuple[str, str]] = []
    free = dict(added)
    for old, found in rename_candidates(missing, added).items():
        candidates = [n for n in found if n in free]
        if not candidates:
            continue
        best = candidates[0]
        pairs.append((old, best))
        del free[best]
    return pairs
