"""Arrow schema of the archive files and a small writer in the archive's exact layout.

The schema is derived from ``cryptostream_model.archive.ARCHIVE_COLUMNS``; the writer serves test fixtures
and the benchmark (the pipeline's own archiver lives with the local stack and follows the same schema).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cryptostream_model.archive import ARCHIVE_COLUMNS, archive_partition_prefix

_ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int32(),
    "string": pa.string(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
ARCHIVE_SCHEMA = pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in ARCHIVE_COLUMNS])


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def to_archive_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows in the stream record's shape (``ts`` as ISO text or datetime) as an Arrow table of ARCHIVE_SCHEMA."""
    columns: dict[str, list[Any]] = {name: [] for name in ARCHIVE_SCHEMA.names}
    for row in rows:
        for name, kind in ARCHIVE_COLUMNS:
            value = row.get(name, 1 if name == "v" else None)
            if value is not None and kind == "timestamp":
                value = _as_datetime(value)
            elif value is not None and kind == "double":
                value = float(value)
            columns[name].append(value)
    return pa.table(columns, schema=ARCHIVE_SCHEMA)


def write_archive_objects(
    rows: Iterable[Mapping[str, Any]],
    root: str,
    filesystem: pafs.FileSystem | None = None,
    object_name: str | None = None,
) -> list[str]:
    """Write rows as one Parquet object per (symbol, market, dt) under ``root`` (the directory holding
    ``quotes/``); returns the object paths. A fresh object name per call, as Firehose writes new objects."""
    fs = filesystem or pafs.LocalFileSystem()
    by_partition: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        ts = _as_datetime(row["ts"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        by_partition[archive_partition_prefix(str(row["symbol"]), str(row["market"]), ts)].append(row)
    name = object_name or f"quotes-{uuid.uuid4().hex}"
    written = []
    for prefix, partition_rows in sorted(by_partition.items()):
        directory = f"{root.rstrip('/')}/{prefix}"
        fs.create_dir(directory, recursive=True)
        path = f"{directory}{name}.parquet"
        pq.write_table(to_archive_table(partition_rows), path, filesystem=fs, compression="zstd")
        written.append(path)
    return written
