"""Render the mesh as Snowflake SQL (plan) and apply it to a target."""
