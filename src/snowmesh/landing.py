"""Land generated source files in each domain's S3 bucket (the data a real upstream would deliver)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from snowmesh.console import Reporter
from snowmesh.generate import LandedFile, generate_domain, land
from snowmesh.manifest.model import Mesh
from snowmesh.target import Target


@dataclass(frozen=True)
class LandOptions:
    clicks: int = 100_000
    seed: int = 42
    corrupt_fraction: float = 0.001
    days: int = 30


def land_mesh(target: Target, mesh: Mesh, options: LandOptions, reporter: Reporter) -> list[LandedFile]:
    landed: list[LandedFile] = []
    for d in mesh.domains:
        if target.is_local:
            # On a real account Terraform owns the buckets; locally moto starts empty.
            existing = {b["Name"] for b in target.s3.list_buckets().get("Buckets", [])}
            if d.bucket not in existing:
                target.s3.create_bucket(Bucket=d.bucket)
        # Every declared source gets sample data: the domain's own generator, else its columns' hints.
        data = generate_domain(mesh, d.name, rows=options.clicks, seed=options.seed,
                               corrupt_fraction=options.corrupt_fraction, days=options.days)
        total = sum(s.rows for s in data.values())
        with reporter.progress(f"{d.name}: generate and land", total=total) as advance:
            landed += land(data, target.s3, d.bucket, progress=advance)
        # One domain's draws at a time: without this the next domain's generation runs while
        # this one's arrays are still referenced, and the peak is the two together.
        del data
        pa.default_memory_pool().release_unused()
    return landed
