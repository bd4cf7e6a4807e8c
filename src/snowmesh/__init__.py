"""snowmesh: a Snowpark-native data mesh on Snowflake and AWS."""

__version__ = "0.1.0"
