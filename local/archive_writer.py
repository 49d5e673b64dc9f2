"""The archive's one Parquet writer: the local Firehose stand-in (``local.archiver``), the test fixtures
(``tests/fixtures/archive``) and the benchmarks write every archive object through it.

Columns and types come from ``cryptostream_model.archive.ARCHIVE_COLUMNS`` (the Glue table's). Two choices
follow what the deployed Firehose writes and what Athena reads through the Glue table:

- Timestamps are naive and hold UTC. The Glue/Athena type is ``timestamp``: Trino's TIMESTAMP, without a
  time zone. Firehose converts to Parquet with Hive's Parquet SerDe, which writes such a column as a UTC
  wall-clock value with no zone annotation (INT96). This writer stores the same values as INT64
  microseconds with ``isAdjustedToUTC=false`` (INT96 is deprecated in Parquet; Athena and DuckDB read
  both as a plain timestamp). Readers that also meet zoned files accept both: ``analytics.engine`` casts
  to TIMESTAMP, ``tools/deployed/hops.py`` treats a naive value as UTC (MiniStack's Firehose writes
  through DuckDB).
- Compression is SNAPPY: what ``infra/archive.py`` configures for the Firehose conversion (also
  Firehose's default) and what the Glue table declares (``parquet.compression``).
"""

from __future__ import annotations

import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cryptostream_model.archive import ARCHIVE_COLUMNS, archive_partition_prefix

COMPRESSION = "snappy"
_ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int32(),
    "string": pa.string(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("us"),  # naive, UTC: see above
}
ARCHIVE_SCHEMA = pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in ARCHIVE_COLUMNS])


def utc_naive(value: datetime | str) -> datetime:
    """An ISO-8601 text (``...Z`` or with an offset) or a datetime as a naive UTC datetime; naive input is UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def archive_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One row of ARCHIVE_SCHEMA from a record in the stream record's shape: timestamps as ISO text or datetime,
    numbers as decimal strings, Decimals or floats; ``v`` defaults to 1, other absent columns are null. An
    archive row passes through unchanged."""
    row: dict[str, Any] = {}
    for name, kind in ARCHIVE_COLUMNS:
        value = record.get(name, 1 if name == "v" else None)
        if value is not None and kind == "timestamp":
            value = utc_naive(value)
        elif value is not None and kind == "double":
            value = float(value)
        row[name] = value
    return row


def archive_table(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Records (see ``archive_row``) as an Arrow table of ARCHIVE_SCHEMA."""
    return pa.Table.from_pylist([archive_row(record) for record in records], schema=ARCHIVE_SCHEMA)


def write_parquet(
    table: pa.Table, where: str | Any, filesystem: pafs.FileSystem | None = None, compression: str = COMPRESSION
) -> None:
    """Write an ARCHIVE_SCHEMA table to a path or a file-like object (``compression`` only for comparisons)."""
    if table.schema != ARCHIVE_SCHEMA:
        raise ValueError(f"not the archive schema: {table.schema}")
    pq.write_table(table, where, filesystem=filesystem, compression=compression)


def parquet_bytes(records: Iterable[Mapping[str, Any]]) -> bytes:
    """One archive object's body."""
    sink = io.BytesIO()
    write_parquet(archive_table(records), sink)
    return sink.getvalue()


def write_archive_objects(
    records: Iterable[Mapping[str, Any]],
    root: str,
    filesystem: pafs.FileSystem | None = None,
    object_name: str | None = None,
) -> list[str]:
    """Write records as one object per (symbol, market, dt) under ``root`` (the directory or bucket holding
    ``quotes/``), where Firehose's dynamic partitioning puts them; returns the object paths. A fresh object
    name per call, as Firehose writes new objects."""
    fs = filesystem or pafs.LocalFileSystem()
    by_partition: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        ts = utc_naive(record["ts"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        by_partition[archive_partition_prefix(str(record["symbol"]), str(record["market"]), ts)].append(record)
    name = object_name or f"quotes-{uuid.uuid4().hex}"
    written = []
    for prefix, partition in sorted(by_partition.items()):
        directory = f"{root.rstrip('/')}/{prefix}"
        fs.create_dir(directory, recursive=True)
        path = f"{directory}{name}.parquet"
        write_parquet(archive_table(partition), path, filesystem=fs)
        written.append(path)
    return written
