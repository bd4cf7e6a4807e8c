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
from snowmesh.manifest.model import ColumnSample, corrupt_column, corrupt_fits

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
    # PUBLISH keeps its publication log and the view consumers' streams read in PRODUCTS, beside the
    # products' tables (governance.publish): a product of either name would collide with them.
    from governance.publish import PUBLICATIONS_LOG, PUBLICATIONS_VIEW

    for i, p in enumerate(data.get("products", ())):
        if isinstance(p, dict) and p.get("name") in (PUBLICATIONS_LOG, PUBLICATIONS_VIEW):
            yield f"products[{i}].name", (f"{p['name']} is reserved: PRODUCTS.{p['name']} holds the domain's "
                                          "publications (docs/security.md)")
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


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$")
_RANGED = ("NUMBER", "FLOAT", "DATE", "TIMESTAMP_NTZ")


def _value_problem(sql_type: str, value: str) -> str | None:
    """Whether a hint value (enum member, min, max) is one the column's type can hold."""
    from datetime import date, datetime

    try:
        if sql_type.startswith(("NUMBER", "FLOAT")):
            float(value)
        elif sql_type == "DATE":
            if not _DATE.match(value):
                raise ValueError
            date.fromisoformat(value)
        elif sql_type == "TIMESTAMP_NTZ":
            if not _TIMESTAMP.match(value):
                raise ValueError
            datetime.fromisoformat(value)
        elif sql_type == "BOOLEAN" and value not in ("true", "false"):
            raise ValueError
    except ValueError:
        return f"{value!r} is not a {sql_type} value"
    return None


def _order_key(sql_type: str, value: str) -> Any:
    return float(value) if sql_type.startswith(("NUMBER", "FLOAT")) else value.replace("T", " ")


def _faker_problem(provider: str) -> str | None:
    from faker import Faker

    fake = Faker("en_US")
    if provider.startswith("_") or not callable(getattr(fake, provider, None)):
        return f"{provider!r} is not a Faker provider (for example company, city, email, name)"
    return None


def _column_sample_problems(data: dict[str, Any], si: int, ci: int) -> Iterator[Problem]:
    s = data["sources"][si]
    c = s["columns"][ci]
    where = f"sources[{si}].columns[{ci}].sample"
    hint = ColumnSample.of(c.get("sample"))
    t, is_key = c["type"], c["name"] in s.get("key", ())
    for ei, v in enumerate(hint.enum):
        problem = _value_problem(t, v)
        if problem:
            yield f"{where}.enum[{ei}]", problem
    bounds = [(k, v) for k, v in (("min", hint.min), ("max", hint.max)) if v is not None]
    for k, v in bounds:
        if not t.startswith(_RANGED):
            yield f"{where}.{k}", f"a {t} column takes no {k} (only NUMBER, FLOAT, DATE, TIMESTAMP_NTZ)"
        elif problem := _value_problem(t, v):
            yield f"{where}.{k}", problem
    valid = len(bounds) == 2 and t.startswith(_RANGED) and not any(_value_problem(t, v) for _, v in bounds)
    if valid and _order_key(t, hint.min or "") > _order_key(t, hint.max or ""):
        yield f"{where}.min", f"min {hint.min} is greater than max {hint.max}"
    if "distribution" in (c.get("sample") or {}) and not t.startswith(("NUMBER", "FLOAT")):
        yield f"{where}.distribution", f"a {t} column takes no distribution (only NUMBER and FLOAT)"
    if hint.faker:
        if t != "VARCHAR":
            yield f"{where}.faker", f"faker makes text; {c['name']} is {t}"
        elif is_key:
            yield f"{where}.faker", f"{c['name']} is a key column: its values are generated unique, faker's repeat"
        elif problem := _faker_problem(hint.faker):
            yield f"{where}.faker", problem
    given = [k for k in ("enum", "faker", "ref") if (c.get("sample") or {}).get(k)]
    if len(given) > 1:
        yield where, f"{' and '.join(given)} exclude each other: give one"
    if hint.null_rate > 0 and c.get("required"):
        yield f"{where}.null_rate", f"{c['name']} is required: its sample data cannot be NULL"
    if hint.ref:
        yield from _ref_problems(data, si, where, hint.ref)


