"""``python -m snowmesh`` is the ``mesh`` command."""

from snowmesh.cli.main import entry

entry()
