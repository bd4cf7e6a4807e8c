"""``mesh product export``: a product's data, read through its published view, as a Parquet file.

Any tool reads Parquet (datacontract-cli, DuckDB of any version, pandas, Spark); none but our
own pinned DuckDB reads the local account's database files. The rows come through the same
secure view consumers read (``<DB>.PRODUCTS.<PRODUCT>_V<MAJOR>``, its explicit column list),
on the local account or a real one, streamed in Arrow batches: memory stays one batch, not the
table. The file is written beside its destination and renamed into place, so a failed export
never leaves half a file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from governance.sql import fqn
from snowmesh.errors import InputError, StepFailed


@dataclass(frozen=True)
class Exported:
    view: str
    path: Path
    rows: int
    columns: tuple[str, ...]


def published_view(mesh: Any, product: Any) -> str:
    """``DB.PRODUCTS.<PRODUCT>_V<MAJOR>``: what consumers read."""
    from snowmesh.manifest.model import PRODUCTS

    return f"{mesh.domain(product.domain).database}.{PRODUCTS}.{product.view}"


def _schema_of(cur: Any) -> pa.Schema | None:
    """An empty result gives no batch; its schema still comes from the cursor's description."""
    return None if cur.description is None else pa.schema([(d.name, pa.string()) for d in cur.description])


def export_parquet(target: Any, view: str, path: Path) -> Exported:
    """Write every row of ``view`` to ``path`` (Parquet, zstd); returns what was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        with target.conn.cursor() as cur:
            try:
                cur.execute(f"SELECT * FROM {fqn(*view.split('.'))}")
            except Exception as exc:  # noqa: BLE001 - a missing view is the expected failure here
                raise StepFailed(
                    f"cannot read {view}: {str(exc).splitlines()[0]}",
                    hint="the view exists once the product has been published (`mesh run`)",
                ) from None
            for batch in cur.fetch_arrow_batches():
                if writer is None:
                    writer = pq.ParquetWriter(tmp, batch.schema, compression="zstd")
                writer.write_table(batch)
                rows += batch.num_rows
            if writer is None:  # no rows: an empty file with the view's columns
                schema = _schema_of(cur) or pa.schema([])
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            columns = tuple(writer.schema.names)
        writer.close()
        writer = None
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return Exported(view, path, rows, columns)


def check_format(fmt: str) -> None:
    if fmt != "parquet":
        raise InputError(f"--format must be parquet, got {fmt!r}")
