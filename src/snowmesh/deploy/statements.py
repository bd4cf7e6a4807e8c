"""A rendered statement: the SQL plus what it is, so apply knows what the local account can run."""

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


# What fakesnow can execute (shared/EMULATION.md). Everything else is rendered, checked
# statically and recorded in the local account's catalog -- never pretended.
LOCALLY_EXECUTABLE = frozenset({Kind.DATABASE, Kind.SCHEMA, Kind.FILE_FORMAT, Kind.STAGE, Kind.TABLE, Kind.VIEW})


@dataclass(frozen=True)
class Statement:
    kind: Kind
    object_name: str
    sql: str
    domain: str = ""

    @property
    def locally_executable(self) -> bool:
        return self.kind in LOCALLY_EXECUTABLE
