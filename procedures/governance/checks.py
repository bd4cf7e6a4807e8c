"""Data checks as data, then as ONE aggregate SELECT (pure: no session, no I/O).

``build_checks(contract)`` turns a contract into :class:`CheckSpec` values; ``compile_query``
renders all of them as the select list of a single query over the table, so validation is one
scan and one result row; ``evaluate`` turns that row back into :class:`CheckResult` values.

Every construct is valid Snowflake SQL and also runs on the local account (fakesnow/DuckDB):
COUNT_IF, DIV0, REGEXP_LIKE, multi-argument COUNT(DISTINCT a, b), DATEDIFF, SYSDATE.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from governance.contract import Column, Contract
from governance.sql import IdentifierError, check_ident, fqn, ident, literal

TABLE_PLACEHOLDER = "{table}"
_PARSE_PLACEHOLDER = "__SNOWMESH_TABLE__"

# Statement/clause types that write, change objects or sessions. A custom check is a question
# about the data; the contract's author is not always the one whose role runs it.
_FORBIDDEN = tuple(
    getattr(exp, n)
    for n in (
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "Command",
        "TruncateTable",
        "Copy",
        "Grant",
        "Revoke",
        "Use",
        "Set",
        "Transaction",
        "Commit",
        "Rollback",
        "Into",
        "LoadData",
        "Cache",
        "Uncache",
        "Refresh",
        "Pragma",
        "Kill",
        "Analyze",
        "Put",
        "Get",
    )
    if hasattr(exp, n)
)

_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class CustomSqlError(ValueError):
    """Custom check SQL that is not a single read-only SELECT returning one column."""


@dataclass(frozen=True)
class CheckSpec:
    name: str  # check name as reported: 'not_null', 'minimum', ... or the custom check's name
    column: str | None  # reported column ('A,B' for a composite key)
    kind: str
    expected: float
    op: str = "=="
    severity: str = "error"
    columns: tuple[str, ...] = ()  # every column the check reads (to skip checks on missing columns)
    sql: str | None = None  # custom checks only: the SQL as written, with {table}
    rule: str = ""  # the promise in words, shown after the threshold: '== 0 (values < 0)'

    @property
    def expected_text(self) -> str:
        return f"{self.op} {fmt(self.expected)}" + (f" ({self.rule})" if self.rule else "")


@dataclass
class CheckResult:
    check: str
    column: str | None
    observed: str
    expected: str
    passed: bool
    severity: str  # 'error' | 'warn'


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    specs: tuple[CheckSpec, ...]  # select-list order: value i of the result row belongs to specs[i]


# --------------------------------------------------------------------------- custom SQL guard


def guard_custom_sql(sql: str) -> str:
    """Return ``sql`` without trailing semicolons if it is one read-only, one-column SELECT."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise CustomSqlError("custom SQL is empty")
    try:
        statements = [
            s
            for s in sqlglot.parse(text.replace(TABLE_PLACEHOLDER, _PARSE_PLACEHOLDER), read="snowflake")
            if s
        ]
    except SqlglotError as e:
        raise CustomSqlError(f"custom SQL is not valid Snowflake SQL: {str(e).splitlines()[0]}") from e
    if len(statements) != 1:
        raise CustomSqlError(f"custom SQL must be exactly one statement, found {len(statements)}")
    stmt = statements[0]
    if not isinstance(stmt, exp.Query):
        raise CustomSqlError(f"custom SQL must be a read-only SELECT, found {stmt.key.upper()}")
    for node in stmt.walk():
        if isinstance(node, _FORBIDDEN):
            raise CustomSqlError(f"custom SQL must be read-only; it contains {node.key.upper()}")
        if isinstance(node, exp.Anonymous) and str(node.name).upper().startswith("SYSTEM$"):
            raise CustomSqlError(f"custom SQL may not call system function {node.name}")
    if len(stmt.selects) != 1 or isinstance(stmt.selects[0], exp.Star):
        raise CustomSqlError("custom SQL must select exactly one value (e.g. SELECT COUNT(*) ...)")
    return text


def render_custom_sql(sql: str, table: Sequence[str]) -> str:
    """Guard, then replace ``{table}`` by the quoted table name (the name is validated by fqn)."""
    return guard_custom_sql(guard_custom_sql(sql).replace(TABLE_PLACEHOLDER, fqn(*table)))


# --------------------------------------------------------------------------- contract -> specs


def _col(c: Column, kind: str, rule: str, expected: float = 0, op: str = "==") -> CheckSpec:
    return CheckSpec(kind, c.name, kind, expected, op, columns=(c.name,), rule=rule)


