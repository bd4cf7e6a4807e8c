"""Rules a manifest must meet beyond its JSON Schema. Pure: each check returns problems.

A problem is ``(field path, message)`` within one manifest; the loader adds the file name.
Every rule here stops something that would otherwise fail half-way through a deploy, or
worse, succeed and do the wrong thing (a file loaded twice, a task that never fires).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from governance.sql import IdentifierError, check_ident

Problem = tuple[str, str]

# Snowflake's cron (CREATE TASK ... SCHEDULE = 'USING CRON <expr> <time_zone>'), field by field:
# minute 0-59, hour 0-23, day of month 1-31 or L, month 1-12 or JAN-DEC, day of week 0-6 or
# SUN-SAT or nL; with *, a-b, /n and lists. https://docs.snowflake.com/en/sql-reference/sql/create-task
# and https://docs.snowflake.com/en/developer-guide/snowflake-python-api/reference/latest/_autosummary/snowflake.core.task.Cron
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_CRON_FIELDS = (
    ("minute", 0, 59, {}, False),
    ("hour", 0, 23, {}, False),
    ("day of month", 1, 31, {}, True),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}, False),
    ("day of week", 0, 6, {d: i for i, d in enumerate(_DAYS)}, True),
)
_ATOM = re.compile(r"^(\*|[A-Z0-9]+(-[A-Z0-9]+)?)(/([0-9]+))?\Z")

# Names the platform derives from a product or source; each must still be a valid identifier
# (Snowflake's limit is 255 characters: https://docs.snowflake.com/en/sql-reference/identifiers-syntax).
PRODUCT_DERIVED = ("BUILD_{}", "VALIDATE_{}", "PUBLISH_{}", "{}_V999")
SOURCE_DERIVED = ("{}_QUARANTINE", "{}_TYPED")
DOMAIN_DERIVED = ("{}_ENGINEER", "{}_ANALYST", "{}_WH_USAGE", "{}_PIPELINE", "{}_INGEST", "{}_FINALIZE", "{}_LANDING_INTEGRATION")


def cron_problems(expr: str) -> Iterator[str]:
    fields = expr.split()
    if len(fields) != 5:
        yield f"{expr!r} has {len(fields)} fields; Snowflake's cron has 5 (minute hour day-of-month month day-of-week)"
        return
    for text, (name, lo, hi, names, allows_last) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.upper().split(","):
            problem = _cron_part(part, lo, hi, names, allows_last)
            if problem:
                yield f"cron {name} field {text!r}: {problem}"
                break


def _cron_part(part: str, lo: int, hi: int, names: dict[str, int], allows_last: bool) -> str | None:
    if allows_last and (part == "L" or (hi == 6 and re.fullmatch(r"[0-6]L", part))):
        return None
    m = _ATOM.match(part)
    if not m:
        return f"{part!r} is not a value, a range a-b, * or a step /n"
    if m.group(1) != "*":
        for value in m.group(1).split("-"):
            n = names.get(value, int(value) if value.isdigit() else None)
            if n is None or not lo <= n <= hi:
                return f"{value!r} is outside {lo}-{hi}"
    if m.group(4) is not None and int(m.group(4)) == 0:
        return "a step /0 never fires"
    return None


def timezone_problem(tz: str) -> str | None:
    """Snowflake takes IANA time zone names; Python's tz database is the same list."""
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{tz!r} is not an IANA time zone (for example UTC or Europe/Berlin)"
    return None


def number_problem(sql_type: str) -> str | None:
    """NUMBER(p,s): 1 <= p <= 38 and 0 <= s <= p (https://docs.snowflake.com/en/sql-reference/data-types-numeric)."""
    m = re.fullmatch(r"NUMBER\((\d+),(\d+)\)", sql_type)
    if not m:
        return None
    p, s = int(m.group(1)), int(m.group(2))
    if not 1 <= p <= 38:
        return f"{sql_type}: precision must be 1-38"
    if s > p:
        return f"{sql_type}: scale {s} is greater than precision {p}"
    return None


def control_char_problems(
    data: Any, trail: tuple[Any, ...] = (), multiline: frozenset[str] = frozenset({"description"})
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every string reaches SQL (a literal) or HCL; none may hold control characters.

    Values under a ``multiline`` key (a description; a contract's custom SQL) may span lines
    (YAML ``>`` adds a final newline); nothing else may. Keys are checked like values."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from control_char_problems(k, (*trail, "(key)"), multiline)
            yield from control_char_problems(v, (*trail, k), multiline)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from control_char_problems(v, (*trail, i), multiline)
    elif isinstance(data, str):
        allowed = "\n\t\r" if trail and trail[-1] in multiline else ""
        bad = [c for c in data if (ord(c) < 32 or ord(c) == 127) and c not in allowed]
        if bad:
            yield trail, f"contains a control character ({bad[0]!r}); write it on one line without it"


def ident_problem(name: str) -> str | None:
    try:
        check_ident(name)
    except IdentifierError as exc:
        return str(exc)
    return None


def derived_name_problems(data: dict[str, Any]) -> Iterator[Problem]:
    """Task, view, table and role names made from the manifest's names must be identifiers too."""
    groups = [("name", data.get("name"), DOMAIN_DERIVED)]
    groups += [(f"sources[{i}].name", s.get("name"), SOURCE_DERIVED) for i, s in enumerate(data.get("sources", ()))]
    groups += [(f"products[{i}].name", p.get("name"), PRODUCT_DERIVED) for i, p in enumerate(data.get("products", ()))]
    for where, name, patterns in groups:
        if not isinstance(name, str):
            continue
        for pattern in patterns:
            derived = pattern.format(name)
            if len(derived) > 255:
                yield where, f"derived name {pattern.format('<name>')} would be {len(derived)} characters (Snowflake's limit is 255)"
                break


def _module_file(root: Path, module: str) -> Path | None:
    """The handler module's file: the project's own procedures/ first, then the import path."""
    local = root / "procedures" / Path(*module.split("."))
    for candidate in (local.with_suffix(".py"), local / "__init__.py"):
        if candidate.is_file():
            return candidate
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def handler_problem(root: Path, handler: str) -> str | None:
    """``pkg.module.function`` must name a top-level function of a module file.

    Read with ``ast``, not imported: validating input must not run the domain's code."""
    module, _, function = handler.rpartition(".")
    path = _module_file(root, module)
    if path is None:
        return f"{handler!r}: no module {module} under procedures/"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, OSError) as exc:
        return f"{handler!r}: {path.name} cannot be read as Python: {exc}"
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if function not in names:
        return f"{handler!r}: {module} defines no function {function}()"
    return None
