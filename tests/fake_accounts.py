"""A fake Enterprise account for the real-account code paths (policies, dry runs): one place that
knows how Snowflake answers SHOW TAGS and POLICY_REFERENCES. Imported by tests, not a test."""

from __future__ import annotations

from typing import Any

import sqlglot


class EnterpriseAccount:
    """Answers SHOW TAGS and POLICY_REFERENCES from fixture rows, in Snowflake's column order, and
    nothing else (every other read returns no row). Everything sent must parse as Snowflake SQL;
    with ``read_only`` anything but SHOW/SELECT fails the test (a dry run must change nothing)."""

    is_local = False

    def __init__(self, tags: list[tuple[str, str, str]], attached: list[tuple[str, str, str]], *,
                 read_only: bool = False, name: str = "prod") -> None:
        self.tags, self.attached, self.read_only, self.name = tags, attached, read_only, name
        self.conn: Any = object()
        self.ran: list[str] = []

    def sql(self, text: str, params: Any = None) -> list[tuple]:
        self.ran.append(text)
        assert sqlglot.parse_one(text, read="snowflake") is not None
        if self.read_only:
            assert text.startswith(("SHOW ", "SELECT ")), f"a dry run sent a change: {text}"
        if text.startswith("SHOW TAGS LIKE"):  # created_on, name, database_name, schema_name, owner, ...
            like = text.split("'")[1]
            return [("2030-01-01", n, db, s, "SYSADMIN", "", "[]", "ROLE") for db, s, n in self.tags if n == like]
        if "POLICY_REFERENCES" in text:  # POLICY_DB, POLICY_SCHEMA, POLICY_NAME
            return list(self.attached)
        return []
