"""A rendered statement: the SQL, what it is, and who sends it.

``kind`` tells apply what the local account can run. ``sender`` is the role that must send the
statement on a real account (its owner, for a CREATE; a role with the privilege, for the rest:
docs/security.md, "Owners and senders"); the deploy switches to it with USE ROLE. ``terraform``
marks what Terraform creates on a real account (roles, warehouses, monitors, integrations,
databases, schemas, the role model's grants): the plan renders it, the local account records it,
and a real account's deploy never sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    DATABASE = "database"
    SCHEMA = "schema"
    WAREHOUSE = "warehouse"
    RESOURCE_MONITOR = "resource_monitor"
    ACCOUNT_ROLE = "account_role"
    DATABASE_ROLE = "database_role"
    GRANT = "grant"
    ACCESS_CONTROL = "access_control"
    FILE_FORMAT = "file_format"
    STAGE = "stage"
    TABLE = "table"
    VIEW = "view"
    TASK = "task"
    PROCEDURE = "procedure"
    STORAGE_INTEGRATION = "storage_integration"
    # Governance policies (snowmesh.policies): need Enterprise edition on a real account and
    # cannot run on fakesnow (TAG is ignored, MASKING POLICY raises), so they are recorded.
    TAG = "tag"
    MASKING_POLICY = "masking_policy"
    REVOKE = "revoke"
    DROP = "drop"  # retiring an old product version: DROP VIEW IF EXISTS runs everywhere
    STREAM = "stream"  # a consumer's stream on a producer's PUBLICATIONS view (fakesnow has none)
    INSERT = "insert"  # a publish's PUBLICATIONS_LOG row (the proofs' model of PUBLISH, never deployed)


# What fakesnow can execute (shared/EMULATION.md). Everything else is rendered, checked
# statically and recorded in the local account's catalog -- never pretended.
LOCALLY_EXECUTABLE = frozenset(
    {Kind.DATABASE, Kind.SCHEMA, Kind.FILE_FORMAT, Kind.STAGE, Kind.TABLE, Kind.VIEW, Kind.DROP}
)
# Kinds that need Enterprise edition: applied only where the account supports them.
ENTERPRISE_ONLY = frozenset({Kind.TAG, Kind.MASKING_POLICY})


@dataclass(frozen=True)
class Statement:
    kind: Kind
    object_name: str
    sql: str
    domain: str = ""
    sender: str = ""
    terraform: bool = False

    @property
    def locally_executable(self) -> bool:
        return self.kind in LOCALLY_EXECUTABLE
