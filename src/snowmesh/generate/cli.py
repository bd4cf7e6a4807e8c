"""Shared argument handling for the scripts/generate_*.py scripts (one domain's sample data each).

``parser(description)`` builds the options; ``run(args, domain)`` loads the mesh under
``--project``, generates the domain's sources (generate_domain), writes to ``--out DIR`` or lands
in ``--bucket`` (optionally at ``--endpoint-url``) and returns a ``Run`` with the landed files
and timings. Printing is left to the scripts.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from snowmesh.generate.common import DEFAULT_END_DATE
from snowmesh.generate.domain import generate_domain
from snowmesh.generate.landing import LandedFile, land, write_local


@dataclass(frozen=True)
class Run:
    landed: list[LandedFile]
    generate_seconds: float
    write_seconds: float
    target: str  # "s3://bucket" or the local folder


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--rows", type=int, default=10_000,
        help="the scale, as mesh run --clicks (a source's sample.scale multiplies it; default 10000)",
    )
    p.add_argument("--project", type=Path, default=Path("."), help="project root (holds domains/)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--corrupt-fraction", type=float, default=0.001, help="share of broken rows (default 0.001)"
    )
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--end-date", type=date.fromisoformat, default=DEFAULT_END_DATE, help="YYYY-MM-DD")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="write under this local folder")
    where.add_argument("--bucket", help="land in this S3 bucket")
    p.add_argument("--endpoint-url", help="S3 endpoint, e.g. a moto server at http://127.0.0.1:5000")
    p.add_argument("--create-bucket", action="store_true", help="create --bucket first (local servers)")
    return p


def _s3(endpoint_url: str | None) -> Any:
    import boto3  # only when landing in S3

    if endpoint_url is None:
        return boto3.client("s3")
    # A local emulator accepts any credentials; don't require the caller to have real ones.
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def run(args: argparse.Namespace, domain: str) -> Run:
    from snowmesh.manifest import load_mesh

    mesh = load_mesh(args.project)
    t0 = time.perf_counter()
    data = generate_domain(mesh, domain, rows=args.rows, seed=args.seed, corrupt_fraction=args.corrupt_fraction,
                           days=args.days, end_date=args.end_date)
    t1 = time.perf_counter()
    if args.out is not None:
        landed, target = write_local(data, args.out), str(args.out)
    else:
        s3 = _s3(args.endpoint_url)
        if args.create_bucket:
            s3.create_bucket(Bucket=args.bucket)
        landed, target = land(data, s3, args.bucket), f"s3://{args.bucket}"
    return Run(landed, t1 - t0, time.perf_counter() - t1, target)


def report_lines(result: Any) -> list[str]:
    """What the generator scripts print: rows and corrupt rows per source, then files and timings."""
    from snowmesh.generate.landing import summarize

    lines = [f"{source:<14} {rows:>10,} rows  {corrupt:>6,} corrupt"
             for source, (rows, corrupt) in summarize(result.landed).items()]
    lines.append(f"{len(result.landed)} files -> {result.target}: "
                 f"generate {result.generate_seconds:.2f}s, write {result.write_seconds:.2f}s")
    return lines
