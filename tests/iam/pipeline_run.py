"""One recorded run of the three real handlers on the embedded stack, through every AWS code path.

- producer: a backfill with ``WATERMARK_WRITES=per_pair`` (lease put and delete, BatchGetItem of the
  watermarks, the API key secret, PutRecords, one conditional UpdateItem per pair), an incremental run
  with ``WATERMARK_WRITES=transaction`` (TransactWriteItems of Updates), and a run that finds the lease
  held (GetItem of the holder); two runs under a daily request budget of 2 (GetItem of the day's count,
  conditional UpdateItem per request), the second finding it spent;
- consumer: the event source mapping delivers the bars (BatchWriteItem, LATEST in TransactWriteItems of
  conditional Puts) and poison records (SendMessageBatch to the quarantine);
- archive_transform: a Firehose transformation event made of every record on the stream, poison included;
- backfill_workflow: a plan and a report, as the backfill state machine asks for them (no AWS calls);
- rollup_workflow: the rollups state machine's steps over the archive the run wrote (plan, a rollup per
  batch, commit: ListObjectsV2, GetObject, Athena's Start/Get/GetQueryResults, conditional PutObject), a batch
  whose query fails (the other table's query is stopped: StopQueryExecution), then the steps again after more
  bars (a month object read and rewritten, the watermarks read). Each archive object copied into the bucket is
  notified on the change-log queue the template names (an S3 notification's shape, sent by the harness), so the
  plans drain it (ReceiveMessage, DeleteMessageBatch) and keep the pending changes (GetObject, PutObject). Athena
  is ``tests/rollup_workflow/fake_athena.FakeAthena``, which runs the SQL on DuckDB over the stack's bucket.

The handlers run exactly as the local stack runs them; only ``lambda_handler`` is wrapped to attribute
each call to its function (``CallRecorder``).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.iam.recorder import CallRecorder, RecordedCall

ROLLUP_FUNCTION = "rollup_workflow"
FUNCTIONS = ("producer", "consumer", "archive_transform", "backfill_workflow", ROLLUP_FUNCTION)
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INTERVAL = "5min"
POISON = 4


@dataclass
class RecordedRun:
    calls: list[RecordedCall]
    unattributed: int
    summaries: dict[str, Any] = field(default_factory=dict)

    def of(self, function: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.function == function]


@contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _attributed_producer(recorder: CallRecorder) -> Iterator[None]:
    """The stack imports the producer's ``lambda_handler`` from its module on every run: swap in an
    attributing wrapper meanwhile. (The consumer's handler is the stack's event source mapping's: it is
    wrapped there, once the stack has started.)"""
    import producer.handler

    original = producer.handler.lambda_handler
    producer.handler.lambda_handler = recorder.attributed_handler("producer", original)
    try:
        yield
    finally:
        producer.handler.lambda_handler = original


def _fresh_clients() -> None:
    """Warm clients (and the secret Powertools caches) from an earlier stack must not hide a call."""
    from cryptostream_runtime import clients

    clients.clear()


def _stream_records(stack: Any) -> list[dict[str, Any]]:
    kinesis, name = stack.clients.kinesis, stack.config.stream_name
    records: list[dict[str, Any]] = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += [{**record, "ShardId": shard["ShardId"]} for record in response["Records"]]
            iterator = response.get("NextShardIterator") if response["Records"] else None
    return records


def firehose_event(stack: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Firehose's transformation event for Kinesis-sourced records (tests/fixtures/firehose)."""
    region = stack.config.region
    event_records = []
    for record in records:
        arrival = int(record["ApproximateArrivalTimestamp"].timestamp() * 1000)
        event_records.append(
            {
                "recordId": record["SequenceNumber"],
                "approximateArrivalTimestamp": arrival,
                "data": base64.b64encode(record["Data"]).decode(),
                "kinesisRecordMetadata": {
                    "sequenceNumber": record["SequenceNumber"],
                    "subsequenceNumber": 0,
                    "partitionKey": record["PartitionKey"],
                    "shardId": record["ShardId"],
                    "approximateArrivalTimestamp": arrival,
                },
            }
        )
    return {
        "invocationId": "recorded-run",
        "deliveryStreamArn": f"arn:aws:firehose:{region}:123456789012:deliverystream/cryptostream-archive",
        "sourceKinesisStreamArn": stack.resources.stream_arn,
        "region": region,
        "records": event_records,
    }


