"""The column and quality-rule half of the ODCS import (snowmesh.contracts.odcs_import).

One ``Importer`` per document: it maps each ODCS property to a column of ours (type from
``logicalType``, or inferred from ``physicalType``; options; library and SQL quality rules) and
collects what it interpreted (``notes``), what it cannot hold (``lossy``) and what is wrong
(``errors``, each with its ODCS path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from governance.contract import snowflake_type
from snowmesh.contracts.odcs import BOUNDS, LOGICAL_TYPES, OPERATORS, duplicate_pct_query
from snowmesh.contracts.odcs_types import CLASSIFICATIONS, name_problem, normalized_name, physical, rule_name

_OP_OF = {v: k for k, v in OPERATORS.items()}
_JSON_OF = {v: k for k, v in LOGICAL_TYPES.items()}
_COLUMN_KEYS = {"name", "logicalType", "physicalType", "required", "unique", "primaryKey"}
_COLUMN_KEYS |= {
    "primaryKeyPosition",
    "description",
    "classification",
    "tags",
    "quality",
    "logicalTypeOptions",
}


@dataclass(frozen=True)
class ImportOptions:
    domain: str | None = None  # for a document without one
    owner: str | None = None  # for a document without an owner in its team
    table: str | None = None  # which table of a multi-table schema
    normalize_names: bool = False  # upper-case names; the source name stays in x-odcs.name


@dataclass
class Imported:
    doc: dict[str, Any]
    lossy: list[str] = field(default_factory=list)  # guarantees that could not be represented
    notes: list[str] = field(default_factory=list)  # what was interpreted or kept under x-odcs


class Importer:
    def __init__(self, odcs: dict[str, Any], source: str, opts: ImportOptions) -> None:
        self.odcs, self.source, self.opts = odcs, source, opts
        self.res = Imported({})
        self.errors: list[str] = []
        self.q: dict[str, Any] = {}
        self.rule_names: set[str] = set()
        self.api = str(odcs.get("apiVersion", ""))

    def name(self, raw: Any, where: str) -> str:
        """An identifier from the document: as is, or upper-cased with --normalize-names."""
        name = normalized_name(raw) if self.opts.normalize_names else str(raw)
        problem = name_problem(name)
        if problem:
            hint = "" if self.opts.normalize_names else " (--normalize-names upper-cases names)"
            self.errors.append(f"{where}: {raw!r}: {problem}{hint}")
        return name

    # ------------------------------------------------------------------ columns

    def column(self, prop: dict[str, Any], where: str, name: str) -> dict[str, Any] | None:
        lt, phys = prop.get("logicalType"), prop.get("physicalType")
        inferred, sf_type = physical(phys) if phys else (None, "")
        if lt is None:
            if inferred is None:
                self.errors.append(
                    f"{where}: no logicalType, and physicalType {phys!r} does not tell the type"
                    if phys
                    else f"{where}: neither logicalType nor physicalType: the column's type is unknown"
                )
                return None
            lt = inferred
            self.res.notes.append(f"{where}: logicalType {lt} inferred from physicalType {phys}")
        if lt == "date" and sf_type in ("TIMESTAMP_NTZ", "TIMESTAMP_TZ") and self.api.startswith("v3.0."):
            lt = "timestamp"  # ODCS v3.0 has no timestamp logicalType: date + a timestamp physicalType
            self.res.notes.append(f"{where}: logicalType date with physicalType {phys} read as a timestamp")
        if lt == "timestamp" and sf_type == "TIMESTAMP_TZ":
            self.res.lossy.append(f"{where}: physicalType {phys}: only TIMESTAMP_NTZ (UTC) is supported")
        if lt not in _JSON_OF:
            self.res.lossy.append(
                f"{where}: column {prop['name']} (logicalType {lt}) not imported: "
                f"columns are {', '.join(_JSON_OF)}"
            )
            return None
        json_type, fmt = _JSON_OF[lt]
        required = bool(prop.get("required", False))
        if prop.get("primaryKey") and not required:
            required = True
            self.res.notes.append(f"{where}: primary key column {name} made required (NOT NULL)")
        col: dict[str, Any] = {"type": json_type if required else [json_type, "null"]}
        if fmt:
            col["format"] = fmt
        if "description" in prop:
            col["description"] = prop["description"]
        if json_type == "number" and phys:
            if sf_type.startswith("NUMBER(") or sf_type == "FLOAT":
                col["x-snowflake-type"] = sf_type
            else:
                self.res.lossy.append(f"{where}: physicalType {phys} is not a number type; kept as FLOAT")
        elif phys and inferred is not None and sf_type != snowflake_type(col) and sf_type != "TIMESTAMP_TZ":
            self.res.lossy.append(
                f"{where}: physicalType {phys} is not {snowflake_type(col)}, the type a {lt} column gets"
            )
        elif phys and inferred is None:
            self.res.notes.append(
                f"{where}: physicalType {phys} unknown; the column is {snowflake_type(col)}"
            )
        options = dict(prop.get("logicalTypeOptions", {}))
        if lt == "timestamp":
            tz = (options.pop("timezone", False), options.pop("defaultTimezone", "Etc/UTC"))
            if tz[0] or tz[1] not in ("UTC", "Etc/UTC"):
                self.res.lossy.append(f"{where}: only UTC timestamps without a time zone are supported")
        for key in (*BOUNDS, "pattern", "maxLength"):
            if key in options:
                col[key] = options.pop(key)
        self.res.lossy += [f"{where}.logicalTypeOptions.{k}: not supported" for k in options]
        for i, rule in enumerate(prop.get("quality", ())):
            self.column_rule(rule, f"{where}.quality[{i}]", name, json_type, col)
        if prop.get("unique"):
            col["x-unique"] = True
        if "classification" in prop:
            level = str(prop["classification"]).lower()
            if level in CLASSIFICATIONS:
                col["x-classification"] = level
            else:
                self.res.lossy.append(
                    f"{where}.classification: {prop['classification']!r} is not one of "
                    f"{', '.join(CLASSIFICATIONS)} (kept in x-odcs)"
                )
        if prop.get("tags"):
            col["x-tags"] = list(dict.fromkeys(map(str, prop["tags"])))
        extra = {k: v for k, v in prop.items() if k not in _COLUMN_KEYS}
        if "classification" in prop and "x-classification" not in col:
            extra["classification"] = prop["classification"]
        extra.pop("customProperties", None)
        cps = [c for c in prop.get("customProperties", ()) if c.get("property") != "sourceName"]
        if cps:
            extra["customProperties"] = cps
        if name != prop["name"]:
            extra["name"] = prop["name"]
        elif any(c.get("property") == "sourceName" for c in prop.get("customProperties", ())):
            extra["name"] = next(
                c["value"] for c in prop["customProperties"] if c["property"] == "sourceName"
            )
        if extra:
            col["x-odcs"] = extra
        return col

    def column_rule(self, rule: dict[str, Any], where: str, name: str, jt: str, col: dict[str, Any]) -> None:
        metric = rule.get("metric", rule.get("rule"))  # v3.0.0 wrote "rule"
        op, unit, args = _operator(rule), rule.get("unit", "rows"), rule.get("arguments", {})
        if metric == "invalidValues" and op == ("==", 0) and set(args) == {"validValues"}:
            values = list(args["validValues"])
            bad = [v for v in values if isinstance(v, bool) or isinstance(v, str) != (jt == "string")]
            if bad:
                self.errors.append(
                    f"{where}.arguments.validValues: {bad!r} do not match the column type {jt}"
                )
            col["enum"] = values
        elif (
            metric == "invalidValues"
            and op == ("==", 0)
            and set(args) == {"pattern"}
            and "pattern" not in col
        ):
            col["pattern"] = args["pattern"]
        elif metric in ("nullValues", "duplicateValues") and unit == "percent" and op and op[0] == "<=":
            self.q.setdefault("max_null_pct" if metric == "nullValues" else "max_duplicate_pct", {})[name] = (
                op[1]
            )
        elif metric == "nullValues" and unit == "rows" and op == ("==", 0):
            col["type"] = col["type"][0] if isinstance(col["type"], list) else col["type"]  # NOT NULL
        elif metric == "duplicateValues" and unit == "rows" and op == ("==", 0):
            col["x-unique"] = True
        elif rule.get("type") == "sql" and op and rule.get("query"):
            query = rule["query"].replace("{property}", name).replace("{column}", name)
            self.custom(rule, op, query, f"{name.lower()}_sql")
        else:
            self.res.lossy.append(
                f"{where}: quality rule {rule.get('id') or metric or rule.get('type')} is not supported"
            )

    # ------------------------------------------------------------------ table rules

    def custom(self, rule: dict[str, Any], op: tuple[str, Any], query: str, fallback: str) -> None:
        raw = rule.get("name") or rule.get("id")
        cc: dict[str, Any] = {
            "name": rule_name(raw, fallback, self.rule_names),
            "sql": query.replace("{object}", "{table}"),
            "expect": op[1],
        }
        if op[0] != "==":
            cc["op"] = op[0]
        if "description" in rule:
            cc["description"] = rule["description"]
        severity = str(rule.get("severity", "error")).lower()
        cc["severity"] = "warn" if severity in ("warn", "warning", "info") else "error"
        if raw and cc["name"] != raw:
            self.res.notes.append(f"quality rule {raw!r} named {cc['name']}")
        self.q.setdefault("custom", []).append(cc)

    def table_rule(self, rule: dict[str, Any], where: str, pk: list[str], table_name: str) -> None:
        op, metric = _operator(rule), rule.get("metric", rule.get("rule"))
        if metric == "rowCount" and op and op[0] in (">=", ">", "<=", "<"):
            key = "min" if op[0].startswith(">") else "max"
            shift = {">": 1, "<": -1}.get(op[0], 0)  # row counts are integers: > n is >= n+1
            self.q.setdefault("row_count", {})[key] = int(op[1]) + shift
        elif (
            metric == "duplicateValues"
            and op == ("==", 0)
            and pk
            and sorted(rule.get("arguments", {}).get("properties", [])) == sorted(pk)
        ):
            return  # the primary key already promises this
        elif self.duplicate_pct(rule, op):
            return
        elif rule.get("type") == "sql" and op and rule.get("query"):
            index = where.rsplit("[", 1)[-1].rstrip("]")
            self.custom(rule, op, rule["query"], f"{table_name.lower()}_rule_{int(index) + 1}")
        else:
            self.res.lossy.append(
                f"{where}: quality rule {rule.get('id') or metric or rule.get('type')} is not supported"
            )

    def duplicate_pct(self, rule: dict[str, Any], op: tuple[str, Any] | None) -> bool:
        """Our export's max_duplicate_pct rule (a portable SQL rule), read back as max_duplicate_pct."""
        rid = str(rule.get("id", ""))
        if rule.get("type") != "sql" or not op or op[0] != "<=" or not rid.endswith("_max_duplicate_pct"):
            return False
        column = rid.removesuffix("_max_duplicate_pct").upper()
        if rule.get("query") != duplicate_pct_query(column):
            return False
        self.q.setdefault("max_duplicate_pct", {})[column] = op[1]
        return True


def _operator(rule: dict[str, Any]) -> tuple[str, Any] | None:
    ops = [(k, rule[k]) for k in _OP_OF if k in rule]
    return (_OP_OF[ops[0][0]], ops[0][1]) if len(ops) == 1 else None


def _operator(rule: dict[str, Any]) -> tuple[str, Any] | None:
    ops = [(k, rule[k]) for k in _OP_OF if k in rule]
    return (_OP_OF[ops[0][0]], ops[0][1]) if len(ops) == 1 else None
