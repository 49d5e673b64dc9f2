"""The cost model against figures computed by hand, line by line, for a small case.

Small case: 2 pairs at 60min in us-east-1, on-demand stream, consumer batch 500, Athena 1 GiB/day in
10 queries, 10-day TTL, Firehose buffer 900 s. A month is 730 h, so 730 producer runs and 1,460 records.
"""

from __future__ import annotations

import pytest

from tools.cost.model import estimate
from tools.cost.prices import load_price_book
from tools.cost.workload import Workload

GIB = 1024**3
RUNS = 730
RECORDS = 1460
QUERIES = 10 * 730 / 24  # 304.1666...
OBJECTS = 1460  # a run every 3600 s >= the 900 s buffer: one object per pair per run
ARCHIVE_BYTES = RECORDS * 60 + OBJECTS * 2048  # 3,077,680 B a month
COLD_STARTS = RUNS  # runs an hour apart: every run is cold
# The rollups state machine, hourly: 1 batch, 2 Athena queries a run; the plan lists the rollups prefix (2 pairs x
# 12 months x 2 tables + 2 watermarks + the pending changes: 51 keys, 1 page) and drains the change log: the run's 2
# archive objects' notifications in 2 ReceiveMessage (the second comes back empty) and 1 DeleteMessageBatch.
ROLLUP_RUNS = 730
ROLLUP_QUERIES = 2 * ROLLUP_RUNS
PAGES = 1
RECEIVES, DELETES = 2, 1
# each query reads the current day of both pairs: 24 objects a day, (24 + 1) / 48 of a day on average
ROLLUP_OBJECTS_PER_QUERY = 2 * 24 * 25 / 48

