#!/usr/bin/env python
"""Generate Finance's raw files (TRANSACTIONS, FX_RATES) as gzip CSV.

--rows is the number of ad clicks, as for generate_clicks.py (use the same --rows, --seed,
--corrupt-fraction, --days and --end-date there): orders are attributed to those very clicks.

    python scripts/generate_transactions.py --rows 1000000 --out /tmp/landing
    python scripts/generate_transactions.py --rows 10000 --bucket mesh-finance-landing \\
        --endpoint-url http://127.0.0.1:5000 --create-bucket
"""

from __future__ import annotations

import sys

from snowmesh.generate.cli import parser, report_lines, run


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    result = run(args, "FINANCE")
    print("\n".join(report_lines(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
