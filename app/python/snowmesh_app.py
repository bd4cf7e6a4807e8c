"""Handlers of the governance Native App: the mesh's own governance code, on the app's tables.

The setup script imports this file next to python/procedures.zip (the ``snow snowpark build``
output, holding procedures/governance). The procedures are the account-level VALIDATE_PRODUCT
and PRODUCT_HEALTH; only where their state lives differs: the app's own CATALOG schema
instead of GOVERNANCE_DB, since an app writes only inside itself.
"""

from __future__ import annotations

import json
from typing import Any

from governance.product_health import health
from governance.sql import check_ident
from governance.validate import results_query, validate_table, write_audit

DATA_SCHEMA = "CATALOG"
REGISTRY, AUDIT = "DATA_PRODUCTS", "VALIDATION_RESULTS"


def app_table(session: Any, name: str) -> str:
    """``<APP>.CATALOG.<name>``: inside an app's procedure the current database is the app."""
    db = (session.get_current_database() or "").strip('"')
    check_ident(db)  # install the app under a plain upper-case name (snowflake.yml: SNOWMESH_GOVERNANCE)
    return f"{db}.{DATA_SCHEMA}.{name}"


def validate_product(session: Any, contract_json: str, table_name: str, run_id: str) -> Any:
    """CORE.VALIDATE_PRODUCT: needs SELECT on ``table_name`` granted to the application."""
    report = validate_table(session, json.loads(contract_json), table_name, run_id)
    write_audit(session, report, audit_table=app_table(session, AUDIT))
    return session.sql(results_query(report))


def product_health(session: Any) -> Any:
    """CORE.PRODUCT_HEALTH: views the application may not SELECT count as not published."""
    return health(session, registry=app_table(session, REGISTRY), audit=app_table(session, AUDIT))
