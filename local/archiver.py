"""The local stand-in for Firehose: reads the stream and archives it to S3 as Parquet.

moto's Firehose never reads a Kinesis source, so this archiver does what the deployed delivery
stream does: buffer by size and time, run each record through the same transformation the
deployed stream's Lambda runs (``archive_transform``: only valid quotes are archived), convert to
Parquet with the Glue table's schema (``local.archive_writer``, the archive's one writer), and write one
object per partition and flush under the keys dynamic partitioning produces
(``quotes/symbol=BTC/market=USD/dt=2026-11-22/...``). Poison goes under
``errors/processing-failed/``, as Firehose's error output does. Object names carry shard and
sequence range, so a retried flush overwrites itself.
"""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archive_transform.transform import judge
from cryptostream_model.archive import ARCHIVE_COLUMNS, ARCHIVE_PREFIX, ERROR_PREFIX
from local.archive_writer import archive_row, parquet_bytes
from local.shard_reader import ShardReader, ShardState


class NotArchivable(ValueError):
    """The transformation step (``archive_transform``) refused the record: poison goes to errors/."""


def to_archive_row(data: bytes) -> tuple[str, dict[str, Any]]:
    """What the deployed Firehose does with one record: the transformation Lambda's verdict, then
    JSON-to-Parquet conversion under the partition keys the Lambda returned."""
    verdict = judge(data)
    if verdict.quote is None:
        raise NotArchivable(verdict.reason or "invalid")
    keys = verdict.partition_keys()
    row = archive_row({name: getattr(verdict.quote, name) for name, _ in ARCHIVE_COLUMNS})
    return f"{ARCHIVE_PREFIX}symbol={keys['symbol']}/market={keys['market']}/dt={keys['dt']}/", row


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
            except NotArchivable as exc:
                failed.append(_error_line(record, str(exc)))
                continue
            partitions[prefix].append(row)
        suffix = f"{self._name}-{shard.shard_id}-{records[0]['SequenceNumber']}-{records[-1]['SequenceNumber']}"
        for prefix, rows in sorted(partitions.items()):
            self._put(f"{prefix}{suffix}.parquet", parquet_bytes(rows))
            self.stats.archived += len(rows)
        if failed:
            day = datetime.now(UTC).strftime("%Y-%m-%d")
            body = "".join(json.dumps(line) + "\n" for line in failed).encode()
            self._put(f"{ERROR_PREFIX}processing-failed/dt={day}/{suffix}.jsonl", body)
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
        "errorCode": "Lambda.ProcessingFailed",
        "errorMessage": message,
        "sequenceNumber": record["SequenceNumber"],
        "rawData": base64.b64encode(record["Data"]).decode("ascii"),
    }