def recorded_pipeline_run() -> RecordedRun:
    from cryptostream_model.keys import LEASE_SK, lease_pk
    from cryptostream_model.record import format_ts
    from local.poison import poison_records
    from local.stack import LocalStack

    recorder = CallRecorder()
    summaries: dict[str, Any] = {}
    _fresh_clients()
    with ExitStack() as stack_of:
        stack_of.enter_context(recorder.installed())
        stack_of.enter_context(_attributed_producer(recorder))
        stack_of.enter_context(_environment(ALPHAVANTAGE_API_KEY=None))  # the key comes from the secret
        stack = stack_of.enter_context(LocalStack(None, seed=8))
        stack.mapping.handler = recorder.attributed_handler("consumer", stack.mapping.handler)
        table, dynamodb = stack.config.table_name, stack.clients.dynamodb

        stack.simulator.clock.set(END - timedelta(minutes=30))
        with _environment(WATERMARK_WRITES="per_pair"):
            summaries["backfill"] = stack.produce(
                {"mode": "full", "interval": INTERVAL, "start": format_ts(END - timedelta(hours=1)),
                 "end": format_ts(END - timedelta(minutes=30)), "backfill": "0123abcd/0000-000"}
            )  # fmt: skip  (a chunk of a planned backfill: its progress marks are table items too)
        stack.pump(flush=True)

        stack.simulator.clock.set(END)
        with _environment(WATERMARK_WRITES="transaction"):
            summaries["incremental"] = stack.produce({"mode": "incremental", "interval": INTERVAL})
            # Another run holds the lease: this one reads who, and stops.
            held = {"pk": {"S": lease_pk(INTERVAL)}, "sk": {"S": LEASE_SK}}
            dynamodb.put_item(
                TableName=table, Item={**held, "owner": {"S": "other-run"}, "lease_until": {"N": "9999999999"}}
            )
            summaries["lease_held"] = stack.produce({"mode": "incremental", "interval": INTERVAL})
            dynamodb.delete_item(TableName=table, Key=held)

        # free_tier: the daily request budget (GetItem of the day's count, a conditional UpdateItem per request);
        # 2 requests for 3 pairs defers the third, and the next run finds the budget spent and is skipped.
        with _environment(ALPHAVANTAGE_DAILY_REQUESTS="2"):
            summaries["budgeted"] = stack.produce({"mode": "incremental", "interval": "spot"})
            summaries["budget_spent"] = stack.produce({"mode": "incremental", "interval": "spot"})

        stack.clients.kinesis.put_records(
            StreamName=stack.config.stream_name,
            Records=[{"Data": data, "PartitionKey": "BTC-USD"} for data in poison_records(POISON, INTERVAL, END)],
        )
        stack.pump(flush=True)
        summaries["consumer"] = stack.consumer_totals

        from archive_transform.handler import lambda_handler as transform

        event = firehose_event(stack, _stream_records(stack))
        with recorder.attributed("archive_transform"):
            summaries["archive_transform"] = transform(event, None)

        from backfill_workflow.handler import lambda_handler as backfill_step

        request = {"pairs": ["BTC-USD", "ETH-USD"], "interval": INTERVAL, "start": "2026-11-19", "end": "2026-11-20"}
        with recorder.attributed("backfill_workflow"):
            plan = backfill_step({"action": "plan", "request": request}, None)
            results = [{"id": chunk["id"], "published": 1, "skipped_seen": 0, "failed_pairs": {}, "deferred_pairs": {}}
                       for chunk in plan["chunks"]]
            summaries["backfill_workflow"] = backfill_step(
                {"action": "report", "backfill_id": plan["backfill_id"], "results": results}, None
            )
        summaries["rollup_workflow"] = _rollup_steps(stack, recorder)
        stack.simulator.clock.set(END + timedelta(minutes=15))
        stack.produce({"mode": "incremental", "interval": INTERVAL})
        stack.pump(flush=True)
        summaries["rollup_workflow_failed"] = _rollup_steps(stack, recorder, fail="HIVE_BAD_DATA: injected")
        stack.simulator.clock.set(END + timedelta(minutes=30))
        stack.produce({"mode": "incremental", "interval": INTERVAL})
        stack.pump(flush=True)
        summaries["rollup_workflow_again"] = _rollup_steps(stack, recorder)
    return RecordedRun(recorder.calls, recorder.unattributed, summaries)


