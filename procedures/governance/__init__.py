"""Governance code that runs inside Snowflake (and, unchanged, in the CI gate)."""
