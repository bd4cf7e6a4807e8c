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
  ``max_null_pct`` -> ``nullValues`` in percent; ``max_duplicate_pct`` -> a ``type: sql`` rule
  (ODCS tools cannot test ``duplicateValues`` in percent: it has no row-count denominator there);
  ``row_count`` -> ``rowCount``; custom SQL -> ``type: sql`` (``{table}`` <-> ``{object}``).
- ``x-sla`` -> ``slaProperties`` ``freshness`` in hours (or minutes) on ``<TITLE>.<column>``,
  with the cron schedule: the SLA property datacontract-cli tests.
- What ODCS has no field for rides in ``customProperties`` (``$id``, ``$comment``,
  ``additionalProperties``, the product's description, tags and deprecation date); what an
  imported document had beyond our format (``x-odcs``) is written back where it came from.
  :func:`export_warnings` names what ODCS tools will not enforce (``additionalProperties: false``).

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
from snowmesh.errors import InputError

API_VERSION = "v3.1.0"
# Vendored, unmodified, Apache-2.0 (see ODCS-NOTICE.md): one schema per ODCS line we read.
SCHEMA_FILES = {"v3.0": "odcs-json-schema-v3.0.2.json", "v3.1": "odcs-json-schema-v3.1.0.json"}
SCHEMA_FILE = SCHEMA_FILES["v3.1"]
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


@lru_cache(maxsize=2)
def odcs_schema(line: str = "v3.1") -> dict[str, Any]:
    text = resources.files("snowmesh.contracts").joinpath(SCHEMA_FILES[line]).read_text(encoding="utf-8")
    return json.loads(text)


def odcs_errors(doc: Any, api_version: str | None = None) -> list[str]:
    """Violations of the official ODCS JSON Schema of the document's line, as ``path: message`` lines.

    ``apiVersion: v3.0.x`` is checked against the v3.0.2 schema, anything else against v3.1.0.
    """
    api = str(api_version or (doc.get("apiVersion") if isinstance(doc, dict) else "") or "")
    validator = jsonschema.Draft201909Validator(odcs_schema("v3.0" if api.startswith("v3.0.") else "v3.1"))
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        path = (
            "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path) or "(top level)"
        )
        out.append(f"{path.lstrip('.')}: {err.message}")
    return list(dict.fromkeys(out))  # the schema's unevaluatedProperties can report one key twice


def _cp(name: str, value: Any) -> dict[str, Any]:
    return {"property": name, "value": value}


def duplicate_pct_query(column: str) -> str:
    """max_duplicate_pct as portable SQL (ANSI: runs in DuckDB, Snowflake, ...) over ``{object}``.

    The same figure as governance.checks' duplicate_pct: non-null values minus distinct
    values, in percent of all rows (0 for an empty table).
    """
    return (
        f"SELECT COALESCE(100.0 * (COUNT({column}) - COUNT(DISTINCT {column})) "
        "/ NULLIF(COUNT(*), 0), 0) FROM {object}"
    )


def duplicate_pct_rule_id(column: str) -> str:
    return f"{column.lower()}_max_duplicate_pct"


def export_warnings(doc: dict[str, Any]) -> list[str]:
    """Promises of a contract that ODCS cannot carry as a testable rule (said at every export)."""
    out = []
    if doc.get("additionalProperties") is False:
        out.append(
            "additionalProperties: false (an extra column breaks the contract) has no ODCS field: it "
            "travels as schema customProperties.additionalProperties, which ODCS tools do not test"
        )
    return out


_MEMBER_KEYS = {"id", "username", "name", "description", "role", "dateIn", "dateOut", "replacedByUsername"}
_MEMBER_KEYS |= {"tags", "customProperties", "authoritativeDefinitions"}


def _v31_member(member: dict[str, Any]) -> dict[str, Any]:
    """A team member in the v3.1 shape: v3.0-only keys (``comment``, ...) become customProperties."""
    out = {k: v for k, v in member.items() if k in _MEMBER_KEYS}
    moved = [_cp(k, v) for k, v in member.items() if k not in _MEMBER_KEYS]
    if moved:
        out["customProperties"] = [*out.get("customProperties", []), *moved]
    return out


def _merge_extra(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Write back what an import kept under x-odcs: never over a field the export sets itself."""
    for key, value in extra.items():
        if key == "customProperties":
            target["customProperties"] = [*target.get("customProperties", []), *value]
        elif key == "name":
            target["customProperties"] = [*target.get("customProperties", []), _cp("sourceName", value)]
        elif key not in target:
            target[key] = value


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
        if col.name in q.get("max_null_pct", {}):
            rules.append(
                {
                    "id": f"{col.name.lower()}_max_null_pct",
                    "metric": "nullValues",
                    "unit": "percent",
                    "mustBeLessOrEqualTo": q["max_null_pct"][col.name],
                }
            )
        if rules:
            prop["quality"] = rules
        _merge_extra(prop, spec.get("x-odcs", {}))
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
    for name, pct in q.get("max_duplicate_pct", {}).items():
        rules.append(
            {
                "id": duplicate_pct_rule_id(name),
                "type": "sql",
                "description": f"at most {pct}% of {name}'s values are duplicates",
                "query": duplicate_pct_query(name),
                "mustBeLessOrEqualTo": pct,
            }
        )
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
    extra = dict(doc.get("x-odcs", {}))
    kept_table = dict(extra.pop("schema", {}))
    table.update({k: kept_table.pop(k) for k in ("logicalType", "physicalType") if k in kept_table})
    _merge_extra(table, kept_table)

    out: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"{p['domain'].lower()}.{p['name'].lower()}.v{c.product.major}",
        "name": p["name"],
        "version": p["version"],
        "status": p.get("status", "active"),
        "domain": p["domain"],
    }
    if "description" in doc or "description" in extra:
        out["description"] = {**extra.pop("description", {})}
        if "description" in doc:
            out["description"]["purpose"] = doc["description"]
    if "x-tags" in doc:
        out["tags"] = list(doc["x-tags"])
    team = dict(extra.pop("team", {}))
    owner = {"username": p["owner"], "role": "owner", **team.pop("owner", {})}
    members = [_v31_member(m) for m in (owner, *team.pop("members", []))]
    out["team"] = {**team, "members": members}
    out["schema"] = [table]
    if "x-sla" in doc:
        s = doc["x-sla"]
        hours = s["max_age_hours"]
        # datacontract-cli tests "freshness" in whole units (d, h, m): fractions of an hour as minutes.
        value, unit = (int(hours), "h") if float(hours).is_integer() else (round(hours * 60, 6), "m")
        sla = {
            "id": "freshness",
            "property": "freshness",
            "value": int(value) if float(value).is_integer() else value,
            "unit": unit,
            "element": f"{doc['title']}.{s['freshness_column']}",
            "description": f"the newest {s['freshness_column']} is at most {s['max_age_hours']} hours old",
        }
        if "schedule" in s:
            sla["scheduler"], sla["schedule"] = "cron", s["schedule"]
        out["slaProperties"] = [sla]
    cps = [_cp("jsonSchemaId", doc["$id"])] if "$id" in doc else []
    cps += [_cp("jsonSchemaComment", doc["$comment"])] if "$comment" in doc else []
    cps += [_cp("productDescription", p["description"])] if "description" in p else []
    cps += [_cp("productTags", list(p["tags"]))] if "tags" in p else []
    cps += [_cp("deprecationDate", p["deprecation_date"])] if "deprecation_date" in p else []
    if cps:
        out["customProperties"] = cps
    if "id" in extra:  # the document's own id, kept from the import
        out["id"] = extra.pop("id")
    if "domain" in extra:
        extra.setdefault("customProperties", []).append(_cp("sourceDomain", extra.pop("domain")))
    _merge_extra(out, extra)
    errors = odcs_errors(out)
    if errors and "x-odcs" in doc:  # kept from an older ODCS line, and no longer valid in v3.1.0
        raise InputError(
            f"{source}: $.x-odcs: the kept ODCS fields do not fit ODCS {API_VERSION}:\n  "
            + "\n  ".join(errors)
        )
    if errors:  # a bug in this mapping, not bad input
        raise RuntimeError(f"{source}: generated ODCS does not validate:\n" + "\n".join(errors))
    return out


def dump_yaml(odcs: dict[str, Any]) -> str:
    return yaml.safe_dump(odcs, sort_keys=False, allow_unicode=True, width=120)
