"""Deterministic, vectorised sample data for every declared source, landed as gzip CSV in S3.

Typical use::

    from snowmesh.generate import generate_domain, land

    data = generate_domain(mesh, "SHOP", rows=1_000_000, seed=42)     # {source: SourceData}
    landed = land(data, s3, mesh.domain("SHOP").bucket)

* ``generate_domain(mesh, domain, rows, seed=42, corrupt_fraction=0.001, days=30, end_date=date(2026, 11, 1))``
  returns ``{source name: SourceData}`` for every source the domain declares: from the domain's own
  generator if its manifest names one (``sample: {generator: sample.generate}``, the file
  ``domains/<domain>/sample.py``), else from the declared columns and their ``sample`` hints
  (``declared``). No domain is named here. ``SourceData.table`` is a pyarrow Table with exactly
  the manifest columns, every value the string written to the file (``""`` = empty field = NULL);
  ``.partitions`` the ``(dt, start, stop)`` row ranges (one file each); ``.corrupt`` the
  ``(row index, reason)`` of the deliberately broken rows. Same arguments -> byte-identical files.
* Streaming: ``SourceData.lazy(source, columns, rows, build, partitions, corrupt)`` holds only
  ``build(start, stop) -> pa.Table``; landing builds one partition's table at a time
  (``SourceData.part``), so the text of a scale is never in memory at once. Declared sources are
  lazy; a domain generator may return either kind (``corrupt.apply_part`` / ``corrupt.broken``
  apply a plan to one partition). ``.table`` of a lazy source joins every partition (small scales).
* ``land(files_by_source, s3_client, bucket, progress=None)`` / ``write_local(files_by_source, out_dir)``
  write ``<prefix>/dt=YYYY-MM-DD/part-00000.csv.gz`` files and return one ``LandedFile`` per file:
  its source, key, data-row count and ``(line number, reason)`` of each corrupt row (header = line 1).
  ``summarize(landed)`` totals ``(rows, corrupt)`` per source.
* Corrupt reasons: ``bad_number``, ``missing_key``, ``bad_timestamp`` (see ``corrupt``). Each source
  declares the ones it carries (``sample: {corrupt: [...]}``); a non-zero ``corrupt_fraction``
  breaks ``ceil(fraction * rows)`` rows of each such source; the others are always clean.
"""

from snowmesh.generate.common import DEFAULT_END_DATE, SourceData
from snowmesh.generate.corrupt import BAD_NUMBER, BAD_TIMESTAMP, MISSING_KEY, REASONS
from snowmesh.generate.domain import SampleContext, generate_domain
from snowmesh.generate.landing import LandedFile, encode, land, summarize, write_local

__all__ = [
    "BAD_NUMBER",
    "BAD_TIMESTAMP",
    "DEFAULT_END_DATE",
    "MISSING_KEY",
    "REASONS",
    "LandedFile",
    "SampleContext",
    "SourceData",
    "encode",
    "generate_domain",
    "land",
    "summarize",
    "write_local",
]
