"""The local account: a fakesnow server (Snowflake over DuckDB) and a moto S3 server on loopback."""
