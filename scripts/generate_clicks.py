#!/usr/bin/env python
"""Generate Marketing's raw files (CAMPAIGNS, AD_CLICKS, AD_SPEND) as gzip CSV, as its manifest declares.

    python scripts/generate_clicks.py --rows 1000000 --out /tmp/landing
    python scripts/generate_clicks.py --rows 10000 --bucket mesh-marketing-landing \\
        --endpoint-url http://127.0.0.1:5000 --create-bucket
"""

from __future__ import annotations

import sys

from snowmesh.generate.cli import parser, report_lines, run


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    result = run(args, "MARKETING")
    print("\n".join(report_lines(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
