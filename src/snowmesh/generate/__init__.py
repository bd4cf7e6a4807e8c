"""Deterministic, vectorised generators for the raw sources, landed as gzip CSV in S3.

Typical use::

    from snowmesh.generate import generate_marketing, generate_finance, land

    marketing = generate_marketing(clicks=1_000_000, seed=42)          # CAMPAIGNS, AD_CLICKS, AD_SPEND
    finance = generate_finance(clicks=1_000_000, seed=42)              # TRANSACTIONS, FX_RATES
    landed = land(marketing, s3, "mesh-marketing-landing") + land(finance, s3, "mesh-finance-landing")

* ``generate_marketing(clicks, seed=42, corrupt_fraction=0.001, days=30, end_date=date(2026, 11, 1))``
  and ``generate_finance(clicks, seed=42, corrupt_fraction=0.001, days=30, end_date=..., transactions=None)``
  return ``{source name: SourceData}``. ``SourceData.table`` is a pyarrow Table with exactly the
  manifest columns, every value the string written to the file (``""`` = empty field = NULL);
  ``.partitions`` the ``(dt, start, stop)`` row ranges (one file each); ``.corrupt`` the
  ``(row index, reason)`` of the deliberately broken rows. Same arguments -> byte-identical files.
* ``land(files_by_source, s3_client, bucket, progress=None)`` / ``write_local(files_by_source, out_dir)``
  write ``<prefix>/dt=YYYY-MM-DD/part-00000.csv.gz`` files and return one ``LandedFile`` per file:
  its source, key, data-row count and ``(line number, reason)`` of each corrupt row (header = line 1).
  ``summarize(landed)`` totals ``(rows, corrupt)`` per source.
* Corrupt reasons: ``bad_number``, ``missing_key``, ``bad_timestamp`` (see ``corrupt``); a
  non-zero ``corrupt_fraction`` breaks ``ceil(fraction * rows)`` rows of AD_CLICKS, AD_SPEND and
  TRANSACTIONS. CAMPAIGNS and FX_RATES are always clean.
"""

from snowmesh.generate.common import DEFAULT_END_DATE, SOURCES, SourceData
from snowmesh.generate.corrupt import BAD_NUMBER, BAD_TIMESTAMP, MISSING_KEY, REASONS
from snowmesh.generate.finance import generate_finance
from snowmesh.generate.landing import LandedFile, encode, land, summarize, write_local
from snowmesh.generate.marketing import campaign_count, generate_marketing

__all__ = [
    "BAD_NUMBER",
    "BAD_TIMESTAMP",
    "DEFAULT_END_DATE",
    "MISSING_KEY",
    "REASONS",
    "SOURCES",
    "LandedFile",
    "SourceData",
    "campaign_count",
    "encode",
    "generate_finance",
    "generate_marketing",
    "land",
    "summarize",
    "write_local",
]