def _ref_problems(data: dict[str, Any], si: int, where: str, ref: str) -> Iterator[Problem]:
    sources = {x["name"]: x for x in data["sources"]}
    name, _, column = ref.partition(".")
    target = sources.get(name)
    if target is None:
        yield f"{where}.ref", f"{ref!r}: {name} is not a source of {data['name']} (known: {', '.join(sorted(sources))})"
    elif name == data["sources"][si]["name"]:
        yield f"{where}.ref", f"{ref!r}: a column refers to a key of another source, not its own"
    elif column not in {c["name"] for c in target["columns"]}:
        yield f"{where}.ref", f"{ref!r}: {column} is not a column of {name}"
    elif list(target.get("key", ())) != [column]:
        yield f"{where}.ref", f"{ref!r}: {column} is not the key of {name} (its key: {target.get('key') or 'none'})"


def _ref_cycle(data: dict[str, Any]) -> str | None:
    """Sources are generated referenced-first, so references between them must not loop."""
    edges = {
        s["name"]: {(c.get("sample") or {}).get("ref", "").partition(".")[0] for c in s["columns"]} - {""}
        for s in data["sources"]
    }
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> str | None:
        if state.get(n) == 1:
            return " -> ".join(path[path.index(n):] + [n])
        if state.get(n) == 2 or n not in edges:
            return None
        state[n] = 1
        for m in sorted(edges[n]):
            found = visit(m, [*path, n])
            if found:
                return found
        state[n] = 2
        return None

    for n in edges:
        found = visit(n, [])
        if found:
            return found
    return None


def _corrupt_problems(data: dict[str, Any], si: int) -> Iterator[Problem]:
    s = data["sources"][si]
    cols = [(c["name"], c["type"], bool(c.get("required"))) for c in s["columns"]]
    by_name = {n: (t, r) for n, t, r in cols}
    key = list(s.get("key", ()))
    for ri, item in enumerate((s.get("sample") or {}).get("corrupt", ())):
        reason, column = (item, None) if isinstance(item, str) else (item["reason"], item.get("column"))
        where = f"sources[{si}].sample.corrupt[{ri}]"
        if column is None:
            column = corrupt_column(reason, cols, key)
            if column is None:
                what = "key" if reason == "missing_key" else f"{' or '.join(_corrupt_kinds(reason))} column"
                yield where, f"{reason}: {s['name']} has no {what}; drop it or name a column"
                continue
        elif column not in by_name:
            yield f"{where}.column", f"{column!r} is not a column of {s['name']}"
            continue
        t, required = by_name[column]
        if not corrupt_fits(reason, t, required, column in key):
            need = "a required key column" if reason == "missing_key" else f"a {' or '.join(_corrupt_kinds(reason))} column"
            yield where, f"{reason} on {column} ({t}{', required' if required else ''}) would load, not be quarantined: it needs {need}"


def _corrupt_kinds(reason: str) -> tuple[str, ...]:
    return ("NUMBER", "FLOAT") if reason == "bad_number" else ("TIMESTAMP_NTZ", "DATE")


def sample_problems(domain_dir: Path, data: dict[str, Any]) -> Iterator[Problem]:
    """Sample-data hints (``sample:`` of the domain, a source, a column) that generation could not honour."""
    for si, s in enumerate(data["sources"]):
        for ci, c in enumerate(s["columns"]):
            if c.get("sample"):
                yield from _column_sample_problems(data, si, ci)
        yield from _corrupt_problems(data, si)
    cycle = _ref_cycle(data)
    if cycle:
        yield "sources", f"sample references loop ({cycle}): one source must be generated first"
    generator = (data.get("sample") or {}).get("generator")
    if generator:
        problem = generator_problem(domain_dir, generator)
        if problem:
            yield "sample.generator", problem


def generator_problem(domain_dir: Path, generator: str) -> str | None:
    """``module.function``: a top-level function of ``domains/<domain>/<module>.py`` (read, not run)."""
    module, _, function = generator.partition(".")
    path = domain_dir / f"{module}.py"
    if not path.is_file():
        return f"{generator!r}: no file {module}.py beside domain.yml"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, OSError) as exc:
        return f"{generator!r}: {path.name} cannot be read as Python: {exc}"
    if function not in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}:
        return f"{generator!r}: {path.name} defines no function {function}()"
    return None
