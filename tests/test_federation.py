"""The federation layer (issue 16): BigQuery and Azure Synapse from the same manifests.

Guards: the ``federation:`` declaration and its front-door errors; the one renderer (the view's
columns and types come from the contract, transpiled by sqlglot); the gate that checks it; the
generated Terraform variables; and, read with python-hcl2, that every declared target has its
module instance and that the readers granted are exactly the declared ones. Nothing here runs
on GCP or Azure (docs/federation.md).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
import sqlglot
import yaml
from sqlglot import exp

from snowmesh import federation as fed
from snowmesh.access.hcl import normalize
from snowmesh.cli.main import run_app
from snowmesh.errors import InputProblems
from snowmesh.infra.tfvars import TFVARS_PATH, render_tfvars
from snowmesh.lineage import build_lineage
from snowmesh.manifest import load_mesh

ROOT = Path(__file__).resolve().parents[1]
TF = ROOT / "terraform"


def _declared() -> dict[tuple[str, str], dict[str, Any]]:
    """(DOMAIN.PRODUCT, target) -> the manifest's entry, read straight from the YAML."""
    out = {}
    for f in sorted(ROOT.glob("domains/*/domain.yml")):
        m = yaml.safe_load(f.read_text())
        for p in m["products"]:
            for t in p.get("federation", ()):
                out[(f"{m['name']}.{p['name']}", t["target"])] = {**t, "contract": p["contract"]}
    return out


DECLARED = _declared()


def _contract_columns(contract: str) -> list[tuple[str, bool]]:
    """(name, nullable) in the contract file's order, from the JSON itself. A protected column
    (confidential, restricted, pii) is exported as NULL, so the target declares it nullable."""
    doc = json.loads((ROOT / contract).read_text())
    required = set(doc.get("required", ()))
    protected = {n for n, p in doc["properties"].items()
                 if str(p.get("x-classification", "")).lower() in ("confidential", "restricted", "pii")}
    return [(n, n not in required or n in protected
             or "null" in (p["type"] if isinstance(p["type"], list) else [p["type"]]))
            for n, p in doc["properties"].items()]


@pytest.fixture(scope="module")
def mesh():
    return load_mesh(ROOT)


@pytest.fixture(scope="module")
def tfvars() -> dict[str, Any]:
    return json.loads((ROOT / TFVARS_PATH).read_text())


