"""The snowmesh page: session, queries, lineage and cost (streamlit/streamlit_app.py renders them)."""
