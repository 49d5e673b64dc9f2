"""Reads one Kinesis stream shard by shard from checkpoints, as Lambda's and Firehose's pollers do."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from local.checkpoints import CheckpointStore


@dataclass
class ShardState:
    shard_id: str
    iterator: str | None = None
    buffer: list[dict[str, Any]] = field(default_factory=list)
    first_buffered_at: float | None = None


class ShardReader:
    """Buffers records per shard; callers take batches and commit them to move the checkpoint."""

    def __init__(self, kinesis: Any, stream_name: str, reader_name: str, checkpoints: CheckpointStore) -> None:
        self._kinesis = kinesis
        self._stream = stream_name
        self.name = reader_name
        self._checkpoints = checkpoints
        self._shards: dict[str, ShardState] = {}

    def shards(self) -> list[ShardState]:
        """Known shards (refreshed each call, so a resharded stream is picked up)."""
        listed = self._kinesis.list_shards(StreamName=self._stream)["Shards"]
        for shard in listed:
            self._shards.setdefault(shard["ShardId"], ShardState(shard["ShardId"]))
        return list(self._shards.values())

    def fill(self, shard: ShardState, want: int) -> int:
        """Read until ``want`` records are buffered or the shard has nothing more; returns records read."""
        read = 0
        while len(shard.buffer) < want:
            if shard.iterator is None:
                shard.iterator = self._iterator(shard.shard_id)
            try:
                response = self._kinesis.get_records(ShardIterator=shard.iterator, Limit=min(10_000, want))
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ExpiredIteratorException":
                    shard.iterator = None
                    continue
                raise
            shard.iterator = response.get("NextShardIterator")
            records = response["Records"]
            if not records:
                break
            if shard.first_buffered_at is None:
                shard.first_buffered_at = time.monotonic()
            shard.buffer.extend(records)
            read += len(records)
        return read

    def commit(self, shard: ShardState, count: int) -> None:
        """The first ``count`` buffered records are done with: drop them and checkpoint the last."""
        if count <= 0:
            return
        last = shard.buffer[count - 1]["SequenceNumber"]
        del shard.buffer[:count]
        shard.first_buffered_at = time.monotonic() if shard.buffer else None
        self._checkpoints.put(self.name, shard.shard_id, last)

    def _iterator(self, shard_id: str) -> str:
        checkpoint = self._checkpoints.get(self.name, shard_id)
        if checkpoint is None:
            kwargs: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            kwargs = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": checkpoint}
        return self._kinesis.get_shard_iterator(StreamName=self._stream, ShardId=shard_id, **kwargs)["ShardIterator"]