def _rollup_steps(stack: Any, recorder: CallRecorder, fail: str | None = None) -> dict[str, Any]:
    """Plan -> Rollup per batch -> Commit, as the rollups state machine runs them, on the stack's archive bucket;
    with ``fail``, the first query fails with that reason and the step's error is returned instead."""
    from cryptostream_config.deployment import load_deployment_config
    from cryptostream_model.archive import ARCHIVE_PREFIX
    from rollup_workflow.handler import aws, lambda_handler
    from tests.iam.template import Environment
    from tests.rollup_workflow.conftest import notification
    from tests.rollup_workflow.fake_athena import FakeAthena

    deployed = load_deployment_config()  # the names the template gives the bucket, database and workgroup
    env_of_template = Environment()
    # The deployed archive bucket's name carries the account and region (infra/archive.py): the run's archive
    # objects are copied into a bucket of that name, so the calls name what the template declares.
    bucket = f"{deployed.archive_bucket_name}-{env_of_template.account}-{env_of_template.region}"
    database, workgroup = deployed.glue_database, deployed.athena_workgroup
    s3, sqs = stack.clients.s3, stack.clients.sqs
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName=deployed.resource_name("rollup-changes"))["QueueUrl"]  # as the template names it
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.resources.bucket, Prefix=ARCHIVE_PREFIX):
        for item in page.get("Contents", []):
            copied = s3.copy_object(Bucket=bucket, Key=item["Key"], CopySource={"Bucket": stack.resources.bucket,
                                                                                "Key": item["Key"]})
            moment = copied["CopyObjectResult"]["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
            sqs.send_message(QueueUrl=queue, MessageBody=notification(item["Key"], moment, item["Size"],
                                                                      "ObjectCreated:Copy", bucket=bucket))
    env = {"ARCHIVE_BUCKET": bucket, "ARCHIVE_PREFIX": ARCHIVE_PREFIX, "ROLLUPS_PREFIX": "rollups/",
           "GLUE_DATABASE": database, "ARCHIVE_TABLE": "quotes", "ATHENA_WORKGROUP": workgroup,
           "SOURCE_INTERVAL": INTERVAL, "CHANGES_QUEUE_URL": queue, "CHANGES_WAIT_SECONDS": "0"}
    with _environment(**env):
        fake = FakeAthena(stack.clients.s3, {f"{database}.quotes": (bucket, ARCHIVE_PREFIX)}, workgroup=workgroup,
                          output_location="s3://athena-results/results/")
        fake.install(aws().client("athena"))
        if fail:
            fake.fail_next(fail)
        step = recorder.attributed_handler(ROLLUP_FUNCTION, lambda_handler)
        try:
            plan = step({"action": "plan"}, None)
            if fail:
                from rollup_workflow.errors import AthenaQueryFailed

                try:
                    step({"action": "rollup", "batch": plan["batches"][0]}, None)
                except AthenaQueryFailed as exc:
                    return {"error": str(exc), "stopped": fake.calls.count("StopQueryExecution")}
                raise AssertionError("the injected Athena failure did not fail the rollup step")
            results = [step({"action": "rollup", "batch": batch}, None) for batch in plan["batches"]]
            commit = step({"action": "commit", "watermarks": plan["watermarks"], "results": results,
                           "source": plan["source"], "changes": plan["changes"]}, None)
        finally:
            aws().client("athena").meta.events.unregister("before-call.athena.*", fake._answer)
    return {"batches": len(plan["batches"]), "source": plan["source"], "changes": plan["changes"], **commit}
