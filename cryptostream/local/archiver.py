"""The local stand-in for Firehose: reads the stream and archives it to S3 as Parquet.

moto's Firehose never reads a Kinesis source, so this archiver does what the deployed delivery
stream does: buffer by size and time, convert JSON records to Parquet with the Glue table's schema
(SNAPPY, Firehose's default), and write one object per partition and flush under the same
Hive-style keys dynamic partitioning produces (``quotes/symbol=BTC/market=USD/dt=2026-11-22/...``).
Records that cannot be converted go under ``errors/format-conversion-failed/``, as Firehose's error
output does. Object names carry shard and sequence range, so a retried flush overwrites itself.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cryptostream.local.shard_reader import ShardReader, ShardState
from cryptostream_model.archive import ARCHIVE_COLUMNS, ERROR_PREFIX, archive_partition_prefix

_ARROW_TYPES = {"int": pa.int32(), "string": pa.string(), "double": pa.float64(), "timestamp": pa.timestamp("us")}
ARCHIVE_SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in ARCHIVE_COLUMNS])


class NotConvertible(ValueError):
    pass


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str) or not value.endswith("Z"):
        raise NotConvertible(f"not an ISO-8601 UTC timestamp: {value!r}")
    return datetime.fromisoformat(value[:-1])


def _double(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise NotConvertible("boolean where a number belongs")
    return float(value)


def to_archive_row(data: bytes) -> tuple[str, dict[str, Any]]:
    """Parse one record as Firehose's conversion would: (partition prefix, row) or NotConvertible."""
    try:
        body = json.loads(data)
        symbol, market, ts = body["symbol"], body["market"], body["ts"]
        if not all(isinstance(v, str) and v for v in (symbol, market, ts)):
            raise NotConvertible("symbol, market and ts must be strings")
        row = {
            "v": int(body.get("v", 1)),
            "source": body.get("source"),
            "interval": body.get("interval"),
            "ts": _timestamp(ts),
            "fetched_at": _timestamp(body["fetched_at"]) if body.get("fetched_at") else None,
        }
        for name in ("open", "high", "low", "close", "volume", "bid", "ask"):
            row[name] = _double(body.get(name))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise NotConvertible(str(exc)[:200]) from None
    return archive_partition_prefix(symbol, market, ts), row


@dataclass
class ArchiverStats:
    records: int = 0
    archived: int = 0
    errors: int = 0
    objects: int = 0
    bytes_written: int = 0
    flushes: int = 0


class LocalArchiver:
    def __init__(
        self,
        reader: ShardReader,
        s3: Any,
        bucket: str,
        *,
        buffer_bytes: int = 8 * 1024 * 1024,
        buffer_seconds: float = 60.0,
        name: str = "cryptostream-archive",
    ) -> None:
        self._reader = reader
        self._s3 = s3
        self._bucket = bucket
        self._buffer_bytes = buffer_bytes
        self._buffer_seconds = buffer_seconds
        self._name = name
        self.stats = ArchiverStats()

    def poll(self, flush: bool = False) -> int:
        """Read what is new; write a shard's buffer when it is full or old enough (or ``flush``)."""
        written = 0
        for shard in self._reader.shards():
            while True:
                self._reader.fill(shard, 10_000)
                if not shard.buffer or not (flush or self._due(shard)):
                    break
                count = self._take(shard)
                self._write(shard, shard.buffer[:count])
                self._reader.commit(shard, count)
                written += count
        return written

    def _due(self, shard: ShardState) -> bool:
        size = sum(len(r["Data"]) for r in shard.buffer)
        age = time.monotonic() - (shard.first_buffered_at or time.monotonic())
        return size >= self._buffer_bytes or age >= self._buffer_seconds

    def _take(self, shard: ShardState) -> int:
        size = 0
        for index, record in enumerate(shard.buffer):
            size += len(record["Data"])
            if size >= self._buffer_bytes:
                return index + 1
        return len(shard.buffer)

    def _write(self, shard: ShardState, records: list[dict[str, Any]]) -> None:
        partitions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        failed: list[dict[str, Any]] = []
        for record in records:
            try:
                prefix, row = to_archive_row(record["Data"])
            except NotConvertible as exc:
                failed.append(_error_line(record, str(exc)))
                continue
            partitions[prefix].append(row)
        suffix = f"{self._name}-{shard.shard_id}-{records[0]['SequenceNumber']}-{records[-1]['SequenceNumber']}"
        for prefix, rows in sorted(partitions.items()):
            sink = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(rows, schema=ARCHIVE_SCHEMA), sink, compression="snappy")
            self._put(f"{prefix}{suffix}.parquet", sink.getvalue())
            self.stats.archived += len(rows)
        if failed:
            day = datetime.now(UTC).strftime("%Y-%m-%d")
            body = "".join(json.dumps(line) + "\n" for line in failed).encode()
            self._put(f"{ERROR_PREFIX}format-conversion-failed/dt={day}/{suffix}.jsonl", body)
            self.stats.errors += len(failed)
        self.stats.records += len(records)
        self.stats.flushes += 1

    def _put(self, key: str, body: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body)
        self.stats.objects += 1
        self.stats.bytes_written += len(body)


def _error_line(record: dict[str, Any], message: str) -> dict[str, Any]:
    """Firehose's error-output record shape (raw data base64-encoded)."""
    return {
        "attemptsMade": 1,
        "arrivalTimestamp": int(record["ApproximateArrivalTimestamp"].timestamp() * 1000),
        "errorCode": "DataFormatConversion.MalformedData",
        "errorMessage": message,
        "sequenceNumber": record["SequenceNumber"],
        "rawData": base64.b64encode(record["Data"]).decode("ascii"),
    }
