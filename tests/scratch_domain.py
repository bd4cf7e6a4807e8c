"""A one-source scratch domain deployed onto the session's local account, for ingest tests.

It borrows the first real domain's warehouse and schedule, takes its own database and bucket,
and runs only the plan statements the local account executes for that database.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from snowmesh.deploy.plan import build_plan
from snowmesh.deploy.statements import LOCALLY_EXECUTABLE
from snowmesh.manifest.model import Domain, Mesh, Source


def deploy_scratch_domain(mesh_run: Any, name: str, database: str, bucket: str, source: Source) -> tuple[Any, Domain]:
    t = mesh_run.target
    d = dataclasses.replace(mesh_run.mesh.domains[0], name=name, database=database, bucket=bucket,
                            sources=(source,), products=(), procedures=())
    for s in build_plan(Mesh(mesh_run.mesh.root, (d,)), local=True).all:
        if s.kind in LOCALLY_EXECUTABLE and s.object_name.startswith(database):
            t.sql(s.sql)
    t.s3.create_bucket(Bucket=bucket)
    return t, d
