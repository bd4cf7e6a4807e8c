"""ODCS v3 -> our contract format: the inverse of :func:`snowmesh.contracts.odcs.to_odcs`.

The input is validated against the official ODCS v3.1.0 JSON Schema first. What our format
cannot hold without weakening a promise is listed in ``Imported.lossy`` (the CLI refuses it
unless ``--allow-lossy``); purely informational fields are listed in ``Imported.ignored``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from governance.contract import normalize_type, snowflake_type
from snowmesh.contracts.loading import parse
from snowmesh.contracts.odcs import BOUNDS, JSON_SCHEMA_DIALECT, LOGICAL_TYPES, OPERATORS, odcs_errors
from snowmesh.errors import InputError

_OP_OF = {v: k for k, v in OPERATORS.items()}
_JSON_OF = {v: k for k, v in LOGICAL_TYPES.items()}
_HOURS_PER = {
    "h": 1,
    "hr": 1,
    "hour": 1,
    "hours": 1,
    "d": 24,
    "day": 24,
    "days": 24,
    "min": 1 / 60,
    "minute": 1 / 60,
    "minutes": 1 / 60,
}
_INFORMATIONAL = (
    "servers",
    "support",
    "price",
    "roles",
    "authoritativeDefinitions",
    "tenant",
    "contractCreatedTs",
    "dataProduct",
    "slaDefaultElement",
)


@dataclass
class Imported:
    doc: dict[str, Any]
    lossy: list[str] = field(default_factory=list)  # guarantees that could not be represented
    ignored: list[str] = field(default_factory=list)  # informational fields with no place in our format


def _jsonable(v: Any) -> Any:
    """YAML turns unquoted dates into date objects; ODCS wants strings."""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def load_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: an ODCS document must be a mapping")
    return _jsonable(data)


def _operator(rule: dict[str, Any]) -> tuple[str, Any] | None:
    ops = [(k, rule[k]) for k in _OP_OF if k in rule]
    return (_OP_OF[ops[0][0]], ops[0][1]) if len(ops) == 1 else None


def _column(prop: dict[str, Any], where: str, res: Imported, q: dict[str, Any]) -> dict[str, Any]:
    name = prop["name"]
    lt = prop.get("logicalType")
    if lt not in _JSON_OF:
        raise InputError(f"{where}: logicalType {lt!r} is not supported (use one of: {', '.join(_JSON_OF)})")
    json_type, fmt = _JSON_OF[lt]
    required = bool(prop.get("required", False))
    col: dict[str, Any] = {"type": json_type if required else [json_type, "null"]}
    if fmt:
        col["format"] = fmt
    if "description" in prop:
        col["description"] = prop["description"]
    physical = prop.get("physicalType")
    if json_type == "number" and physical:
        col["x-snowflake-type"] = normalize_type(physical)
    elif physical and normalize_type(physical) != snowflake_type(col):
        res.lossy.append(
            f"{where}: physicalType {physical} is not {snowflake_type(col)}, the type a {lt} column gets"
        )
    options = dict(prop.get("logicalTypeOptions", {}))
    tz = (
        (options.pop("timezone", False), options.pop("defaultTimezone", "Etc/UTC"))
        if lt == "timestamp"
        else None
    )
    if tz and (tz[0] or tz[1] not in ("UTC", "Etc/UTC")):
        res.lossy.append(f"{where}: only UTC timestamps without a time zone (TIMESTAMP_NTZ) are supported")
    for key in (*BOUNDS, "pattern", "maxLength"):
        if key in options:
            col[key] = options.pop(key)
    res.lossy += [f"{where}.logicalTypeOptions.{k}: not supported" for k in options]
    for i, rule in enumerate(prop.get("quality", ())):
        _column_rule(rule, f"{where}.quality[{i}]", name, col, q, res)
    if prop.get("unique"):
        col["x-unique"] = True
    if "classification" in prop:
        col["x-classification"] = prop["classification"]
    if "tags" in prop:
        col["x-tags"] = list(prop["tags"])
    for key in ("partitioned", "encryptedName", "transformLogic", "criticalDataElement", "examples"):
        if key in prop:
            res.ignored.append(f"{where}.{key}")
    return col


def _column_rule(
    rule: dict[str, Any], where: str, name: str, col: dict[str, Any], q: dict[str, Any], res: Imported
) -> None:
    metric, op, unit = rule.get("metric"), _operator(rule), rule.get("unit", "rows")
    args = rule.get("arguments", {})
    if metric == "invalidValues" and op == ("==", 0) and set(args) == {"validValues"}:
        col["enum"] = list(args["validValues"])
    elif metric == "invalidValues" and op == ("==", 0) and set(args) == {"pattern"} and "pattern" not in col:
        col["pattern"] = args["pattern"]
    elif metric in ("nullValues", "duplicateValues") and unit == "percent" and op and op[0] == "<=":
        q.setdefault("max_null_pct" if metric == "nullValues" else "max_duplicate_pct", {})[name] = op[1]
    elif metric == "nullValues" and unit == "rows" and op == ("==", 0):
        col["type"] = col["type"][0] if isinstance(col["type"], list) else col["type"]  # NOT NULL
    elif metric == "duplicateValues" and unit == "rows" and op == ("==", 0):
        col["x-unique"] = True
    else:
        res.lossy.append(
            f"{where}: quality rule {rule.get('id') or metric or rule.get('type')} is not supported"
        )


def _table_rule(rule: dict[str, Any], where: str, q: dict[str, Any], pk: list[str], res: Imported) -> None:
    op = _operator(rule)
    if rule.get("metric") == "rowCount" and op and op[0] in (">=", ">", "<=", "<"):
        key = "min" if op[0].startswith(">") else "max"
        shift = {">": 1, "<": -1}.get(op[0], 0)  # row counts are integers: > n is >= n+1
        q.setdefault("row_count", {})[key] = int(op[1]) + shift
    elif (
        rule.get("metric") == "duplicateValues"
        and op == ("==", 0)
        and sorted(rule.get("arguments", {}).get("properties", [])) == sorted(pk)
        and pk
    ):
        return  # the primary key already promises this
    elif rule.get("type") == "sql" and op:
        cc: dict[str, Any] = {
            "name": rule.get("name") or rule.get("id", ""),
            "sql": rule["query"].replace("{object}", "{table}"),
            "expect": op[1],
        }
        if op[0] != "==":
            cc["op"] = op[0]
        if "description" in rule:
            cc["description"] = rule["description"]
        cc["severity"] = (
            "warn" if str(rule.get("severity", "error")).lower() in ("warn", "warning", "info") else "error"
        )
        q.setdefault("custom", []).append(cc)
    else:
        res.lossy.append(
            f"{where}: quality rule {rule.get('id') or rule.get('metric') or rule.get('type')} "
            "is not supported"
        )


def from_odcs(odcs: dict[str, Any], source: str = "<odcs>") -> Imported:
    """An ODCS v3 document -> our contract document (validated by parse_contract)."""
    errors = odcs_errors(odcs)
    if errors:
        raise InputError(f"{source}: not a valid ODCS v3.1.0 document\n  " + "\n  ".join(errors[:10]))
    if not str(odcs["apiVersion"]).startswith("v3."):
        raise InputError(f"{source}: apiVersion {odcs['apiVersion']} is not ODCS v3")
    tables = odcs.get("schema", [])
    if len(tables) != 1:
        raise InputError(
            f"{source}: schema has {len(tables)} objects; a contract describes exactly one product table"
        )
    res = Imported({})
    cps = {c["property"]: c["value"] for c in odcs.get("customProperties", ())}
    table = tables[0]
    table_cps = {c["property"]: c["value"] for c in table.get("customProperties", ())}
    team = odcs.get("team", {})
    members = team.get("members", []) if isinstance(team, dict) else team
    owners = [m for m in members if str(m.get("role", "")).lower() == "owner"] or members
    if not owners:
        raise InputError(f"{source}: no owner: add team.members with a username and role: owner")
    if "domain" not in odcs:
        raise InputError(f"{source}: domain is required (it names the owning domain, e.g. MARKETING)")

    q: dict[str, Any] = {}
    props: dict[str, Any] = {}
    pk_pos: list[tuple[int, int, str]] = []
    for i, prop in enumerate(table.get("properties", ())):
        props[prop["name"]] = _column(prop, f"schema[0].properties[{i}]", res, q)
        if prop.get("primaryKey"):
            pk_pos.append((prop.get("primaryKeyPosition", -1), i, prop["name"]))
    required = [n for n, col in props.items() if not isinstance(col["type"], list)]  # NOT NULL columns
    pk = [n for _, _, n in sorted(pk_pos)]
    for i, rule in enumerate(table.get("quality", ())):
        _table_rule(rule, f"schema[0].quality[{i}]", q, pk, res)

    doc: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT}
    if "jsonSchemaId" in cps:
        doc["$id"] = cps.pop("jsonSchemaId")
    if "jsonSchemaComment" in cps:
        doc["$comment"] = cps.pop("jsonSchemaComment")
    doc["title"] = table["name"]
    if "purpose" in odcs.get("description", {}):
        doc["description"] = odcs["description"]["purpose"]
    doc["type"] = "object"
    if "additionalProperties" in table_cps:
        doc["additionalProperties"] = table_cps.pop("additionalProperties")
    product = {
        "domain": odcs["domain"],
        "name": odcs.get("name", table["name"]),
        "owner": owners[0]["username"],
        "version": odcs["version"],
        "status": odcs["status"],
    }
    if "productDescription" in cps:
        product["description"] = cps.pop("productDescription")
    if "productTags" in cps:
        product["tags"] = cps.pop("productTags")
    doc["x-product"] = product
    if pk:
        doc["x-primary-key"] = pk
    sla = _sla(odcs.get("slaProperties", ()), table["name"], res)
    if sla:
        doc["x-sla"] = sla
    if q:
        doc["x-quality"] = q
    if "tags" in odcs:
        doc["x-tags"] = list(odcs["tags"])
    doc["required"] = required
    doc["properties"] = props
    res.ignored += [k for k in _INFORMATIONAL if k in odcs]
    res.ignored += [f"description.{k}" for k in odcs.get("description", {}) if k != "purpose"]
    res.ignored += [f"customProperties.{k}" for k in cps] + [
        f"schema[0].customProperties.{k}" for k in table_cps
    ]
    parse(doc, source)  # the result must be a valid contract
    res.doc = doc
    return res


def _sla(items: Any, table: str, res: Imported) -> dict[str, Any] | None:
    out = None
    for i, s in enumerate(items):
        prop = str(s["property"]).lower()
        unit = str(s.get("unit", "h")).lower()
        if prop in ("latency", "ly", "freshness") and unit in _HOURS_PER and out is None and s.get("element"):
            column = str(s["element"]).split(",")[0].strip()
            if "." in column:
                obj, column = column.rsplit(".", 1)
                if obj != table:
                    res.lossy.append(f"slaProperties[{i}]: element {s['element']} is not on {table}")
                    continue
            hours = s["value"] * _HOURS_PER[unit]
            out = {
                "freshness_column": column,
                "max_age_hours": int(hours) if float(hours).is_integer() else hours,
            }
            if "schedule" in s and s.get("scheduler", "cron") == "cron":
                out["schedule"] = s["schedule"]
        else:
            res.lossy.append(f"slaProperties[{i}]: SLA property {s['property']} is not supported")
    return out