def _hcl(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return normalize(hcl2.load(fh))  # the same normalisation test_terraform reads HCL with


def _blocks(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """``module``/``resource`` blocks of one parsed file, by name (or "type.name")."""
    out: dict[str, dict[str, Any]] = {}
    for block in doc.get(kind, ()):
        for name, body in block.items():
            if kind == "resource":
                for rname, rbody in body.items():
                    out[f"{name}.{rname}"] = rbody
            else:
                out[name] = body
    return out


def _module_dir(name: str) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = {}
    for f in sorted((TF / "modules" / name).glob("*.tf")):
        resources.update(_blocks(_hcl(f), "resource"))
    return resources


# --- declaration ------------------------------------------------------------------------------


def test_the_repository_declares_a_marketing_product_on_both_targets(mesh):
    assert {t for (key, t) in DECLARED if key.startswith("MARKETING.")} == {"bigquery", "synapse"}
    for (key, target), entry in DECLARED.items():
        [f] = [f for f in mesh.product(key).federation if f.target == target]
        assert f.readers == tuple(entry["readers"])
        assert f.project == entry.get("project", "")


def _edit(project: Path, change) -> None:
    path = project / "domains" / "marketing" / "domain.yml"
    data = yaml.safe_load(path.read_text())
    product = next(p for p in data["products"] if p.get("federation"))
    change(product["federation"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


BAD = [
    ("gcp-reader", lambda f: f[0]["readers"].__setitem__(0, "analysts@example.com"), "federation[0].readers[0]",
     "is not a bigquery reader principal"),
    ("azure-upn", lambda f: f[1]["readers"].__setitem__(0, "user:ana@example.com"), "federation[1].readers[0]",
     "is not a synapse reader principal"),
    ("target", lambda f: f[1].__setitem__("target", "redshift"), "federation[1].target", "is not one of"),
    ("twice", lambda f: f.__setitem__(1, dict(f[0])),
     "federation[1].target", "is declared twice"),
    ("no-project", lambda f: f[0].pop("project"), "federation[0]", "needs project"),
    ("bad-project", lambda f: f[0].__setitem__("project", "My_Project"), "federation[0].project", "not a GCP project id"),
    ("synapse-project", lambda f: f[1].__setitem__("project", "abcdef-1"), "federation[1].project", "bigquery targets only"),
    ("no-readers", lambda f: f[0].__setitem__("readers", []), "federation[0].readers", "should be non-empty"),
    ("dup-reader", lambda f: f[0]["readers"].append(f[0]["readers"][0]), "federation[0].readers", "listed twice"),
    ("extra-key", lambda f: f[0].__setitem__("role", "OWNER"), "federation[0]", "Additional properties"),
]


def test_a_name_other_clouds_cannot_hold_is_refused(project_copy):
    path = project_copy / "domains" / "marketing" / "domain.yml"
    data = yaml.safe_load(path.read_text())
    [pi] = [i for i, p in enumerate(data["products"]) if p.get("federation")]
    data["products"][pi]["name"] += "$X"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputProblems) as info:
        load_mesh(project_copy)
    assert any(f"products[{pi}].federation[0]: " in ln and "contains '$'" in ln for ln in info.value.problems)


@pytest.mark.parametrize(("case", "change", "where", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_declarations_fail_in_the_front_door(project_copy, case, change, where, message):
    _edit(project_copy, change)
    with pytest.raises(InputProblems) as info:
        load_mesh(project_copy)
    [line] = [ln for ln in info.value.problems if "federation" in ln]
    file, field, text = line.split(": ", 2)
    assert file == "domains/marketing/domain.yml"
    assert field.startswith("products[") and field.endswith(where), field
    assert message in text


def test_a_bad_declaration_exits_2_and_names_the_field(project_copy, capsys):
    _edit(project_copy, lambda f: f[0]["readers"].__setitem__(0, "grp:x"))
    assert run_app(["lineage", "-p", str(project_copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert ".federation[0].readers[0]: 'grp:x' is not a bigquery reader principal" in err


# --- the one renderer -------------------------------------------------------------------------


@pytest.mark.parametrize("key_target", sorted(DECLARED), ids=lambda kt: f"{kt[0]}-{kt[1]}")
def test_the_view_is_the_contract_in_the_target_dialect(mesh, key_target):
    key, target = key_target
    entry = DECLARED[key_target]
    p = mesh.product(key)
    [f] = [f for f in p.federation if f.target == target]
    view = fed.render_view(mesh.domain(p.domain), p, f, mesh.contracts[p.contract][1])
    dialect = {"bigquery": "bigquery", "synapse": "tsql"}[target]
    tree = sqlglot.parse_one(view.sql, read=dialect)
    assert isinstance(tree, exp.Select) and not tree.find(exp.Command)
    expected = _contract_columns(entry["contract"])
    assert [s.alias_or_name for s in tree.selects] == [n for n, _ in expected]
    assert [(n, nullable) for n, _, nullable in view.columns] == expected
    # Each column is a CAST of the same-named export column, to the contract type in this dialect.
    doc = json.loads((ROOT / entry["contract"]).read_text())
    for sel in tree.selects:
        assert isinstance(sel.this, exp.Cast) and sel.this.this.name == sel.alias_or_name
        declared = doc["properties"][sel.alias_or_name].get("x-snowflake-type")
        if declared:  # e.g. NUMBER(14,2): T-SQL keeps the precision, BigQuery spells NUMERIC
            want = "NUMERIC" if target == "bigquery" else declared.replace("NUMBER", "NUMERIC").replace(",", ", ")
            assert sel.this.to.sql(dialect) == want
    if target == "synapse":
        # Snowflake's unbounded VARCHAR must not become T-SQL's 30-character VARCHAR.
        strings = [n for n, p in doc["properties"].items() if p["type"] in ("string", ["string", "null"])
                   and "format" not in p]
        assert strings and all(f"CAST([{n}] AS VARCHAR(MAX))" in view.sql for n in strings)
        assert "FROM [dbo].[" in view.sql
    else:
        assert f"FROM `{entry['project']}`.`" in view.sql


def test_the_export_reads_the_published_view_and_writes_parquet(mesh):
    for key, target in DECLARED:
        p = mesh.product(key)
        d = mesh.domain(p.domain)
        [f] = [f for f in p.federation if f.target == target]
        copy = fed.export_copy(d, p, f, mesh.contracts[p.contract][1])
        tree = sqlglot.parse_one(copy, read="snowflake")
        assert isinstance(tree, exp.Copy)
        # The stage sits on <bucket>/<domain>/: under it, one file per product and major version.
        major = Path(DECLARED[(key, target)]["contract"]).stem  # v1
        assert f'@"{d.database}"."PRODUCTS"."{fed.EXPORT_STAGES[target]}"/{p.name.lower()}/{major}/data.parquet ' in copy
        assert fed.export_prefix(p) == f"{key.split('.')[0].lower()}/{p.name.lower()}/{major}/"
        inner = tree.find(exp.Select)
        assert inner.find(exp.Table).sql("snowflake") == f'"{d.database}"."PRODUCTS"."{p.view}"'
        assert [c.alias_or_name for c in inner.selects] == [n for n, _ in _contract_columns(p.contract)]
        # Protected columns leave Snowflake as NULL: the copy's readers are outside its masking.
        doc = json.loads((ROOT / p.contract).read_text())
        for c in inner.selects:
            protected = str(doc["properties"][c.alias_or_name].get("x-classification", "")) in (
                "confidential", "restricted", "pii")
            assert isinstance(c, exp.Alias) and isinstance(c.this.this, exp.Null) if protected else \
                isinstance(c, exp.Column), c.sql()
        assert "TYPE = PARQUET" in copy and "HEADER = TRUE" in copy
        assert "OVERWRITE = TRUE" in copy and "SINGLE = TRUE" in copy  # one snapshot, replaced whole


def test_the_gate_catches_a_view_that_drifts_from_its_contract(mesh):
    views = fed.federated_views(mesh)
    assert views and fed.mesh_problems(mesh) == []
    for view in views:
        contract = mesh.contracts[mesh.product(view.product).contract][1]
        assert fed.view_problems(view, contract) == []
        dropped = view.sql.replace(view.sql.splitlines()[1], "  1 AS ONE,", 1)  # first column replaced
        assert "selects" in fed.view_problems(dataclasses.replace(view, sql=dropped), contract)[0]
        opaque = dataclasses.replace(view, sql="GRANT SELECT ON x TO y")
        assert fed.view_problems(opaque, contract), "a statement sqlglot cannot read as a SELECT fails"


def test_contract_check_refuses_a_drifting_view_before_any_server_starts(monkeypatch, capsys):
    import snowmesh.target

    def tripwire(*_a, **_k):
        raise AssertionError("the gate opened an account")

    monkeypatch.setattr(snowmesh.target, "open_target", tripwire)
    real = fed.snowflake_select  # a renderer bug: the view loses the contract's first column
    monkeypatch.setattr(fed, "snowflake_select",
                        lambda c, source: real(dataclasses.replace(c, columns=c.columns[1:]), source))
    assert run_app(["contract", "check", "-p", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert "federated" in err and "but the contract has" in err and "Traceback" not in err


# --- generated variables ----------------------------------------------------------------------


def test_tfvars_federation_holds_exactly_the_declarations(mesh, tfvars):
    fedvars = tfvars["federation"]
    assert fedvars == render_tfvars(mesh)["federation"]
    targets = {t: entries for t, entries in fedvars.items() if t != "exports"}  # exports: test_federation_export
    assert {(k, t) for t, entries in targets.items() for k in entries} == set(DECLARED)
    for (key, target), entry in DECLARED.items():
        v = fedvars[target][key]
        assert v["readers"] == sorted(entry["readers"])
        assert [c["name"] for c in v["columns"]] == [n for n, _ in _contract_columns(entry["contract"])]
        if target == "bigquery":
            kinds = {"group": v["group_readers"], "user": v["user_readers"]}
            split = sorted(f"{k}:{e}" for k, es in kinds.items() for e in es)
            # service accounts are userByEmail entries: compare on the e-mail addresses
            assert sorted(r.split(":", 1)[1] for r in entry["readers"]) == sorted(s.split(":", 1)[1] for s in split)
            assert sorted(r.split(":", 1)[1] for r in entry["readers"] if r.startswith("group:")) == v["group_readers"]
            assert v["labels"] == {"domain": key.split(".")[0].lower(), "owner": v["labels"]["owner"],
                                   "data-product": key.split(".")[1].lower()}
            assert [f["name"] for f in json.loads(v["schema_json"])] == [c["name"] for c in v["columns"]]
        else:
            # The external table's columns are the contract's; the view is the rendered one.
            names = [n for n, _ in _contract_columns(entry["contract"])]
            assert re.findall(r"^  \[(\w+)\] ", v["setup_sql"], re.MULTILINE) == names
            assert v["setup_sql"].rstrip().endswith(v["view_sql"] + ";")
            assert set(v["role_assignments"]) == set(entry["readers"])
            for reader, ra in v["role_assignments"].items():
                kind, oid = reader.split(":")
                assert ra == {"principal_type": {"user": "User", "group": "Group",
                                                 "servicePrincipal": "ServicePrincipal"}[kind],
                              "principal_id": oid.lower()}
            granted = [ln.split("TO [")[1].rstrip("];") for ln in v["reader_sql"].splitlines() if ln.startswith("GRANT")]
            assert sorted(g.split("-", 1)[1] for g in granted) == sorted(r.split(":")[1].lower() for r in entry["readers"])


def test_a_mesh_without_declarations_federates_nothing(mesh):
    plain = dataclasses.replace(mesh, domains=tuple(
        dataclasses.replace(d, products=tuple(dataclasses.replace(p, federation=()) for p in d.products))
        for d in mesh.domains))
    assert render_tfvars(plain)["federation"] == {"bigquery": {}, "synapse": {}, "exports": {}}
    assert build_lineage(plain).federation == {}


# --- Terraform, read with python-hcl2 -----------------------------------------------------------


def test_every_declared_target_has_its_module_instance(tfvars):
    modules = _blocks(_hcl(TF / "federation.tf"), "module")
    assert modules["gcp_bigquery_product"]["for_each"] == "${var.federation.bigquery}"
    assert modules["azure_synapse_product"]["for_each"] == "${var.federation.synapse}"
    for name, call in modules.items():
        assert call["product"] == "${each.value}"
        assert (TF / call["source"]).is_dir(), name
    # for_each over the generated map: one instance per declaring product and target.
    instances = {("gcp_bigquery_product", k) for k in tfvars["federation"]["bigquery"]}
    instances |= {("azure_synapse_product", k) for k in tfvars["federation"]["synapse"]}
    target_module = {"bigquery": "gcp_bigquery_product", "synapse": "azure_synapse_product"}
    assert instances == {(target_module[t], k) for k, t in DECLARED}


def test_bigquery_access_is_exactly_the_declared_readers():
    res = _module_dir("gcp_bigquery_product")
    dataset = res["google_bigquery_dataset.product"]
    assert not [r for r in res if r.startswith(("google_bigquery_dataset_access", "google_bigquery_dataset_iam",
                                                 "google_bigquery_table_iam", "google_project_iam"))]
    # Authoritative access: the project owners, then one READER entry per declared group / user.
    assert dataset["access"] == [{"role": "OWNER", "special_group": "projectOwners"}]
    assert [list(d) for d in dataset["dynamic"]] == [["access"], ["access"]]
    entries = [d["access"] for d in dataset["dynamic"]]
    assert sorted(e["for_each"] for e in entries) == ["${toset(var.product.group_readers)}",
                                                      "${toset(var.product.user_readers)}"]
    for e in entries:
        [content] = e["content"]
        assert content["role"] == "READER"
        assert set(content) - {"role"} in ({"group_by_email"}, {"user_by_email"})
    assert dataset["labels"] == "${var.product.labels}"
    view = res["google_bigquery_table.view"]
    assert view["view"][0]["query"] == "${var.product.view_sql}"
    ext = res["google_bigquery_table.export"]["external_data_configuration"][0]
    assert ext["source_format"] == "PARQUET" and ext["autodetect"] is False
    # The only storage grant is the connection's read of the export prefix.
    [grant] = [b for r, b in res.items() if r.startswith("google_storage_bucket_iam")]
    assert grant["role"] == "roles/storage.objectViewer" and "export_prefix" in grant["condition"][0]["expression"]


def test_synapse_role_assignments_are_exactly_the_declared_readers():
    res = _module_dir("azure_synapse_product")
    ws = res["azurerm_synapse_workspace.product"]
    assert ws["identity"][0]["type"] == "SystemAssigned"
    assert ws["azuread_authentication_only"] is True
    tags = _hcl(TF / "modules" / "azure_synapse_product" / "main.tf")["locals"][0]["tags"]
    assert set(tags) == {"DataProduct", "Domain", "Owner"}
    [readers] = [b for r, b in res.items() if r.startswith("azurerm_synapse_role_assignment")]
    assert readers["for_each"] == "${var.product.role_assignments}"
    assert readers["principal_id"] == "${each.value.principal_id}"
    # The workspace identity's read of the export is the only other role assignment.
    others = [b for r, b in res.items() if r.startswith("azurerm_role_assignment")]
    assert [o["principal_id"] for o in others] == ["${azurerm_synapse_workspace.product.identity[0].principal_id}"]
    assert [o["role_definition_name"] for o in others] == ["Storage Blob Data Reader"]


def test_providers_are_pinned_and_read_no_credentials():
    versions = _hcl(TF / "versions.tf")["terraform"][0]["required_providers"][0]
    assert versions["google"] == {"source": "hashicorp/google", "version": ">= 7.0, < 8.0"}
    assert versions["azurerm"] == {"source": "hashicorp/azurerm", "version": ">= 4.0, < 5.0"}
    providers = {k: v for p in _hcl(TF / "federation.tf")["provider"] for k, v in p.items()}
    assert providers["google"] == {} and set(providers["azurerm"]) == {"features"}
    secrets = {"password", "sql_administrator_login_password", "client_secret", "access_key", "private_key",
               "credentials", "client_certificate_password"}

    def keys(v: Any) -> set[str]:
        if isinstance(v, dict):
            return set(v) | {k for x in v.values() for k in keys(x)}
        return {k for x in v for k in keys(x)} if isinstance(v, list) else set()

    for f in [TF / "federation.tf", *(TF / "modules").glob("*_product/*.tf")]:
        assert not keys(_hcl(f)) & secrets, f


def test_mesh_lineage_and_product_show_list_the_targets(mesh, capsys):
    g = build_lineage(mesh)
    for key, target in DECLARED:
        p = mesh.product(key)
        view = f"{mesh.domain(p.domain).database}.PRODUCTS.{p.view}"
        assert any(t.startswith(f"{target}:") for t in g.federation[view])
    assert run_app(["lineage", "-p", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert out.count("(federated)") == len(DECLARED)
    key = next(iter(DECLARED))[0]
    assert run_app(["product", "show", key, "-p", str(ROOT), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert sorted(f["target"] for f in shown["federation"]) == sorted(t for k, t in DECLARED if k == key)
    for f in shown["federation"]:
        assert f["readers"] == DECLARED[(key, f["target"])]["readers"]

