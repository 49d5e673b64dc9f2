"""A Kinesis event source mapping for in-process handlers: what Lambda's poller does, locally.

moto accepts event source mappings but runs nothing, so this runner polls each shard and calls the
consumer handler with events in Lambda's exact shape, honouring batch size, batching window,
ReportBatchItemFailures (resume from the lowest failed sequence number), bisect on function error,
maximum retries, maximum record age and the on-failure destination, with per-shard checkpoints.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptostream_config.deployment import ConsumerConfig
from local.lambda_context import LocalLambdaContext
from local.shard_reader import ShardReader, ShardState

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]
MAX_BACKOFF_SECONDS = 1.0


def kinesis_event(records: list[dict[str, Any]], shard_id: str, stream_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda delivers for a batch of Kinesis records (GetRecords shape -> Lambda shape)."""
    account = stream_arn.split(":")[4] if stream_arn.count(":") >= 5 else "123456789012"
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record["PartitionKey"],
                    "sequenceNumber": record["SequenceNumber"],
                    "data": base64.b64encode(record["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{record['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{account}:role/cryptostream-consumer",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            }
            for record in records
        ]
    }


@dataclass
class MappingStats:
    invocations: int = 0
    records_delivered: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    retries: int = 0
    bisections: int = 0
    sent_to_on_failure: int = 0
    latencies_ms: list[float] = field(default_factory=list)


class KinesisEventSourceMapping:
    def __init__(
        self,
        reader: ShardReader,
        handler: Handler,
        settings: ConsumerConfig,
        *,
        stream_arn: str,
        region: str,
        function_name: str = "cryptostream-consumer",
        on_failure: Callable[[dict[str, Any]], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._reader = reader
        self.handler = handler  # the function the mapping invokes (swappable, like deploying new code)
        self._settings = settings
        self._stream_arn = stream_arn
        self._region = region
        self._function_name = function_name
        self._on_failure = on_failure
        self._sleep = sleep
        self.stats = MappingStats()

    def poll(self, flush: bool = False) -> int:
        """One pass over every shard; returns records delivered. ``flush`` ignores the batching window."""
        delivered = 0
        for shard in self._reader.shards():
            while True:
                self._reader.fill(shard, self._settings.batch_size)
                if not shard.buffer or not (flush or self._window_closed(shard)):
                    break
                batch = shard.buffer[: self._settings.batch_size]
                self._deliver(shard, batch)
                delivered += len(batch)
        return delivered

    def _window_closed(self, shard: ShardState) -> bool:
        if len(shard.buffer) >= self._settings.batch_size or shard.first_buffered_at is None:
            return True
        return time.monotonic() - shard.first_buffered_at >= self._settings.batching_window_seconds

    def _deliver(self, shard: ShardState, batch: list[dict[str, Any]]) -> None:
        """Invoke until the whole batch is done with (processed, or sent to the on-failure destination)."""
        pending = [batch]
        while pending:
            current = pending.pop(0)
            attempts = 0
            while current:
                current = self._drop_expired(shard, current)
                if not current:
                    break
                failed_from = self._invoke(shard, current)
                if failed_from is None:
                    self._reader.commit(shard, len(current))
                    break
                if failed_from > 0:  # partial success: everything before the failed record is done
                    self._reader.commit(shard, failed_from)
                    current = current[failed_from:]
                elif failed_from < 0 and self._settings.bisect_on_error and len(current) > 1:
                    half = len(current) // 2
                    pending[:0] = [current[:half], current[half:]]
                    self.stats.bisections += 1
                    break  # splitting does not count against the retry quota, as in Lambda
                attempts += 1
                if attempts > self._settings.max_retries:
                    self._send_to_on_failure(shard, current, "RetryAttemptsExhausted", attempts)
                    self._reader.commit(shard, len(current))
                    break
                self.stats.retries += 1
                self._sleep(min(MAX_BACKOFF_SECONDS, 0.02 * 2**attempts))

    def _invoke(self, shard: ShardState, records: list[dict[str, Any]]) -> int | None:
        """None when the batch succeeded; else the index to retry from (-1: the function failed)."""
        event = kinesis_event(records, shard.shard_id, self._stream_arn, self._region)
        context = LocalLambdaContext(self._function_name, region=self._region)
        self.stats.invocations += 1
        try:
            response = self.handler(event, context)
        except Exception as exc:  # a crashing function is exactly what this runner must survive
            self.stats.function_errors += 1
            log.warning("consumer failed on %d records of %s: %s", len(records), shard.shard_id, exc)
            return -1
        failures = (response or {}).get("batchItemFailures") or [] if isinstance(response, dict) else []
        if not failures:
            self._record_latency(records)
            self.stats.records_delivered += len(records)
            return None
        self.stats.partial_failures += 1
        positions = {record["SequenceNumber"]: index for index, record in enumerate(records)}
        failed = [positions.get(str(item.get("itemIdentifier"))) for item in failures if isinstance(item, dict)]
        if any(index is None for index in failed):  # Lambda treats an unknown identifier as a whole-batch failure
            return -1
        first_failed = min(failed)  # type: ignore[type-var]
        self._record_latency(records[:first_failed])
        self.stats.records_delivered += first_failed
        return first_failed if first_failed > 0 else 0

    def _drop_expired(self, shard: ShardState, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        max_age = self._settings.max_record_age_seconds
        if max_age < 0:
            return records
        now = time.time()
        expired = 0
        while expired < len(records) and now - records[expired]["ApproximateArrivalTimestamp"].timestamp() > max_age:
            expired += 1
        if expired:
            self._send_to_on_failure(shard, records[:expired], "RecordAgeExceeded", 0)
            self._reader.commit(shard, expired)
        return records[expired:]

    def _record_latency(self, records: list[dict[str, Any]]) -> None:
        now = time.time()
        self.stats.latencies_ms.extend((now - r["ApproximateArrivalTimestamp"].timestamp()) * 1000 for r in records)

    def _send_to_on_failure(
        self, shard: ShardState, records: list[dict[str, Any]], condition: str, attempts: int
    ) -> None:
        """Lambda sends batch metadata (not the records) to the on-failure destination; so do we. A send
        that fails raises before anything is counted, logged or checkpointed: the batch is delivered again."""
        record = {
            "requestContext": {
                "requestId": LocalLambdaContext(self._function_name).aws_request_id,
                "functionArn": LocalLambdaContext(self._function_name, region=self._region).invoked_function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "KinesisBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": records[0]["SequenceNumber"],
                "endSequenceNumber": records[-1]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": records[0]["ApproximateArrivalTimestamp"].isoformat(),
                "approximateArrivalOfLastRecord": records[-1]["ApproximateArrivalTimestamp"].isoformat(),
                "batchSize": len(records),
                "streamArn": self._stream_arn,
            },
        }
        if self._on_failure is not None:
            self._on_failure(record)
        self.stats.sent_to_on_failure += len(records)
        log.error("%s: %d records of %s sent to the on-failure destination", condition, len(records), shard.shard_id)


def sqs_on_failure(sqs: Any, queue_url: str) -> Callable[[dict[str, Any]], None]:
    """On-failure destination writing Lambda's invocation record to an SQS queue."""

    def send(record: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))

    return send
