"""Marketing's Snowpark handlers (run inside Snowflake as stored procedures)."""
