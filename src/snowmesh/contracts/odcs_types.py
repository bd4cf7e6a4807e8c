"""Pure helpers of the ODCS import: physical types, names, statuses and rule names.

ODCS written elsewhere uses the physical types of its own platform (``int4``, ``varchar[15]``,
``serial``, ``STRING``) and names that are not Snowflake identifiers (``txn_ref_dt``,
``my-domain-team``). These helpers turn them into this project's vocabulary, or say they cannot.
"""

from __future__ import annotations

import re

from governance.contract import normalize_type
from governance.sql import IdentifierError, check_ident

# physical type (upper-case, without its length/precision) -> (logicalType, Snowflake type) for
# the types other platforms write; anything else goes through governance.contract.normalize_type.
_PHYSICAL = {
    **dict.fromkeys(
        ("INT2", "INT4", "INT8", "SERIAL", "SMALLSERIAL", "BIGSERIAL", "LONG", "SHORT", "INT64", "INT32"),
        ("integer", "NUMBER(38,0)"),
    ),
    **dict.fromkeys(("FLOAT64", "FLOAT32", "DOUBLE", "REAL", "FLOAT8", "FLOAT4"), ("number", "FLOAT")),
    **dict.fromkeys(("BPCHAR", "UUID", "XML", "CLOB", "CITEXT", "NCHAR", "NTEXT"), ("string", "VARCHAR")),
    **dict.fromkeys(("BOOL", "BIT"), ("boolean", "BOOLEAN")),
    **dict.fromkeys(("TIMESTAMP_TZ", "TIMESTAMPTZ", "TIMESTAMP_LTZ"), ("timestamp", "TIMESTAMP_TZ")),
    **dict.fromkeys(
        ("VARIANT", "OBJECT", "JSON", "JSONB", "STRUCT", "MAP", "RECORD", "SUPER"), ("object", "VARIANT")
    ),
    "ARRAY": ("array", "ARRAY"),
    "TIME": ("time", "TIME"),
}
_BY_CANONICAL = {
    "VARCHAR": "string",
    "NUMBER(38,0)": "integer",
    "FLOAT": "number",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP_NTZ": "timestamp",
}
STATUSES = {  # ODCS status words seen in the wild -> ours (draft, active, deprecated, retired)
    **dict.fromkeys(("active", "current", "production", "prod", "released", "live"), "active"),
    **dict.fromkeys(("draft", "development", "dev", "proposed", "test", "testing", "planned"), "draft"),
    **dict.fromkeys(("deprecated", "sunset"), "deprecated"),
    **dict.fromkeys(("retired", "inactive", "decommissioned", "archived"), "retired"),
}
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,100}$")


def physical(physical_type: str) -> tuple[str | None, str]:
    """``(logicalType, Snowflake type)`` of a physical type; logicalType None when it cannot be told."""
    u = re.sub(r"\s+", " ", str(physical_type).strip().upper())
    u = re.sub(r"\[.*\]$", "", u)  # varchar[15]: the length in brackets, as some exporters write it
    if u in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH LOCAL TIME ZONE"):
        return "timestamp", "TIMESTAMP_TZ"
    if u.startswith(("STRUCT<", "MAP<", "ARRAY<")):
        return _PHYSICAL[u.split("<")[0]]
    base = u.replace(" ", "").split("(")[0]
    if base in _PHYSICAL:
        return _PHYSICAL[base]
    canonical = normalize_type(u)
    if canonical in _BY_CANONICAL:
        return _BY_CANONICAL[canonical], canonical
    if canonical.startswith("NUMBER("):
        return ("integer" if canonical.endswith(",0)") else "number"), canonical
    return None, canonical


def normalized_name(name: str) -> str:
    """``txn_ref_dt`` -> ``TXN_REF_DT``; ``my-domain team`` -> ``MY_DOMAIN_TEAM``; ``1st`` -> ``_1ST``."""
    out = re.sub(r"[^A-Z0-9_$]", "_", str(name).strip().upper())
    return out if re.match(r"^[A-Z_]", out) else f"_{out}"


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a plain upper-case Snowflake identifier, or None."""
    try:
        check_ident(name)
    except IdentifierError as exc:
        return str(exc)
    return None


def rule_name(raw: object, fallback: str, taken: set[str]) -> str:
    """A valid, unique custom-check name (``^[a-z][a-z0-9_]*$``) from an ODCS rule's name or id."""
    base = re.sub(r"[^a-z0-9]+", "_", str(raw or "").lower()).strip("_")[:90] or fallback
    if not _RULE_NAME.match(base):
        base = f"rule_{base}"[:90]
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name
