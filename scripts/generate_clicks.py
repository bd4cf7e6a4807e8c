#!/usr/bin/env python
"""Generate Marketing's raw files (CAMPAIGNS, AD_CLICKS, AD_SPEND) as gzip CSV.

    python scripts/generate_clicks.py --rows 1000000 --out /tmp/landing
    python scripts/generate_clicks.py --rows 10000 --bucket mesh-marketing-landing \\
        --endpoint-url http://127.0.0.1:5000 --create-bucket
"""

from __future__ import annotations

import sys

from snowmesh.generate import generate_marketing, summarize
from snowmesh.generate.cli import parser, run


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    result = run(args, generate_marketing)
    for source, (rows, corrupt) in summarize(result.landed).items():
        print(f"{source:<14} {rows:>10,} rows  {corrupt:>6,} corrupt")
    print(
        f"{len(result.landed)} files -> {result.target}: "
        f"generate {result.generate_seconds:.2f}s, write {result.write_seconds:.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
