"""Domain manifests: the real ones load; bad ones fail with one clear message, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from snowmesh.errors import InputError
from snowmesh.manifest import load_mesh


def test_real_manifests_load(root: Path) -> None:
    mesh = load_mesh(root)
    # Marketing's and Finance's own facts; another domain joining the repository changes none of them.
    assert {"FINANCE", "MARKETING"} <= {d.name for d in mesh.domains}
    mk = mesh.domain("MARKETING")
    assert mk.database == "MARKETING_DB" and mk.warehouse.name == "MARKETING_WH"
    assert mk.warehouse.monthly_credit_quota == 100
    assert {p.name for p in mk.products} == {"CAMPAIGN_PERFORMANCE", "AD_CLICKS"}
    assert mesh.product("CAMPAIGN_PERFORMANCE").view == "CAMPAIGN_PERFORMANCE_V1"
    order = [p.key for p in mesh.products_in_order()]
    assert order.index("FINANCE.CAMPAIGN_ROI") > max(order.index(f"MARKETING.{n}") for n in ("CAMPAIGN_PERFORMANCE", "AD_CLICKS"))


def _edit(project: Path, domain: str, change) -> None:
    path = project / "domains" / domain / "domain.yml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


CASES = {
    "unknown key": (
        "marketing", lambda d: d.update(colour="blue"),
        "domains/marketing/domain.yml: (top level): Additional properties are not allowed ('colour'",
    ),
    "missing field": (
        "finance", lambda d: d["warehouse"].pop("monthly_credit_quota"),
        "domains/finance/domain.yml: warehouse: 'monthly_credit_quota' is a required property",
    ),
    "quoted identifier": (
        "marketing", lambda d: d["sources"][1].update(name='AD"; DROP TABLE X; --'),
        "domains/marketing/domain.yml: sources[1].name: 'AD\"; DROP TABLE X; --' is not a plain Snowflake identifier",
    ),
    "lower-case identifier": (
        "finance", lambda d: d.update(database="finance_db"),
        "domains/finance/domain.yml: database: 'finance_db' is not a plain Snowflake identifier",
    ),
    "reserved word": (
        "marketing", lambda d: d["products"][0].update(name="SELECT"),
        "domains/marketing/domain.yml: products[0].name: 'SELECT' is a reserved word in Snowflake",
    ),
    "unknown consumer": (
        "marketing", lambda d: d["products"][0].update(consumers=["FINANCE", "NO_SUCH_DOMAIN"]),
        "domains/marketing/domain.yml: products[0].consumers[1]: 'NO_SUCH_DOMAIN' is not a domain (known: FINANCE, ",
    ),
    "undeclared consumer": (
        "marketing", lambda d: d["products"][1].update(consumers=[]),
        "domains/finance/domain.yml: products[0].inputs[3]: FINANCE reads MARKETING.AD_CLICKS but is not a declared consumer",
    ),
    "missing contract": (
        "finance", lambda d: d["products"][0].update(contract="contracts/finance/campaign_roi/v9.json"),
        "domains/finance/domain.yml: products[0].contract: contracts/finance/campaign_roi/v9.json does not exist",
    ),
    "dependency cycle": (
        "marketing",
        lambda d: (d["products"][0]["inputs"].append("MARKETING.AD_CLICKS"),
                   d["products"][1]["inputs"].append("MARKETING.CAMPAIGN_PERFORMANCE")),
        "dependency cycle: MARKETING.CAMPAIGN_PERFORMANCE -> MARKETING.AD_CLICKS -> MARKETING.CAMPAIGN_PERFORMANCE",
    ),
    "bad warehouse size": (
        "finance", lambda d: d["warehouse"].update(size="HUGE"),
        "domains/finance/domain.yml: warehouse.size: 'HUGE' is not one of",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_manifest_names_file_and_field(project_copy: Path, case: str) -> None:
    domain, change, expected = CASES[case]
    _edit(project_copy, domain, change)
    with pytest.raises(InputError) as exc:
        load_mesh(project_copy)
    assert expected in exc.value.message


def test_invalid_yaml_reports_the_line(project_copy: Path) -> None:
    path = project_copy / "domains" / "finance" / "domain.yml"
    path.write_text(path.read_text() + "\n  bad: [unclosed\n")
    with pytest.raises(InputError, match=r"domains/finance/domain.yml: line \d+: not valid YAML"):
        load_mesh(project_copy)


def test_cli_bad_manifest_exit_2_without_traceback(project_copy: Path) -> None:
    _edit(project_copy, "marketing", lambda d: d.update(database="MARKETING DB"))
    proc = subprocess.run(
        [sys.executable, "-m", "snowmesh", "plan", "--project", str(project_copy)],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "domains/marketing/domain.yml: database: 'MARKETING DB' is not a plain Snowflake identifier" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # nothing rendered, nothing deployed
