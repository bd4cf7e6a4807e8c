"""The build timestamp products stamp into UPDATED_AT."""

from __future__ import annotations

from datetime import UTC, datetime


def build_time() -> datetime:
    """Now, in UTC, as a naive datetime (TIMESTAMP_NTZ holds UTC in this project).

    A literal rather than SYSDATE() in the DataFrame: fakesnow fails (HTTP 500) on the
    CREATE TABLE (cols) AS SELECT * FROM (... SYSDATE() ...) shape that save_as_table
    emits, and a literal is the same on Snowflake: one timestamp for the whole build.
    """
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
