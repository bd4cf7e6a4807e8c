"""ODCS v3.0.x / v3.1.x -> our contract format: the inverse of :func:`snowmesh.contracts.odcs.to_odcs`.

The input is validated against the official schema of its own line (v3.0.2 for ``apiVersion:
v3.0.x``, v3.1.0 for v3.1.x). Then every field is either mapped, kept verbatim under ``x-odcs``
(the document's, the table's or the column's: ``physicalName``, ``businessName``, ``servers``,
non-owner team members, ...), or listed: ``Imported.lossy`` holds guarantees our format cannot
hold (the CLI refuses them unless ``--allow-lossy``), ``Imported.notes`` what was interpreted
(a type inferred from ``physicalType``, a status word, a normalized name). Nothing disappears
silently. Errors name the file and the ODCS path, one line each.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from snowmesh.contracts.loading import parse
from snowmesh.contracts.odcs import JSON_SCHEMA_DIALECT, odcs_errors
from snowmesh.contracts.odcs_columns import Imported, Importer, ImportOptions
from snowmesh.contracts.odcs_types import STATUSES, normalized_name
from snowmesh.errors import InputError
from snowmesh.readers import parse_yaml

__all__ = ["ImportOptions", "Imported", "from_odcs", "load_yaml"]

_HOURS_PER = {"h": 1, "hr": 1, "hour": 1, "hours": 1, "d": 24, "day": 24, "days": 24}
_HOURS_PER |= {"m": 1 / 60, "min": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60}
# Keys each level maps itself; every other key is kept verbatim under x-odcs.
_DOC_KEYS = {"apiVersion", "kind", "version", "status", "domain", "schema", "slaProperties", "tags"}
_TABLE_KEYS = {"name", "logicalType", "physicalType", "properties", "quality"}
_OURS = {"jsonSchemaId", "jsonSchemaComment", "productDescription", "productTags", "deprecationDate"}


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
    data = parse_yaml(text, source)  # the strict reader: duplicate keys and alias bombs are errors
    if not isinstance(data, dict):
        raise InputError(f"{source}: (top level): an ODCS document must be a mapping")
    return _jsonable(data)


def _fail(source: str, errors: list[str], what: str) -> InputError:
    unique = list(dict.fromkeys(errors))  # each problem once
    more = f"\n{source}: ... and {len(unique) - 10} more" if len(unique) > 10 else ""
    return InputError(f"{what}\n" + "\n".join(f"{source}: {e}" for e in unique[:10]) + more)


def _pick_table(odcs: dict[str, Any], source: str, wanted: str | None) -> tuple[int, dict[str, Any]]:
    tables = odcs.get("schema", [])
    names = [str(t.get("name")) for t in tables]
    if wanted is None:
        if len(tables) == 1:
            return 0, tables[0]
        raise InputError(
            f"{source}: schema: {len(tables)} objects ({', '.join(names) or 'none'}); a contract is one table",
            hint="pick one with --table NAME" if tables else "add the table under schema:",
        )
    for i, t in enumerate(tables):
        if wanted.lower() in (str(t.get("name")).lower(), str(t.get("physicalName", "")).lower()):
            return i, t
    raise InputError(f"{source}: schema: no table {wanted!r} (tables: {', '.join(names)})")


def from_odcs(odcs: dict[str, Any], source: str = "<odcs>", opts: ImportOptions | None = None) -> Imported:
    """An ODCS v3.0.x or v3.1.x document -> our contract document (validated by parse_contract)."""
    opts = opts or ImportOptions()
    api = str(odcs.get("apiVersion", "v3.1.0"))  # missing: the v3.1.0 schema says it is required
    if not api.startswith(("v3.0.", "v3.1.")):
        raise InputError(f"{source}: apiVersion: {api}: only ODCS v3.0.x and v3.1.x are read")
    errors = odcs_errors(odcs, api)
    if errors:
        raise _fail(source, errors, f"{source}: not a valid ODCS {api} document:")
    t_index, table = _pick_table(odcs, source, opts.table)
    imp = Importer(odcs, source, opts)
    res, where_t = imp.res, f"schema[{t_index}]"
    others = [str(t.get("name")) for i, t in enumerate(odcs["schema"]) if i != t_index]
    if others:
        res.notes.append(f"schema: only table {table['name']} imported; not: {', '.join(others)}")
    cps = {c["property"]: c["value"] for c in odcs.get("customProperties", ())}
    table_cps = {c["property"]: c["value"] for c in table.get("customProperties", ())}
    team = odcs.get("team", {})
    members = team.get("members", []) if isinstance(team, dict) else team
    owners = [m for m in members if str(m.get("role", "")).lower() == "owner"]
    owner = opts.owner if opts.owner and not owners else (owners[0]["username"] if owners else None)
    if owner is None:
        imp.errors.append("team: no member with role: owner (or pass --owner)")
    for opt, given, present in (
        ("--domain", opts.domain, odcs.get("domain")),
        ("--owner", opts.owner, owners),
    ):
        if given and present:
            res.notes.append(f"{opt} {given} not used: the document names its own")
    domain_raw = odcs.get("domain") or opts.domain
    if not domain_raw:
        imp.errors.append("domain: missing (it names the owning domain; or pass --domain)")
    domain = imp.name(domain_raw, "domain") if domain_raw else ""
    title = imp.name(table["name"], f"{where_t}.name")

    props: dict[str, Any] = {}
    pk_pos: list[tuple[int, int, str]] = []
    for i, prop in enumerate(table.get("properties", ())):
        where = f"{where_t}.properties[{i}]"
        name = imp.name(prop["name"], f"{where}.name")
        if name in props:
            imp.errors.append(f"{where}.name: {prop['name']!r} is {name}, a column named twice")
            continue
        col = imp.column(prop, where, name)
        if col is None:
            continue
        props[name] = col
        if prop.get("primaryKey"):
            pk_pos.append((prop.get("primaryKeyPosition", -1), i, name))
    if not props:
        imp.errors.append(f"{where_t}.properties: no column could be imported")
    pk = [n for _, _, n in sorted(pk_pos)]
    for i, rule in enumerate(table.get("quality", ())):
        imp.table_rule(rule, f"{where_t}.quality[{i}]", pk, title)
    version = str(odcs["version"])
    if version.count(".") == 1 and version.replace(".", "").isdigit():
        res.notes.append(f"version: {version} read as {version}.0")
        version += ".0"
    status_raw = str(odcs["status"])
    status = STATUSES.get(status_raw.lower())
    if status is None:
        status = "draft"
        res.notes.append(
            f"status: {status_raw!r} is none of draft, active, deprecated, retired: read as draft"
        )
    elif status != status_raw:
        res.notes.append(f"status: {status_raw!r} read as {status}")
    if imp.errors:
        raise _fail(source, imp.errors, f"{source}: cannot import this ODCS document:")

    doc: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT}
    if "jsonSchemaId" in cps:
        doc["$id"] = cps["jsonSchemaId"]
    if "jsonSchemaComment" in cps:
        doc["$comment"] = cps["jsonSchemaComment"]
    doc["title"] = title
    description = dict(odcs.get("description", {}))
    if "purpose" in description:
        doc["description"] = description.pop("purpose")
    doc["type"] = "object"
    if "additionalProperties" in table_cps:
        doc["additionalProperties"] = table_cps.pop("additionalProperties")
    product: dict[str, Any] = {"domain": domain, "name": title, "owner": owner, "version": version}
    product["status"] = status
    for ours, key in (("deprecationDate", "deprecation_date"), ("productDescription", "description")):
        if ours in cps:
            product[key] = cps[ours]
    if "productTags" in cps:
        product["tags"] = cps["productTags"]
    doc["x-product"] = product
    if pk:
        doc["x-primary-key"] = pk
    sla = _sla(odcs.get("slaProperties", ()), table["name"], title, odcs.get("slaDefaultElement"), res)
    if sla:
        doc["x-sla"] = sla
    if imp.q:
        doc["x-quality"] = imp.q
    if odcs.get("tags"):
        doc["x-tags"] = list(dict.fromkeys(map(str, odcs["tags"])))
    doc["required"] = [n for n, col in props.items() if not isinstance(col["type"], list)]
    doc["properties"] = props
    extra = _document_extra(odcs, table, description, cps, table_cps, members, owners, title, domain)
    if extra:
        doc["x-odcs"] = extra
        res.notes.append(f"kept under x-odcs: {', '.join(sorted(extra))}")
    parse(doc, source)  # the result must be a valid contract
    res.doc = doc
    return res


def _document_extra(
    odcs: dict[str, Any],
    table: dict[str, Any],
    description: dict[str, Any],
    cps: dict[str, Any],
    table_cps: dict[str, Any],
    members: list[dict[str, Any]],
    owners: list[dict[str, Any]],
    title: str,
    domain: str,
) -> dict[str, Any]:
    """Everything of the document and its table that has no field of ours, verbatim."""
    extra = {
        k: v for k, v in odcs.items() if k not in _DOC_KEYS | {"description", "customProperties", "team"}
    }
    if extra.get("name") == title:
        extra.pop("name")
    if extra.get("id") == f"{domain.lower()}.{title.lower()}.v{str(odcs['version']).split('.')[0]}":
        extra.pop("id")  # the id our export derives: nothing to keep
    if odcs.get("domain") not in (None, domain):
        extra["domain"] = odcs["domain"]  # the source spelling (normalized, or replaced by --domain)
    if description:
        extra["description"] = description
    rest = [
        {"property": k, "value": v} for k, v in cps.items() if k not in _OURS | {"sourceName", "sourceDomain"}
    ]
    if rest:
        extra["customProperties"] = rest
    if "sourceName" in cps:  # our export's record of a name the import normalized
        extra.setdefault("name", cps["sourceName"])
    if "sourceDomain" in cps:
        extra.setdefault("domain", cps["sourceDomain"])
    team = odcs.get("team")
    others = [m for m in members if m is not (owners[0] if owners else None)]
    if isinstance(team, dict):
        kept = {k: v for k, v in team.items() if k != "members"}
        if others:
            kept["members"] = others
        if kept:
            extra["team"] = kept
    elif others:
        extra["team"] = {"members": others}
    if owners and set(owners[0]) - {"username", "role"}:
        extra.setdefault("team", {})["owner"] = {
            k: v for k, v in owners[0].items() if k not in ("username", "role")
        }
    schema_extra = {k: v for k, v in table.items() if k not in _TABLE_KEYS | {"customProperties"}}
    if table.get("logicalType") not in (None, "object"):
        schema_extra["logicalType"] = table["logicalType"]
    if table.get("physicalType") not in (None, "table"):
        schema_extra["physicalType"] = table["physicalType"]
    t_rest = [{"property": k, "value": v} for k, v in table_cps.items() if k != "sourceName"]
    if t_rest:
        schema_extra["customProperties"] = t_rest
    if table["name"] != title:
        schema_extra["name"] = table["name"]
    elif "sourceName" in table_cps:
        schema_extra["name"] = table_cps["sourceName"]
    if schema_extra:
        extra["schema"] = schema_extra
    return extra


def _sla(items: Any, table: str, title: str, default: Any, res: Imported) -> dict[str, Any] | None:
    out = None
    for i, s in enumerate(items):
        prop = str(s["property"]).lower()
        unit = str(s.get("unit", "h")).lower()
        element = s.get("element") or default
        if prop in ("latency", "ly", "freshness") and unit in _HOURS_PER and out is None and element:
            column = str(element).split(",")[0].strip()
            if "." in column:
                obj, column = column.rsplit(".", 1)
                if obj not in (table, title):
                    res.lossy.append(f"slaProperties[{i}]: element {element} is not on {table}")
                    continue
            hours = s["value"] * _HOURS_PER[unit]
            out = {
                "freshness_column": normalized_name(column) if column.upper() != column else column,
                "max_age_hours": int(hours) if float(hours).is_integer() else hours,
            }
            if "schedule" in s and s.get("scheduler", "cron") == "cron":
                out["schedule"] = s["schedule"]
        else:
            res.lossy.append(f"slaProperties[{i}]: SLA property {s['property']} is not supported")
    return out