# (service, item) -> (quantity, monthly USD), each worked out from the published unit prices.
EXPECTED: dict[tuple[str, str], tuple[float, float]] = {
    ("Kinesis Data Streams", "On-demand stream-hours"): (730, 730 * 0.04),
    # 350 B records billed as 1 KB each: 1,460 KB
    ("Kinesis Data Streams", "Data ingested"): (1460 * 1024 / GIB, 1460 * 1024 / GIB * 0.08),
    ("Kinesis Data Streams", "Data retrieved"): (2 * 1460 * 1024 / GIB, 2 * 1460 * 1024 / GIB * 0.04),
    ("Lambda", "Producer requests"): (730, 730 / 1e6 * 0.20),
    # 256 MB x (400 ms + 2 x 250 ms waiting + 2 x 7.7 ms of CPU at 256/1,769 of a vCPU) per run
    ("Lambda", "Producer duration"): (
        730 * 0.25 * (0.9 + 0.0154 * 1769 / 256),
        730 * 0.25 * (0.9 + 0.0154 * 1769 / 256) * 0.0000166667,
    ),
    # 2 pairs land on 2 of the 4 on-demand shards: 2 invocations per run
    ("Lambda", "Consumer requests"): (1460, 1460 / 1e6 * 0.20),
    # 1,024 MB x (1,460 x 100 ms + 1,460 records x 0.5 ms)
    ("Lambda", "Consumer duration"): (146.73, 146.73 * 0.0000166667),
    # runs an hour apart, longer than Firehose's 300 s transform buffer: one transformation call per run
    ("Lambda", "Archive transform requests"): (730, 730 / 1e6 * 0.20),
    # 256 MB x 100 ms per call: 730 x 0.25 GB x 0.1 s = 18.25 GB-s
    ("Lambda", "Archive transform duration"): (18.25, 18.25 * 0.0000166667),
    # plan, one rollup, commit per run
    ("Lambda", "Rollup requests"): (3 * ROLLUP_RUNS, 3 * ROLLUP_RUNS / 1e6 * 0.20),
    # 512 MB x (0.3 s + 1 page x 0.1 s + 2 receives x 0.04 s + 6 s for the batch + 0.3 s) = 0.5 GB x 6.78 s per run
    ("Lambda", "Rollup duration"): (730 * 0.5 * 6.78, 730 * 0.5 * 6.78 * 0.0000166667),
    ("DynamoDB", "Writes: bar items"): (1460, 1460 / 1e6 * 0.625),
    ("DynamoDB", "Writes: LATEST items"): (2920, 2920 / 1e6 * 0.625),
    ("DynamoDB", "Writes: latest-by-interval index"): (1460, 1460 / 1e6 * 0.625),
    # per run: 2 watermarks + lease acquire + lease release
    ("DynamoDB", "Writes: watermarks and run leases"): (2920, 2920 / 1e6 * 0.625),
    ("DynamoDB", "Reads: watermarks"): (1460, 1460 / 1e6 * 0.125),
    # 48 records a day kept 10 days, 450 B each
    ("DynamoDB", "Storage"): (48 * 10 * 450 / GIB, 48 * 10 * 450 / GIB * 0.25),
    ("DynamoDB", "Point-in-time recovery"): (48 * 10 * 450 / GIB, 48 * 10 * 450 / GIB * 0.20),
    # every 350 B record billed as 5 KB
    ("Data Firehose", "Ingestion"): (1460 * 5120 / GIB, 1460 * 5120 / GIB * 0.029),
    ("Data Firehose", "Parquet conversion"): (1460 * 5120 / GIB, 1460 * 5120 / GIB * 0.018),
    ("Data Firehose", "Dynamic partitioning: data"): (1460 * 350 / GIB, 1460 * 350 / GIB * 0.020),
    ("Data Firehose", "Dynamic partitioning: objects"): (1460, 1460 / 1000 * 0.005),
    ("S3", "Archive storage"): (12 * ARCHIVE_BYTES / GIB, 12 * ARCHIVE_BYTES / GIB * 0.023),
    # Firehose objects + 2 per Athena query (queries and rollups) + per rollup run 2 pairs x 2 tables month objects
    # and 2 watermarks
    ("S3", "PUT requests"): (
        1460 + (QUERIES + ROLLUP_QUERIES) * 2 + ROLLUP_RUNS * 6,
        (1460 + (QUERIES + ROLLUP_QUERIES) * 2 + ROLLUP_RUNS * 6) / 1000 * 0.005,
    ),
    # the plan's 18 pages per run + Athena's listing of the 2 partitions of each rollup query
    ("S3", "LIST requests: rollups"): (
        ROLLUP_RUNS * PAGES + ROLLUP_QUERIES * 2, (ROLLUP_RUNS * PAGES + ROLLUP_QUERIES * 2) / 1000 * 0.005
    ),
    # 102.4 MiB per query over 110 KB month objects would be 976, more than the 24 (2 pairs x 12 months) a
    # rollup table holds: each query reads all 24, one GET each
    ("S3", "GET requests: queries"): (QUERIES * 24, QUERIES * 24 / 1000 * 0.0004),
    # 2 GETs per archive object a rollup query reads + per run 4 month objects, 2 watermarks, 2 results
    ("S3", "GET requests: rollups"): (
        ROLLUP_QUERIES * ROLLUP_OBJECTS_PER_QUERY * 2 + ROLLUP_RUNS * 8,
        (ROLLUP_QUERIES * ROLLUP_OBJECTS_PER_QUERY * 2 + ROLLUP_RUNS * 8) / 1000 * 0.0004,
    ),
    # 102.4 MiB per query, billed as 103 MB
    ("Athena", "Data scanned: queries"): (QUERIES * 103 / 1024**2, QUERIES * 103 / 1024**2 * 5.0),
    # a rollup query reads ~52 KB: billed as the 10 MB minimum
    ("Athena", "Data scanned: rollups"): (ROLLUP_QUERIES * 10 / 1024**2, ROLLUP_QUERIES * 10 / 1024**2 * 5.0),
    # Plan, AnythingNew?, Batches, one Rollup, Commit
    ("Step Functions", "Rollups: state transitions"): (ROLLUP_RUNS * 5, ROLLUP_RUNS * 5 / 1000 * 0.025),
    ("Secrets Manager", "Secrets"): (1, 0.40),
    ("Secrets Manager", "GetSecretValue calls"): (COLD_STARTS, COLD_STARTS / 10_000 * 0.05),
    # the producer's FailedPairs, which its alarm reads; every other count is logged
    ("CloudWatch", "EMF custom metrics"): (1, 0.30),
    # infra/observability.py's 15 alarms (the rollups state machine's and its change log's included)
    ("CloudWatch", "Alarms"): (15, 15 * 0.10),
    ("CloudWatch", "Dashboard"): (1, 3.00),
    # producer runs + consumer batches + transformation calls, + 16 KB per rollup run
    ("CloudWatch", "Logs ingestion"): (
        ((730 + 1460 + 730) * 2048 + ROLLUP_RUNS * 16384) / GIB,
        ((730 + 1460 + 730) * 2048 + ROLLUP_RUNS * 16384) / GIB * 0.50,
    ),
    # 0.1% of 1,460 records quarantined: send, receive, delete
    ("SQS", "Quarantine requests"): (4.38, 4.38 / 1e6 * 0.40),
    # the change log: S3 sends one message per archive object; each run receives and deletes them
    ("SQS", "Rollups change log requests"): (
        OBJECTS + ROLLUP_RUNS * (RECEIVES + DELETES), (OBJECTS + ROLLUP_RUNS * (RECEIVES + DELETES)) / 1e6 * 0.40
    ),
    ("KMS", "Customer managed keys"): (1, 1.00),  # the stack's one key
    # 8 principal/resource pairs x 8,760 five-minute periods + 2 per query (and rollup query) + 2 per cold start
    ("KMS", "Requests"): (
        70_080 + (QUERIES + ROLLUP_QUERIES) * 2 + 1460,
        (70_080 + (QUERIES + ROLLUP_QUERIES) * 2 + 1460) / 10_000 * 0.03,
    ),
    # the first 14 million Scheduler invocations a month are $0: producer runs + rollup runs
    ("EventBridge", "Scheduler invocations"): (730 + ROLLUP_RUNS, 0.0),
    # per run: the producer's trace + the first consumer batch + 5% of the other one + the transformation call;
    # one per rollup run
    ("X-Ray", "Traces recorded"): (730 * 3.05 + ROLLUP_RUNS, (730 * 3.05 + ROLLUP_RUNS) / 1e6 * 5.0),
}


