"""The front door (issue 10): every kind of bad input, through every command that reads the mesh.

Each case edits a copy of the repository's project (manifests, contracts, or the raw bytes of
one file), runs one `mesh` command in-process, and asserts what a user relies on:
- exit code 2;
- exactly one `error:` message, whose first problem names the file and the field or line;
- no traceback;
- nothing was opened: the target factory and the server start are replaced by tripwires, and
  the (empty) state folder stays empty, so a deploy on an empty account leaves it empty.
The cases address domains by role (a producer, a consumer), not by name, so the corpus holds
for any mesh with one cross-domain read.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from snowmesh.cli.main import run_app

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- the project's shape


def _manifests() -> dict[str, dict[str, Any]]:
    return {str(p.relative_to(ROOT)): yaml.safe_load(p.read_text()) for p in sorted(ROOT.glob("domains/*/domain.yml"))}


MANIFESTS = _manifests()
# The consumer: a domain with a product reading another domain's product; the producer: that one.
CONSUMER = next(f for f, m in MANIFESTS.items() for p in m["products"] if any(not i.startswith("RAW.") for i in p["inputs"]))
_CROSS = next(i for p in MANIFESTS[CONSUMER]["products"] for i in p["inputs"] if not i.startswith("RAW."))
PRODUCER = next(f for f, m in MANIFESTS.items() if m["name"] == _CROSS.split(".")[0])
PRODUCT = MANIFESTS[PRODUCER]["products"][0]
CONTRACT = PRODUCT["contract"]
DOC = json.loads((ROOT / CONTRACT).read_text())
COL = next(iter(DOC["properties"]))  # a column of the producer's contract
REQ_COL = DOC["required"][0]
NUM_COL = next(n for n, p in DOC["properties"].items() if p["type"] in ("integer", "number"))
STR_COL = next(n for n, p in DOC["properties"].items() if p["type"] == "string" and "format" not in p)


@dataclass(frozen=True)
class Case:
    id: str
    edit: Callable[[Path], None]
    expect: str  # the start of the first problem: "<file>: <field or line>"
    argv: tuple[str, ...] = ("deploy",)


def manifest(file: str, change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / file
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    return edit


def contract(change: Callable[[dict[str, Any]], Any], file: str = CONTRACT) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / file
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc, indent=2))

    return edit


def raw(file: str, content: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / file
        path.write_bytes(content(path.read_bytes()) if callable(content) else content)

    return edit


def setter(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value

    return change


def popper(*keys: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        for k in keys[:-1]:
            d = d[k]
        d.pop(keys[-1])

    return change


P, C = PRODUCER, CONSUMER
LATER = max(P, C)  # a clash between two manifests is reported at the later one (files load in name order)

# --------------------------------------------------------------------------- manifests, as data

MANIFEST_VALUES: list[tuple[str, tuple[Any, ...], Any, str]] = [
    # (id, keys, bad value, expected field)
    ("name-lower", ("name",), "marketing", "name"),
    ("name-reserved", ("name",), "SELECT", "name"),
    ("name-space", ("name",), "MY DOMAIN", "name"),
    ("name-quote", ("name",), 'X"; DROP', "name"),
    ("name-number", ("name",), 7, "name"),
    ("name-newline", ("name",), "SALES\n", "name"),
    ("owner-short", ("owner",), "ab", "owner"),
    ("owner-list", ("owner",), ["a@b.c"], "owner"),
    ("description-nul", ("description",), "ok\x00bad", "description"),
    ("database-lower", ("database",), "sales_db", "database"),
    ("database-dash", ("database",), "SALES-DB", "database"),
    ("database-reserved", ("database",), "TABLE", "database"),
    ("database-long", ("database",), "D" * 256, "database"),
    ("warehouse-not-map", ("warehouse",), "BIG", "warehouse"),
    ("wh-name-lower", ("warehouse", "name"), "wh", "warehouse.name"),
    ("wh-size-unknown", ("warehouse", "size"), "HUGE", "warehouse.size"),
    ("wh-size-lower", ("warehouse", "size"), "xsmall", "warehouse.size"),
    ("wh-suspend-low", ("warehouse", "auto_suspend_seconds"), 5, "warehouse.auto_suspend_seconds"),
    ("wh-suspend-high", ("warehouse", "auto_suspend_seconds"), 10**6, "warehouse.auto_suspend_seconds"),
    ("wh-suspend-str", ("warehouse", "auto_suspend_seconds"), "60", "warehouse.auto_suspend_seconds"),
    ("wh-suspend-float", ("warehouse", "auto_suspend_seconds"), 60.5, "warehouse.auto_suspend_seconds"),
    ("wh-quota-zero", ("warehouse", "monthly_credit_quota"), 0, "warehouse.monthly_credit_quota"),
    ("wh-quota-negative", ("warehouse", "monthly_credit_quota"), -5, "warehouse.monthly_credit_quota"),
    ("wh-extra-key", ("warehouse", "colour"), "blue", "warehouse"),
    ("bucket-upper", ("landing", "bucket"), "Mesh-Bucket", "landing.bucket"),
    ("bucket-newline", ("landing", "bucket"), "mesh-bucket\n", "landing.bucket"),
    ("bucket-underscore", ("landing", "bucket"), "mesh_bucket", "landing.bucket"),
    ("bucket-short", ("landing", "bucket"), "ab", "landing.bucket"),
    ("bucket-quote", ("landing", "bucket"), "mesh'bucket", "landing.bucket"),
    ("cron-minute-61", ("schedule", "cron"), "61 2 * * *", "schedule.cron"),
    ("cron-hour-24", ("schedule", "cron"), "0 24 * * *", "schedule.cron"),
    ("cron-dom-0", ("schedule", "cron"), "0 2 0 * *", "schedule.cron"),
    ("cron-month-13", ("schedule", "cron"), "0 2 * 13 *", "schedule.cron"),
    ("cron-dow-8", ("schedule", "cron"), "0 2 * * 8", "schedule.cron"),
    ("cron-four-fields", ("schedule", "cron"), "0 2 * *", "schedule.cron"),
    ("cron-word", ("schedule", "cron"), "0 2 * * FUNDAY", "schedule.cron"),
    ("cron-step-zero", ("schedule", "cron"), "*/0 2 * * *", "schedule.cron"),
    ("cron-newline", ("schedule", "cron"), "0 2 * * *\n", "schedule.cron"),
    ("cron-range-backwards-out", ("schedule", "cron"), "0 2-25 * * *", "schedule.cron"),
    ("tz-unknown", ("schedule", "timezone"), "Mars/Olympus", "schedule.timezone"),
    ("tz-newline", ("schedule", "timezone"), "UTC\n", "schedule.timezone"),
    ("tz-quote", ("schedule", "timezone"), "UTC'; DROP", "schedule.timezone"),
    ("schedule-extra", ("schedule", "every"), "day", "schedule"),
    ("top-extra-key", ("colour",), "blue", "(top level)"),
    ("sources-not-list", ("sources",), {"a": 1}, "sources"),
    ("src-name-lower", ("sources", 0, "name"), "clicks", "sources[0].name"),
    ("src-name-reserved", ("sources", 0, "name"), "ORDER", "sources[0].name"),
    ("src-prefix-slash", ("sources", 0, "prefix"), "a/b", "sources[0].prefix"),
    ("src-prefix-newline", ("sources", 0, "prefix"), "clicks\n", "sources[0].prefix"),
    ("src-prefix-upper", ("sources", 0, "prefix"), "Clicks", "sources[0].prefix"),
    ("src-prefix-dots", ("sources", 0, "prefix"), "..", "sources[0].prefix"),
    ("src-format", ("sources", 0, "format"), "parquet", "sources[0].format"),
    ("src-key-empty", ("sources", 0, "key"), [], "sources[0].key"),
    ("src-key-unknown", ("sources", 0, "key"), ["NOPE"], "sources[0].key[0]"),
    ("src-columns-empty", ("sources", 0, "columns"), [], "sources[0].columns"),
    ("col-type-unknown", ("sources", 0, "columns", 0, "type"), "TEXTY", "sources[0].columns[0].type"),
    ("col-type-scale-gt-precision", ("sources", 0, "columns", 0, "type"), "NUMBER(4,6)", "sources[0].columns[0].type"),
    ("col-type-precision-39", ("sources", 0, "columns", 0, "type"), "NUMBER(39,2)", "sources[0].columns[0].type"),
    ("col-type-precision-0", ("sources", 0, "columns", 0, "type"), "NUMBER(0,0)", "sources[0].columns[0].type"),
    ("col-type-lower", ("sources", 0, "columns", 0, "type"), "varchar", "sources[0].columns[0].type"),
    ("col-type-newline", ("sources", 0, "columns", 0, "type"), "VARCHAR\n", "sources[0].columns[0].type"),
    ("col-required-str", ("sources", 0, "columns", 0, "required"), "yes", "sources[0].columns[0].required"),
    ("col-name-hyphen", ("sources", 0, "columns", 0, "name"), "CLICK-ID", "sources[0].columns[0].name"),
    ("col-extra", ("sources", 0, "columns", 0, "nullable"), True, "sources[0].columns[0]"),
    ("products-not-list", ("products",), "x", "products"),
    ("prod-name-lower", ("products", 0, "name"), "perf", "products[0].name"),
    ("prod-name-long", ("products", 0, "name"), "P" * 250, "products[0].name"),
    ("prod-name-reserved", ("products", 0, "name"), "PUBLICATIONS", "products[0].name"),
    ("prod-contract-other-dir", ("products", 0, "contract"), "elsewhere/x/v1.json", "products[0].contract"),
    ("prod-contract-missing", ("products", 0, "contract"), "contracts/nope/nope/v1.json", "products[0].contract"),
    ("prod-contract-dotdot", ("products", 0, "contract"), "contracts/../etc/v1.json", "products[0].contract"),
    ("prod-handler-missing-module", ("products", 0, "handler"), "nosuch.module.build", "products[0].handler"),
    ("prod-handler-missing-function", ("products", 0, "handler"), PRODUCT["handler"].rsplit(".", 1)[0] + ".nope",
     "products[0].handler"),
    ("prod-handler-one-part", ("products", 0, "handler"), "build", "products[0].handler"),
    ("prod-handler-upper", ("products", 0, "handler"), "Pkg.Mod.build", "products[0].handler"),
    ("prod-inputs-bad", ("products", 0, "inputs"), ["RAW"], "products[0].inputs[0]"),
    ("prod-input-unknown-source", ("products", 0, "inputs"), ["RAW.NOPE"], "products[0].inputs[0]"),
    ("prod-input-unknown-domain", ("products", 0, "inputs"), ["NOWHERE.X"], "products[0].inputs[0]"),
    ("prod-consumer-unknown", ("products", 0, "consumers"), [*PRODUCT["consumers"], "NOWHERE"],
     f"products[0].consumers[{len(PRODUCT['consumers'])}]"),
    ("prod-consumer-self", ("products", 0, "consumers"), [*PRODUCT["consumers"], MANIFESTS[P]["name"]],
     f"products[0].consumers[{len(PRODUCT['consumers'])}]"),
    ("prod-consumer-lower", ("products", 0, "consumers"), ["lower"], "products[0].consumers[0]"),
    ("prod-extra", ("products", 0, "schedule"), "daily", "products[0]"),
    ("proc-name-lower", ("procedures",), [{"name": "roi", "handler": PRODUCT["handler"]}], "procedures[0].name"),
    ("proc-handler-missing", ("procedures",), [{"name": "ROI", "handler": "nosuch.module.fn"}], "procedures[0].handler"),
    ("proc-execute-as", ("procedures",), [{"name": "ROI", "handler": PRODUCT["handler"], "execute_as": "root"}],
     "procedures[0].execute_as"),
    ("proc-twice", ("procedures",), [{"name": "ROI", "handler": PRODUCT["handler"]}] * 2, "procedures[1].name"),
]

CASES: list[Case] = [
    Case(f"manifest-{cid}", manifest(P, setter(*keys, value=value)), f"{P}: {where}") for cid, keys, value, where in MANIFEST_VALUES
]
CASES += [
    Case(f"manifest-missing-{k}", manifest(P, popper(k)), f"{P}: (top level)")
    for k in ("name", "owner", "database", "warehouse", "landing", "schedule", "sources", "products")
]
CASES += [
    Case("manifest-missing-cron", manifest(P, popper("schedule", "cron")), f"{P}: schedule"),
    Case("manifest-missing-bucket", manifest(P, popper("landing", "bucket")), f"{P}: landing"),
    Case("manifest-missing-handler", manifest(P, popper("products", 0, "handler")), f"{P}: products[0]"),
    Case("manifest-missing-col-type", manifest(P, popper("sources", 0, "columns", 0, "type")), f"{P}: sources[0].columns[0]"),
    Case("manifest-source-twice", manifest(P, lambda d: d["sources"].append(dict(d["sources"][0]))), f"{P}: sources["),
    Case("manifest-product-twice", manifest(P, lambda d: d["products"].append(dict(d["products"][0]))), f"{P}: products["),
    Case("manifest-column-twice",
         manifest(P, lambda d: d["sources"][0]["columns"].append(dict(d["sources"][0]["columns"][0]))), f"{P}: sources[0].columns["),
    Case("manifest-shared-prefix", manifest(P, lambda d: d["sources"][1].update(prefix=d["sources"][0]["prefix"])),
         f"{P}: sources[1].prefix"),
    Case("manifest-shared-database", manifest(C, setter("database", value=MANIFESTS[P]["database"])), f"{LATER}: database"),
    Case("manifest-shared-warehouse", manifest(C, setter("warehouse", "name", value=MANIFESTS[P]["warehouse"]["name"])),
         f"{LATER}: warehouse.name"),
    Case("manifest-domain-twice", manifest(C, setter("name", value=MANIFESTS[P]["name"])), f"{LATER}: name"),
    Case("manifest-undeclared-read", manifest(P, lambda d: [p.update(consumers=[]) for p in d["products"]]),
         f"{C}: products[0].inputs["),
    Case("manifest-cycle", manifest(P, lambda d: d["products"][0].update(
        inputs=[*d["products"][0]["inputs"], f"{MANIFESTS[C]['name']}.{MANIFESTS[C]['products'][0]['name']}"])),
         f"{P}: products[0].inputs["),
]

# --------------------------------------------------------------------------- manifests, as bytes

CASES += [
    Case("yaml-duplicate-key", raw(P, lambda b: b + b"\nname: OTHER\n"), f"{P}: line "),
    Case("yaml-duplicate-nested-key", raw(P, lambda b: b.replace(b"  size:", b"  size: SMALL\n  size:", 1)), f"{P}: line "),
    Case("yaml-alias-bomb", raw(P, b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                                  b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"), f"{P}: line "),
    Case("yaml-not-utf8", raw(P, lambda b: b.replace(b"owner:", b"owner: \xff\xfe", 1)), f"{P}: line "),
    Case("yaml-latin1", raw(P, lambda b: b + b"# caf\xe9\n"), f"{P}: line "),
    Case("yaml-syntax", raw(P, lambda b: b + b"\nproducts: [unclosed\n"), f"{P}: line "),
    Case("yaml-tab-indent", raw(P, lambda b: b + b"\nextra:\n\t- x\n"), f"{P}: line "),
    Case("yaml-list-top", raw(P, b"- a\n- b\n"), f"{P}: (top level)"),
    Case("yaml-scalar-top", raw(P, b"just text\n"), f"{P}: (top level)"),
    Case("yaml-empty", raw(P, b""), f"{P}: (top level)"),
    Case("yaml-huge", raw(P, lambda b: b + b"#" * 1_100_000 + b"\n"), f"{P}: "),
    Case("yaml-python-tag", raw(P, lambda b: b + b"\nx: !!python/object/apply:os.system ['true']\n"), f"{P}: line "),
    Case("yaml-nul-byte", raw(P, lambda b: b.replace(b"owner: ", b"owner: a\x00", 1)), f"{P}: "),
]

# --------------------------------------------------------------------------- contracts, as data

CONTRACT_EDITS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("typo-key", lambda d: d.update({"x-qualty": {}}), "$"),
    ("title-other", lambda d: d.update(title="SOMETHING_ELSE"), "$.title"),
    ("title-lower", lambda d: d.update(title="perf"), "$"),
    ("no-properties", lambda d: d.pop("properties"), "$"),
    ("no-title", lambda d: d.pop("title"), "$"),
    ("no-x-product", lambda d: d.pop("x-product"), "$"),
    ("product-other-name", lambda d: d["x-product"].update(name="OTHER"), "$.x-product"),
    ("product-other-domain", lambda d: d["x-product"].update(domain="OTHER"), "$.x-product"),
    ("version-major-mismatch", lambda d: d["x-product"].update(version="2.0.0"), "$.x-product.version"),
    ("version-not-semver", lambda d: d["x-product"].update(version="one"), "$.x-product.version"),
    ("version-number", lambda d: d["x-product"].update(version=1), "$.x-product.version"),
    ("owner-missing", lambda d: d["x-product"].pop("owner"), "$.x-product"),
    ("status-unknown", lambda d: d["x-product"].update(status="sunny"), "$.x-product.status"),
    ("column-lower", lambda d: d["properties"].update({"lower_col": {"type": "string"}}), "$.properties"),
    ("column-reserved", lambda d: d["properties"].update({"SELECT": {"type": "string"}}), "$.properties.SELECT"),
    ("column-quote", lambda d: d["properties"].update({'A"B': {"type": "string"}}), "$.properties"),
    ("column-type-unknown", lambda d: d["properties"][COL].update(type="count"), f"$.properties.{COL}.type"),
    ("column-no-type", lambda d: d["properties"][COL].pop("type"), f"$.properties.{COL}"),
    ("column-typo-key", lambda d: d["properties"][COL].update({"maxLenght": 3}), f"$.properties.{COL}"),
    ("required-unknown", lambda d: d["required"].append("NOPE"), "$.required["),
    ("required-and-nullable", lambda d: d["properties"][REQ_COL].update(type=[d["properties"][REQ_COL]["type"], "null"]),
     f"$.properties.{REQ_COL}.type"),
    ("pattern-invalid", lambda d: d["properties"][STR_COL].update(pattern="(["), f"$.properties.{STR_COL}.pattern"),
    ("pattern-on-number", lambda d: d["properties"][NUM_COL].update(pattern="x"), f"$.properties.{NUM_COL}.pattern"),
    ("minimum-on-string", lambda d: d["properties"][STR_COL].update(minimum=1), f"$.properties.{STR_COL}.minimum"),
    ("minimum-string", lambda d: d["properties"][NUM_COL].update(minimum="0"), f"$.properties.{NUM_COL}.minimum"),
    ("enum-wrong-type", lambda d: d["properties"][STR_COL].update(enum=[1, 2]), f"$.properties.{STR_COL}.enum["),
    ("snowflake-type-on-string", lambda d: d["properties"][STR_COL].update({"x-snowflake-type": "NUMBER(4,2)"}),
     f"$.properties.{STR_COL}.x-snowflake-type"),
    ("classification-unknown", lambda d: d["properties"][COL].update({"x-classification": "secret-ish"}),
     f"$.properties.{COL}.x-classification"),
    ("pk-unknown", lambda d: d.update({"x-primary-key": ["NOPE"]}), "$.x-primary-key[0]"),
    ("sla-column-unknown", lambda d: d.update({"x-sla": {"freshness_column": "NOPE", "max_age_hours": 1}}), "$.x-sla.freshness_column"),
    ("sla-negative", lambda d: d.update({"x-sla": {"freshness_column": COL, "max_age_hours": -1}}), "$.x-sla.max_age_hours"),
    ("row-count-min-gt-max", lambda d: d.update({"x-quality": {"row_count": {"min": 5, "max": 1}}}), "$.x-quality.row_count"),
    ("null-pct-unknown-column", lambda d: d.update({"x-quality": {"max_null_pct": {"NOPE": 5}}}), "$.x-quality.max_null_pct.NOPE"),
    ("null-pct-over-100", lambda d: d.update({"x-quality": {"max_null_pct": {COL: 150}}}), "$.x-quality.max_null_pct"),
    ("custom-delete", lambda d: d.update({"x-quality": {"custom": [
        {"name": "bad", "sql": "DELETE FROM {table}", "expect": 0}]}}), "$.x-quality.custom[0].sql"),
    ("custom-two-statements", lambda d: d.update({"x-quality": {"custom": [
        {"name": "bad", "sql": "SELECT 1; SELECT 2", "expect": 0}]}}), "$.x-quality.custom[0].sql"),
    ("custom-drop-in-cte", lambda d: d.update({"x-quality": {"custom": [
        {"name": "bad", "sql": "DROP TABLE {table}", "expect": 0}]}}), "$.x-quality.custom[0].sql"),
    ("custom-star", lambda d: d.update({"x-quality": {"custom": [
        {"name": "bad", "sql": "SELECT * FROM {table}", "expect": 0}]}}), "$.x-quality.custom[0].sql"),
    ("custom-system-call", lambda d: d.update({"x-quality": {"custom": [
        {"name": "bad", "sql": "SELECT SYSTEM$WAIT(10)", "expect": 0}]}}), "$.x-quality.custom[0].sql"),
    ("custom-empty", lambda d: d.update({"x-quality": {"custom": [
        {"name": "bad", "sql": "  ", "expect": 0}]}}), "$.x-quality.custom[0]"),
    ("custom-duplicate-name", lambda d: d.update({"x-quality": {"custom": [
        {"name": "same", "sql": "SELECT 1", "expect": 1}, {"name": "same", "sql": "SELECT 1", "expect": 1}]}}),
     "$.x-quality.custom[1].name"),
    ("custom-no-expect", lambda d: d.update({"x-quality": {"custom": [{"name": "x", "sql": "SELECT 1"}]}}),
     "$.x-quality.custom[0]"),
    ("custom-bad-op", lambda d: d.update({"x-quality": {"custom": [
        {"name": "x", "sql": "SELECT 1", "expect": 1, "op": "~"}]}}), "$.x-quality.custom[0].op"),
    ("custom-insert", lambda d: d.update({"x-quality": {"custom": [
        {"name": "bad", "sql": "INSERT INTO {table} VALUES (1)", "expect": 0}]}}), "$.x-quality.custom[0].sql"),
    ("description-nul", lambda d: d.update(description="a\x00b"), "$.description"),
    ("column-name-newline", lambda d: d["properties"].update({"NEW\n": {"type": "string"}}), "$.properties"),
    ("owner-newline", lambda d: d["x-product"].update(owner="team@example.com\n"), "$.x-product.owner"),
    ("tag-control-char", lambda d: d["properties"][COL].update({"x-tags": ["pii\x1b"]}), f"$.properties.{COL}.x-tags[0]"),
    ("additional-properties-string", lambda d: d.update(additionalProperties="no"), "$.additionalProperties"),
]
CASES += [Case(f"contract-{cid}", contract(change), f"{CONTRACT}: {where}") for cid, change, where in CONTRACT_EDITS]

# --------------------------------------------------------------------------- contracts, as bytes

CASES += [
    Case("json-array", raw(CONTRACT, b"[1, 2]"), f"{CONTRACT}: (top level)"),
    Case("json-string", raw(CONTRACT, b'"text"'), f"{CONTRACT}: (top level)"),
    Case("json-empty", raw(CONTRACT, b""), f"{CONTRACT}: line 1"),
    Case("json-truncated", raw(CONTRACT, lambda b: b[: len(b) // 2]), f"{CONTRACT}: line "),
    Case("json-trailing-comma", raw(CONTRACT, lambda b: b.rstrip().rstrip(b"}") + b', }'), f"{CONTRACT}: line "),
    Case("json-duplicate-key", raw(CONTRACT, lambda b: b.replace(b'"title"', b'"title": "X",\n  "title"', 1)), f"{CONTRACT}: line "),
    Case("json-not-utf8", raw(CONTRACT, lambda b: b.replace(b'"description": "', b'"description": "\xff', 1)), f"{CONTRACT}: line "),
    Case("json-nan", raw(CONTRACT, lambda b: b.replace(b'"title"', b'"x-nan": NaN,\n  "title"', 1)), f"{CONTRACT}: "),
    Case("json-comments", raw(CONTRACT, lambda b: b"// contract\n" + b), f"{CONTRACT}: line 1"),
    Case("json-binary", raw(CONTRACT, bytes(range(256))), f"{CONTRACT}: line "),
    Case("json-huge", raw(CONTRACT, lambda b: b + b" " * 1_100_000), f"{CONTRACT}: "),
    Case("json-bom", raw(CONTRACT, lambda b: b"\xef\xbb\xbf" + b), f"{CONTRACT}: line 1"),
]

# --------------------------------------------------------------------------- every command that reads the mesh

COMMANDS: list[tuple[str, ...]] = [
    ("deploy",), ("deploy", "--dry-run"), ("plan",), ("plan", "--local"), ("run", "--clicks", "100"),
    ("contract", "check"), ("contract", "validate", PRODUCT["name"]), ("products",), ("product", "show", PRODUCT["name"]),
    ("lineage",), ("impact", PRODUCT["name"], "--offline"), ("audit", "access"), ("finops",),
    ("page", "--print"), ("tasks", "deploy", "--dry-run"),
]
# Spread the corpus over the commands, and run a few representative faults through all of them.
CASES = [Case(c.id, c.edit, c.expect, COMMANDS[i % len(COMMANDS)]) for i, c in enumerate(CASES)]
_REPRESENTATIVE = {"manifest-cron-minute-61", "yaml-duplicate-key", "contract-custom-delete", "json-array"}
CASES += [
    Case(f"{c.id}@{'-'.join(argv)}", c.edit, c.expect, argv)
    for c in list(CASES) if c.id in _REPRESENTATIVE for argv in COMMANDS
]


@pytest.fixture()
def guarded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty state folder, and tripwires on everything that would open an account."""
    from snowmesh import target
    from snowmesh.local import servers

    def tripwire(*_: Any, **__: Any) -> Any:
        raise AssertionError("the front door let bad input reach an account")

    monkeypatch.setattr(target, "open_target", tripwire)
    monkeypatch.setattr(servers, "start", tripwire)
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("SNOWMESH_STATE_DIR", str(state))
    return state


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    for sub in ("domains", "contracts", "procedures", "streamlit"):
        shutil.copytree(ROOT / sub, project / sub, ignore=shutil.ignore_patterns("__pycache__"))
    return project


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_with_one_message_and_changes_nothing(
    case: Case, tmp_path: Path, guarded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    case.edit(project)
    rc = run_app([*case.argv, "-p", str(project)])
    out, err = capsys.readouterr()
    assert rc == 2, f"exit {rc}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    assert "Traceback" not in err + out
    assert err.count("error:") == 1, err
    message = err.split("error:", 1)[1].split("\nhint:", 1)[0].strip()
    lines = [line.strip() for line in message.splitlines()]
    problems = lines[1:] if lines[0].endswith("problems in the input:") else lines
    # Each problem names a file, then a field or a line; the case's own problem is among them.
    assert all(p.startswith(("domains/", "contracts/")) and p.count(": ") >= 2 for p in problems), message
    assert any(p.startswith(case.expect) for p in problems), f"expected {case.expect!r}, got:\n{err}"
    assert list(guarded.iterdir()) == [], "the state folder was written"


def test_the_corpus_covers_every_kind() -> None:
    kinds = {c.id.split("-", 1)[0] for c in CASES}
    assert {"manifest", "yaml", "contract", "json"} <= kinds
    assert len({c.id for c in CASES}) == len(CASES) >= 150


def test_all_problems_are_reported_at_once(tmp_path: Path, guarded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path)
    manifest(P, setter("schedule", "cron", value="61 2 * * *"))(project)
    manifest(C, setter("schedule", "timezone", value="Mars/Olympus"))(project)
    contract(lambda d: d["properties"][COL].update(type="count"))(project)
    assert run_app(["deploy", "-p", str(project)]) == 2
    err = capsys.readouterr().err
    # Manifests first: the contracts are read only once every manifest is sound.
    assert f"{P}: schedule.cron" in err and f"{C}: schedule.timezone" in err and CONTRACT not in err
    manifest(P, setter("schedule", "cron", value="0 2 * * *"))(project)
    manifest(C, setter("schedule", "timezone", value="UTC"))(project)
    assert run_app(["deploy", "-p", str(project)]) == 2
    assert f"{CONTRACT}: $.properties.{COL}.type" in capsys.readouterr().err


# --------------------------------------------------------------------------- arguments

ANALYST_CALLS = {  # procedures whose module declares check_arguments(): refused before anything opens
    "ROI_BY_CAMPAIGN": ("2026-13-01", "2026-10-31"),
    "CAMPAIGN_SUMMARY": ("no-such-channel",),
}
ARGUMENTS: list[tuple[str, tuple[str, ...], str]] = [
    ("clicks-overflow", ("run", "--clicks", "100000000000000000000"), "--clicks"),
    ("clicks-zero", ("run", "--clicks", "0"), "--clicks"),
    ("clicks-negative", ("generate", "--out", "OUT", "--clicks", "-5"), "--clicks"),
    ("clicks-text", ("run", "--clicks", "many"), "--clicks"),
    ("seed-negative", ("run", "--seed", "-1"), "--seed"),
    ("seed-huge", ("run", "--seed", str(2**64)), "--seed"),
    ("corrupt-fraction-high", ("run", "--corrupt-fraction", "0.9"), "--corrupt-fraction"),
    ("corrupt-fraction-negative", ("run", "--corrupt-fraction", "-0.1"), "--corrupt-fraction"),
    ("days-zero", ("run", "--days", "0"), "--days"),
    ("days-huge", ("run", "--days", "5000"), "--days"),
    ("port-zero", ("page", "--port", "0"), "--port"),
    ("unknown-option", ("deploy", "--colour"), "--colour"),
    ("unknown-command", ("deplyo",), "deplyo"),
    ("call-unknown-procedure", ("call", "NO_SUCH_PROCEDURE"), "NO_SUCH_PROCEDURE"),
    ("call-wrong-arity", ("call", "ROI_BY_CAMPAIGN", "2026-10-01"), "ROI_BY_CAMPAIGN"),
    *[(f"call-bad-{name.lower()}", ("call", name, *args), name) for name, args in ANALYST_CALLS.items()],
    ("call-start-after-end", ("call", "ROI_BY_CAMPAIGN", "2026-10-31", "2026-10-01"), "START_DATE"),
    ("product-unknown", ("product", "show", "NO_SUCH_PRODUCT"), "NO_SUCH_PRODUCT"),
    ("impact-unknown", ("impact", "NO_SUCH_PRODUCT", "--offline"), "NO_SUCH_PRODUCT"),
    ("lineage-format", ("lineage", "--format", "png"), "png"),
]


@pytest.mark.parametrize(("argv", "names"), [(a, n) for _, a, n in ARGUMENTS], ids=[i for i, _, _ in ARGUMENTS])
def test_bad_argument_exits_2_naming_it_before_anything_opens(
    argv: tuple[str, ...], names: str, tmp_path: Path, guarded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    argv = tuple(str(tmp_path / "out") if a == "OUT" else a for a in argv)
    rc = run_app([*argv, "-p", str(project)])
    out, err = capsys.readouterr()
    assert rc == 2, f"exit {rc}\n{out[-1500:]}\n{err[-1500:]}"
    assert "Traceback" not in err + out
    assert err.count("error:") == 1 and names in err, err
    assert list(guarded.iterdir()) == [] and not (tmp_path / "out").exists()
