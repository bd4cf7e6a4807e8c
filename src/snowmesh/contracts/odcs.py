"""Open Data Contract Standard (ODCS) v3.1.0: export, and the official schema check.

Our contract (JSON Schema + ``x-`` keys) maps onto ODCS like this; the round trip
contract -> ODCS -> contract gives back the same contract (docs/contracts.md has the table):

- ``x-product`` -> ``name``, ``version``, ``status``, ``domain``; owner -> ``team.members[role=owner]``;
  ``description`` -> ``description.purpose``; ``x-tags`` -> ``tags``.
- one ``schema`` object (``title``) whose ``properties`` are the columns: JSON type + format ->
  ``logicalType`` (string, date, timestamp, integer, number, boolean), Snowflake type ->
  ``physicalType``, ``required``, ``unique``, ``primaryKey``/``primaryKeyPosition``,
  ``classification``, ``tags``; bounds, ``pattern`` and ``maxLength`` -> ``logicalTypeOptions``.
- ``enum`` -> library metric ``invalidValues`` (``validValues``, ``mustBe: 0``);
  ``max_null_pct`` / ``max_duplicate_pct`` -> ``nullValues`` / ``duplicateValues`` in percent;
  ``row_count`` -> ``rowCount``; custom SQL -> ``type: sql`` (``{table}`` <-> ``{object}``).
- ``x-sla`` -> ``slaProperties`` ``latency`` in hours on ``<TITLE>.<column>``, with the cron schedule.
- What ODCS has no field for rides in ``customProperties`` (``$id``, ``$comment``,
  ``additionalProperties``, the product's own description and tags).

The way back is snowmesh.contracts.odcs_import.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

from snowmesh.contracts.loading import parse

API_VERSION = "v3.1.0"
SCHEMA_FILE = "odcs-json-schema-v3.1.0.json"  # vendored, unmodified, Apache-2.0: see ODCS-NOTICE.md
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

OPERATORS = {  # our custom-check op -> the ODCS operator key
    "==": "mustBe",
    "!=": "mustNotBe",
    "<": "mustBeLessThan",
    "<=": "mustBeLessOrEqualTo",
    ">": "mustBeGreaterThan",
    ">=": "mustBeGreaterOrEqualTo",
}
LOGICAL_TYPES = {  # (JSON type, format) -> ODCS logicalType
    ("string", None): "string",
    ("string", "date"): "date",
    ("string", "date-time"): "timestamp",
    ("integer", None): "integer",
    ("number", None): "number",
    ("boolean", None): "boolean",
}
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


@lru_cache(maxsize=1)
def odcs_schema() -> dict[str, Any]:
    return json.loads(resources.files("snowmesh.contracts").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


def odcs_errors(doc: Any) -> list[str]:
    """Violations of the official ODCS v3.1.0 JSON Schema, as ``path: message`` lines."""
    validator = jsonschema.Draft201909Validator(odcs_schema())
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        path = (
            "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path) or "(top level)"
        )
        out.append(f"{path.lstrip('.')}: {err.message}")
    return out


def _cp(name: str, value: Any) -> dict[str, Any]:
    return {"property": name, "value": value}


# --------------------------------------------------------------------------- export


def to_odcs(doc: dict[str, Any], source: str = "<contract>") -> dict[str, Any]:
    """A contract document -> an ODCS v3.1.0 document (a dict, ready for YAML)."""
    c = parse(doc, source)  # only valid contracts are exported
    p, props = doc["x-product"], doc["properties"]
    q = doc.get("x-quality", {})
    pk = list(doc.get("x-primary-key", ()))
    columns = []
    for col in c.columns:
        spec = props[col.name]
        prop: dict[str, Any] = {
            "name": col.name,
            "logicalType": LOGICAL_TYPES[(col.json_type, col.format)],
            "physicalType": col.snowflake_type,
        }
        if not col.nullable:
            prop["required"] = True
        if col.unique:
            prop["unique"] = True
        if col.name in pk:
            prop["primaryKey"], prop["primaryKeyPosition"] = True, pk.index(col.name) + 1
        for key in ("description",):
            if key in spec:
                prop[key] = spec[key]
        if "x-classification" in spec:
            prop["classification"] = spec["x-classification"]
        if "x-tags" in spec:
            prop["tags"] = list(spec["x-tags"])
        options = {k: spec[k] for k in (*BOUNDS, "pattern", "maxLength") if k in spec}
        if col.format == "date-time":
            options = {"timezone": False, "defaultTimezone": "Etc/UTC"}  # TIMESTAMP_NTZ holds UTC here
        if options:
            prop["logicalTypeOptions"] = options
        rules = []
        if "enum" in spec:
            rules.append(
                {
                    "id": f"{col.name.lower()}_enum",
                    "metric": "invalidValues",
                    "arguments": {"validValues": list(spec["enum"])},
                    "mustBe": 0,
                    "unit": "rows",
                }
            )
        for key, metric in (("max_null_pct", "nullValues"), ("max_duplicate_pct", "duplicateValues")):
            if col.name in q.get(key, {}):
                rules.append(
                    {
                        "id": f"{col.name.lower()}_{key}",
                        "metric": metric,
                        "unit": "percent",
                        "mustBeLessOrEqualTo": q[key][col.name],
                    }
                )
        if rules:
            prop["quality"] = rules
        columns.append(prop)

    table: dict[str, Any] = {
        "name": doc["title"],
        "logicalType": "object",
        "physicalType": "table",
        "properties": columns,
    }
    rules = []
    rc = q.get("row_count", {})
    if "min" in rc:
        rules.append({"id": "row_count_min", "metric": "rowCount", "mustBeGreaterOrEqualTo": rc["min"]})
    if "max" in rc:
        rules.append({"id": "row_count_max", "metric": "rowCount", "mustBeLessOrEqualTo": rc["max"]})
    for cc in q.get("custom", ()):
        rule = {
            "id": cc["name"],
            "name": cc["name"],
            "type": "sql",
            "query": cc["sql"].replace("{table}", "{object}"),
            OPERATORS[cc.get("op", "==")]: cc["expect"],
            "severity": "warning" if cc.get("severity", "error") == "warn" else "error",
        }
        if "description" in cc:
            rule["description"] = cc["description"]
        rules.append(rule)
    if rules:
        table["quality"] = rules
    if "additionalProperties" in doc:
        table["customProperties"] = [_cp("additionalProperties", doc["additionalProperties"])]

    out: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"{p['domain'].lower()}.{p['name'].lower()}.v{c.product.major}",
        "name": p["name"],
        "version": p["version"],
        "status": p.get("status", "active"),
        "domain": p["domain"],
    }
    if "description" in doc:
        out["description"] = {"purpose": doc["description"]}
    if "x-tags" in doc:
        out["tags"] = list(doc["x-tags"])
    out["team"] = {"members": [{"username": p["owner"], "role": "owner"}]}
    out["schema"] = [table]
    if "x-sla" in doc:
        s = doc["x-sla"]
        sla = {
            "id": "freshness",
            "property": "latency",
            "value": s["max_age_hours"],
            "unit": "h",
            "element": f"{doc['title']}.{s['freshness_column']}",
            "description": f"the newest {s['freshness_column']} is at most {s['max_age_hours']} hours old",
        }
        if "schedule" in s:
            sla["scheduler"], sla["schedule"] = "cron", s["schedule"]
        out["slaProperties"] = [sla]
    extra = [_cp("jsonSchemaId", doc["$id"])] if "$id" in doc else []
    extra += [_cp("jsonSchemaComment", doc["$comment"])] if "$comment" in doc else []
    extra += [_cp("productDescription", p["description"])] if "description" in p else []
    extra += [_cp("productTags", list(p["tags"]))] if "tags" in p else []
    if extra:
        out["customProperties"] = extra
    errors = odcs_errors(out)
    if errors:  # a bug in this mapping, not bad input
        raise RuntimeError(f"{source}: generated ODCS does not validate:\n" + "\n".join(errors))
    return out


def dump_yaml(odcs: dict[str, Any]) -> str:
    return yaml.safe_dump(odcs, sort_keys=False, allow_unicode=True, width=120)
