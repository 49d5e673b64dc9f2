"""End to end on the embedded stack: producer -> Kinesis -> consumer -> DynamoDB, archive -> S3.

Every quote must end in DynamoDB (or quarantine, for poison) and in the archive; a restart of a
durable stack resumes from its checkpoints and loses nothing.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from cli.demo import count_bars, stream_market
from cryptostream_model.keys import table_pk
from cryptostream_model.record import format_ts
from cryptostream_model.serving import get_latest, query_bars
from local.poison import poison_records
from local.stack import LocalStack

pytestmark = pytest.mark.e2e

PAIRS = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "LTC-USD"]
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def archived_keys(stack: LocalStack) -> list[tuple[str, str, str]]:
    """(symbol, market, ts) of every archived row, read back from the Parquet objects in S3."""
    s3, bucket = stack.clients.s3, stack.config.archive_bucket_name
    rows: list[tuple[str, str, str]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="quotes/"):
        for obj in page.get("Contents", []):
            parts = dict(p.split("=", 1) for p in obj["Key"].split("/")[1:-1])
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
            assert all(format_ts(ts)[:10] == parts["dt"] for ts in table.column("ts").to_pylist())
            rows += [(parts["symbol"], parts["market"], format_ts(ts)) for ts in table.column("ts").to_pylist()]
    return rows


def quarantined(stack: LocalStack) -> int:
    url = stack.resources.quarantine_queue_url
    attributes = stack.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_ten_thousand_quotes_reach_the_table_quarantine_and_archive(tmp_path):
    start = END - timedelta(hours=24)
    with LocalStack(tmp_path, seed=7, archive_buffer_seconds=3600) as stack:
        streamed = stream_market(stack, PAIRS, "1min", start, END, steps=6)
        poison = poison_records(8, "1min", END)
        stack.clients.kinesis.put_records(
            StreamName=stack.config.stream_name, Records=[{"Data": d, "PartitionKey": "BTC-USD"} for d in poison]
        )
        stack.pump(flush=True)

        # bars are stamped with their open time and served once closed: [start, END)
        expected_ts = {format_ts(start + timedelta(minutes=m)) for m in range(24 * 60)}
        assert streamed.failed_pairs == {}
        assert streamed.published == len(PAIRS) * len(expected_ts) >= 10_000
        assert count_bars(stack, PAIRS, "1min") == streamed.published
        archive = archived_keys(stack)
        for pair in PAIRS:
            symbol, market = pair.split("-")
            bars = query_bars(
                stack.clients.dynamodb, stack.config.table_name, pair, "1min", format_ts(start), format_ts(END)
            )
            assert {b["ts"] for b in bars} == expected_ts, pair
            latest = get_latest(stack.clients.dynamodb, stack.config.table_name, pair, "1min")
            assert latest["ts"] == max(expected_ts) and latest["close"] == bars[-1]["close"]
            assert {ts for s, m, ts in archive if (s, m) == (symbol, market)} >= expected_ts, pair
        # poison: all of it quarantined with a reason, none of it in the table
        assert stack.consumer_totals.quarantined == 8 == quarantined(stack)
        assert stack.consumer_totals.records == streamed.published + 8
        # the archive holds every valid record exactly once, and no poison
        assert len(archive) == len(set(archive)) == streamed.published


def test_restarted_stack_resumes_from_checkpoints_without_loss(tmp_path):
    start = END - timedelta(hours=2)
    middle = END - timedelta(hours=1)
    with LocalStack(tmp_path, seed=3, archive_buffer_seconds=3600) as stack:
        first = stream_market(stack, PAIRS[:3], "1min", start, middle, steps=2)
        # produced but not yet consumed nor archived when the stack goes down
        stack.simulator.clock.set(END)
        stack.produce({"mode": "incremental", "interval": "1min", "pairs": PAIRS[:3]})
        consumed_before = stack.consumer_totals.records

    with LocalStack(tmp_path, seed=3, archive_buffer_seconds=3600) as again:
        assert again.replayed_requests == 0 and (tmp_path / "snapshot.pickle").exists()  # a clean stop snapshots
        again.pump(flush=True)
        # the consumer saw only what the first stack had not delivered: checkpoints held
        assert again.consumer_totals.records == 3 * 60
        assert consumed_before == first.published
        assert count_bars(again, PAIRS[:3], "1min") == 3 * 120
        archive = archived_keys(again)
        assert len(archive) == len(set(archive)) == 3 * 120
        # watermarks survived: an incremental run now finds nothing new
        again.simulator.clock.set(END)
        summary = again.produce({"mode": "incremental", "interval": "1min", "pairs": PAIRS[:3]})
        assert summary["published"] == 0
        item = again.clients.dynamodb.get_item(
            TableName=again.config.table_name, Key={"pk": {"S": table_pk("BTC-USD", "1min")}, "sk": {"S": "WATERMARK"}}
        )["Item"]
        assert item["ts"]["S"] == format_ts(END - timedelta(minutes=1)) or item["ts"]["S"] == format_ts(END)


def test_external_emulator_is_used_unchanged(tmp_path):
    """--endpoint / AWS_ENDPOINT_URL: the same stack on someone else's emulator (here a separate moto)."""
    from local.moto_server import EmbeddedMotoServer

    emulator = EmbeddedMotoServer(None)
    url = emulator.start()
    try:
        with LocalStack(tmp_path, endpoint=url, seed=11) as stack:
            assert stack.endpoint == url
            stack.simulator.clock.set(END)
            assert stack.produce({"mode": "incremental", "interval": "1min", "pairs": ["BTC-USD"]})["published"] == 100
            stack.pump(flush=True)
            assert count_bars(stack, ["BTC-USD"], "1min") == 100
        assert not (tmp_path / "journal.wal").exists()  # the emulator keeps its own state
    finally:
        emulator.stop()