@pytest.fixture(scope="module")
def book():
    return load_price_book()


@pytest.fixture(scope="module")
def small(book):
    workload = Workload(
        pairs=2,
        interval="60min",
        athena_gb_per_day=1.0,
        athena_queries_per_day=10,
        retention_days=10,
    )
    return estimate(workload, book)


def test_volumes_of_the_small_case(small):
    assert small.volumes.runs == pytest.approx(RUNS)
    assert small.volumes.records == pytest.approx(RECORDS)
    assert small.volumes.consumer_invocations == pytest.approx(1460)
    assert small.volumes.firehose_objects == pytest.approx(OBJECTS)


@pytest.mark.parametrize(("key", "expected"), EXPECTED.items(), ids=[f"{s}: {i}" for s, i in EXPECTED])
def test_each_line_item_matches_the_hand_computation(small, key, expected):
    item = small.item(*key)
    quantity, monthly = expected
    assert item.quantity == pytest.approx(quantity, rel=1e-9)
    assert item.monthly_usd == pytest.approx(monthly, rel=1e-9, abs=1e-12)


def test_the_model_prices_exactly_the_hand_computed_items(small):
    assert {(i.service, i.name) for i in small.items()} == set(EXPECTED)


def test_total_is_the_sum_of_the_hand_computed_items(small):
    assert small.total_usd == pytest.approx(sum(monthly for _, monthly in EXPECTED.values()), rel=1e-9)
    # 35.40 fixed (stream-hours, secret, metric, 15 alarms, dashboard, key) + ~0.73 the rest (rollups ~0.29)
    assert small.total_usd == pytest.approx(36.13, abs=0.01)


def test_firehose_bills_each_record_as_five_kilobytes(small):
    ingestion = small.item("Data Firehose", "Ingestion")
    actual_gb = small.volumes.records * 350 / GIB
    assert ingestion.quantity / actual_gb == pytest.approx(5120 / 350)
    assert "14.6x" in ingestion.note


def test_consumer_invocations_follow_the_batch_size(book):
    # 1,000 pairs on 4 on-demand shards: 250 records per shard per run, batch 100 -> 3 invocations each
    report = estimate(Workload(pairs=1000, interval="5min", consumer_batch=100), book)
    assert report.volumes.consumer_invocations == pytest.approx(8760 * 4 * 3)
    # the same load in batches of 500 needs one invocation per shard per run
    report = estimate(Workload(pairs=1000, interval="5min", consumer_batch=500), book)
    assert report.volumes.consumer_invocations == pytest.approx(8760 * 4)


def test_firehose_flushes_on_its_buffer_when_runs_are_more_frequent(book):
    # runs every 60 s, buffer 300 s: one object per pair per 300 s = 8,760 per pair
    report = estimate(Workload(pairs=3, interval="1min", firehose_buffer_seconds=300), book)
    assert report.volumes.firehose_objects == pytest.approx(3 * 8760)
    longer = estimate(Workload(pairs=3, interval="1min"), book)  # the default, cdk.json's: 900 s
    assert longer.volumes.firehose_objects == pytest.approx(3 * 2920)


def test_spot_uses_the_spot_schedules_rate(book):
    every_two_minutes = estimate(Workload(pairs=4, interval="spot", spot_rate_minutes=2), book)
    assert every_two_minutes.volumes.runs == pytest.approx(730 * 30)
    daily = estimate(Workload(pairs=4, interval="1d"), book)
    assert daily.volumes.runs == pytest.approx(730 / 24)


def test_athena_queries_below_ten_megabytes_are_billed_ten(book):
    report = estimate(Workload(pairs=2, interval="60min", athena_gb_per_day=0.001, athena_queries_per_day=100), book)
    assert report.item("Athena", "Data scanned: queries").quantity == pytest.approx(100 * 730 / 24 * 10 / 1024**2)


def test_no_athena_scans_means_no_athena_cost(book):
    report = estimate(Workload(pairs=2, interval="60min", athena_gb_per_day=0), book)
    assert report.item("Athena", "Data scanned: queries").monthly_usd == 0
    assert report.item("S3", "GET requests: queries").quantity == 0