def _short(values: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (", ..." if len(values) > limit else "")


def build_checks(contract: Contract) -> list[CheckSpec]:
    """Every data check the contract promises, in a stable order."""
    q = contract.quality
    specs: list[CheckSpec] = [
        CheckSpec("row_count", None, "row_count", q.row_count_min or 0, ">=", rule="rows")
    ]
    if q.row_count_max is not None:
        specs.append(CheckSpec("row_count_max", None, "row_count", q.row_count_max, "<=", rule="rows"))
    for c in contract.columns:
        if not c.nullable:
            specs.append(_col(c, "not_null", "nulls"))
        if c.name in q.max_null_pct:
            specs.append(_col(c, "null_pct", "% nulls", q.max_null_pct[c.name], "<="))
        if c.unique:
            specs.append(_col(c, "unique", "duplicate values"))
        if c.name in q.max_duplicate_pct:
            specs.append(_col(c, "duplicate_pct", "% duplicate values", q.max_duplicate_pct[c.name], "<="))
        if c.enum is not None:
            specs.append(_col(c, "enum", f"values not in [{_short(c.enum)}]"))
        for kind, sign in (
            ("minimum", "<"),
            ("maximum", ">"),
            ("exclusive_minimum", "<="),
            ("exclusive_maximum", ">="),
        ):
            if getattr(c, kind) is not None:
                specs.append(_col(c, kind, f"values {sign} {fmt(getattr(c, kind))}"))
        if c.pattern is not None:
            specs.append(_col(c, "pattern", f"values not matching {c.pattern}"))
        if c.max_length is not None:
            specs.append(_col(c, "max_length", f"values longer than {c.max_length}"))
    if contract.primary_key:
        pk = contract.primary_key
        specs.append(
            CheckSpec("primary_key", ",".join(pk), "primary_key", 0, columns=pk, rule="duplicate keys")
        )
    if contract.sla:
        s = contract.sla
        specs.append(
            CheckSpec(
                "freshness",
                s.freshness_column,
                "freshness",
                s.max_age_hours,
                "<=",
                columns=(s.freshness_column,),
                rule="hours since the newest row",
            )
        )
    for cc in q.custom:
        specs.append(CheckSpec(cc.name, None, "custom", cc.expect, cc.op, cc.severity,
                               columns=custom_columns(cc.sql), sql=cc.sql))
    return specs


def custom_columns(sql: str) -> tuple[str, ...]:
    """The product table's columns a custom check reads, so that one on a missing column is "not run".

    Columns qualified by ``{table}`` or its alias, and unqualified ones when ``{table}`` is the
    only table the check reads; names it defines itself (select aliases, CTEs) are not columns.
    Anything it reads elsewhere is left to the query (validate_table probes a check that fails).
    """
    tree = sqlglot.parse_one(guard_custom_sql(sql).replace(TABLE_PLACEHOLDER, _PARSE_PLACEHOLDER), read="snowflake")
    ctes = {c.alias_or_name.upper() for c in tree.find_all(exp.CTE)}
    tables = [t for t in tree.find_all(exp.Table) if t.name.upper() not in ctes]
    ours = {t.alias_or_name.upper() for t in tables if t.name == _PARSE_PLACEHOLDER} | {_PARSE_PLACEHOLDER}
    only_ours = all(t.name == _PARSE_PLACEHOLDER for t in tables)
    aliases = {a.alias.upper() for a in tree.find_all(exp.Alias)}
    out: list[str] = []
    for col in tree.find_all(exp.Column):
        if not isinstance(col.this, exp.Identifier):
            continue  # a * or a positional reference
        name = col.name if col.this.quoted else col.name.upper()
        qualifier = col.table.upper()
        if (qualifier in ours or (not qualifier and only_ours)) and name.upper() not in aliases and name not in out:
            out.append(name)
    return tuple(out)


# --------------------------------------------------------------------------- specs -> SQL


def _value(v: Any) -> str:
    """A contract constant (enum value, bound) as SQL: numbers stay numbers, text is a literal."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise TypeError(f"unsupported constant {v!r}")
    if isinstance(v, str):
        return literal(v)
    if not math.isfinite(v):
        raise ValueError(f"not a finite number: {v!r}")
    return repr(v)


def like_regex(pattern: str) -> tuple[str, str]:
    """JSON Schema ``pattern`` (a search) as REGEXP_LIKE arguments (REGEXP_LIKE matches the whole value).

    ``^...$`` without alternation is already whole-value: drop the anchors. Anything else is
    wrapped in ``.*( )..*`` with the 's' flag so that it may match anywhere, even across lines.
    """
    body = pattern[1:-1] if pattern.startswith("^") and pattern.endswith("$") else None
    if body is not None and "|" not in body and not body.endswith("\\"):
        return body, ""
    return f".*({pattern}).*", "s"


def _expr(spec: CheckSpec, contract: Contract, table: Sequence[str]) -> str:
    k = spec.kind
    if k == "row_count":
        return "COUNT(*)"
    if k == "custom":
        # Newlines: a trailing '-- comment' in the contract's SQL must not swallow the ')'.
        return f"(\n{render_custom_sql(spec.sql or '', table)}\n)"
    if k == "primary_key" and len(spec.columns) > 1:
        cols = [ident(c) for c in spec.columns]
        all_set = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        # Multi-argument COUNT(DISTINCT) ignores rows with a NULL part, so count only complete keys.
        return f"COUNT_IF({all_set}) - COUNT(DISTINCT {', '.join(cols)})"
    c = ident(spec.columns[0])
    col = contract.column(spec.columns[0])
    if k == "not_null":
        return f"COUNT(*) - COUNT({c})"
    if k == "null_pct":
        return f"ROUND(100 * DIV0(COUNT(*) - COUNT({c}), COUNT(*)), 4)"
    if k in ("unique", "primary_key"):
        return f"COUNT({c}) - COUNT(DISTINCT {c})"
    if k == "duplicate_pct":
        return f"ROUND(100 * DIV0(COUNT({c}) - COUNT(DISTINCT {c}), COUNT(*)), 4)"
    if k == "freshness":
        # SYSDATE() is "now" in UTC as TIMESTAMP_NTZ: NTZ columns in this mesh hold UTC.
        return f"ROUND(DATEDIFF(SECOND, MAX({c}), SYSDATE()) / 3600, 2)"
    assert col is not None, spec
    if k == "enum":
        # NULL NOT IN (...) is NULL, so nulls are not counted here (not_null covers them).
        return f"COUNT_IF({c} NOT IN ({', '.join(_value(v) for v in col.enum or ())}))"
    bounds = {"minimum": "<", "maximum": ">", "exclusive_minimum": "<=", "exclusive_maximum": ">="}
    if k in bounds:
        return f"COUNT_IF({c} {bounds[k]} {_value(getattr(col, k))})"
    if k == "pattern":
        regex, flags = like_regex(col.pattern or "")
        args = f"{c}, {literal(regex)}" + (f", {literal(flags)}" if flags else "")
        return f"COUNT_IF(NOT REGEXP_LIKE({args}))"
    if k == "max_length":
        return f"COUNT_IF(LENGTH({c}) > {int(col.max_length or 0)})"
    raise ValueError(f"unknown check kind {k!r}")


def _alias(spec: CheckSpec, i: int, used: set[str]) -> str:
    raw = f"{spec.column}__{spec.name}" if spec.column and spec.kind != "primary_key" else spec.name
    name = re.sub(r"[^A-Z0-9_]", "_", raw.upper())
    try:
        check_ident(name)
    except IdentifierError:
        name = f"C{i}"
    if name in used:
        name = f"{name}_{i}"
    used.add(name)
    return ident(name)


def compile_query(
    contract: Contract, table: Sequence[str], specs: Sequence[CheckSpec] | None = None
) -> CompiledQuery:
    """ONE aggregate SELECT computing every check's observed value over ``table`` (DB, SCHEMA, NAME)."""
    specs = tuple(build_checks(contract) if specs is None else specs)
    used: set[str] = set()
    items = [f"  {_expr(s, contract, table)} AS {_alias(s, i, used)}" for i, s in enumerate(specs)]
    return CompiledQuery(sql="SELECT\n" + ",\n".join(items) + f"\nFROM {fqn(*table)}", specs=specs)


# --------------------------------------------------------------------------- row -> results


def fmt(v: Any) -> str:
    """Stable text for audit rows: 3, 33.3333, 26 (not 3.0000 or Decimal('26'))."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return str(v).upper()
    if isinstance(v, (int, float, Decimal)):
        return format(Decimal(str(v)).normalize(), "f")
    return str(v)


def evaluate(spec: CheckSpec, observed: Any) -> CheckResult:
    """Compare one observed value with the spec; NULL (freshness of an empty table) or text fails."""
    try:
        passed = observed is not None and _OPS[spec.op](Decimal(str(observed)), Decimal(str(spec.expected)))
    except ArithmeticError:  # decimal.InvalidOperation: a custom check that returned text
        passed = False
    return CheckResult(spec.name, spec.column, fmt(observed), spec.expected_text, passed, spec.severity)


def evaluate_row(compiled: CompiledQuery, row: Sequence[Any]) -> list[CheckResult]:
    if len(row) != len(compiled.specs):
        raise ValueError(f"expected {len(compiled.specs)} values, got {len(row)}")
    return [evaluate(s, v) for s, v in zip(compiled.specs, row)]
