"""The task graph: defined once (snowflake.core dagv1), walked locally or deployed as tasks."""
