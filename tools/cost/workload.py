"""What the pipeline does in a month: the user's inputs, the stated assumptions, and the volumes derived from them.

The model's input is deliberately simple and explicit: ``pairs`` x one ``interval``. Each producer run
(one per schedule period: the bar length for intraday intervals, the spot schedule's rate for ``spot``,
daily for ``1d``) fetches every pair once and publishes one new record per pair.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from cryptostream_model.intervals import DAILY, INTERVALS, SPOT, interval_seconds

MAX_KINESIS_BATCH = 10_000  # Lambda's limit for a Kinesis event source mapping
MAX_FIREHOSE_BUFFER_SECONDS = 900
MAX_ATHENA_GB_PER_DAY = 1_000_000  # a petabyte a day: beyond it the figure is a typo
LAMBDA_MB_PER_VCPU = 1769  # Lambda's CPU share grows with memory: one full vCPU at 1,769 MB


class WorkloadError(ValueError):
    """Bad user input (one-line message)."""


@dataclass(frozen=True, slots=True)
class Workload:
    """The inputs: command-line values over cdk.json's settings."""

    pairs: int
    interval: str
    region: str = "us-east-1"
    shards: int = 0  # 0 = on-demand stream
    consumer_batch: int = 500
    batching_window_seconds: float = 5
    parallelization_factor: int = 1
    athena_gb_per_day: float = 0.1
    athena_queries_per_day: int = 24
    retention_days: int = 30  # DynamoDB TTL on bar history
    stream_retention_hours: int = 24
    firehose_buffer_seconds: int = 900
    firehose_buffer_mib: int = 64
    spot_rate_minutes: int = 1
    schedules: int = 3  # deployed EventBridge schedules: each adds producer metrics and an alarm
    rollup_runs_per_day: float = 24  # cdk.json rollup_schedule (rate(1 hour)): the rollups state machine

    @property
    def on_demand(self) -> bool:
        return self.shards == 0

    def validate(self) -> None:
        """Raise WorkloadError naming the first bad input."""
        checks: tuple[tuple[bool, str], ...] = (
            (self.pairs >= 1, f"--pairs must be at least 1, got {self.pairs}"),
            (self.interval in INTERVALS, f"unknown interval {self.interval!r}; expected one of {', '.join(INTERVALS)}"),
            (self.shards >= 0, f"--shards must be 0 (on-demand) or a shard count, got {self.shards}"),
            (
                1 <= self.consumer_batch <= MAX_KINESIS_BATCH,
                f"--consumer-batch must be 1..{MAX_KINESIS_BATCH}, got {self.consumer_batch}",
            ),
            (self.parallelization_factor >= 1, "consumer parallelization_factor must be at least 1"),
            (
                math.isfinite(self.athena_gb_per_day) and 0 <= self.athena_gb_per_day <= MAX_ATHENA_GB_PER_DAY,
                f"--athena-gb-per-day must be 0..{MAX_ATHENA_GB_PER_DAY:,}, got {self.athena_gb_per_day}",
            ),
            (
                self.athena_queries_per_day >= 1,
                f"--athena-queries-per-day must be >= 1, got {self.athena_queries_per_day}",
            ),
            (self.retention_days >= 1, f"--retention-days must be at least 1, got {self.retention_days}"),
            (self.stream_retention_hours >= 24, "stream_retention_hours must be at least 24"),
            (
                0 <= self.firehose_buffer_seconds <= MAX_FIREHOSE_BUFFER_SECONDS,
                f"firehose_buffer_seconds must be 0..{MAX_FIREHOSE_BUFFER_SECONDS}",
            ),
            (self.firehose_buffer_mib >= 1, "firehose_buffer_mib must be at least 1"),
            (self.spot_rate_minutes >= 1, "the spot schedule's rate_minutes must be at least 1"),
            (self.schedules >= 1, "cdk.json must configure at least one schedule"),
            (
                math.isfinite(self.rollup_runs_per_day) and 0 <= self.rollup_runs_per_day <= 1440,
                "the rollup schedule must run 0..1440 times a day",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise WorkloadError(message)

    def schedule_seconds(self) -> int:
        """Seconds between producer runs of this interval's schedule."""
        if self.interval == SPOT:
            return self.spot_rate_minutes * 60
        if self.interval == DAILY:
            return 86_400
        return interval_seconds(self.interval)


@dataclass(frozen=True, slots=True)
class Assumptions:
    """Figures the model cannot read from cdk.json or a price page; each is printed with the estimate."""

    record_bytes: int = 350  # one stream record (compact JSON, with bid/ask)
    table_item_bytes: int = 450  # the record's attributes + DynamoDB's 100-byte per-item overhead
    on_demand_shards: int = 4  # a new on-demand stream starts with 4 MB/s of write capacity = 4 shards
    stream_readers: int = 2  # the consumer's event source mapping and Firehose each read every record
    producer_memory_mb: int = 256  # infra/ingestion.py
    producer_base_ms: float = 400  # start-up, DynamoDB watermark reads, PutRecords (waiting)
    producer_ms_per_pair: float = 250  # one Alpha Vantage round trip per pair (waiting)
    # the run's own CPU on one vCPU (python -m bench.producer_cpu: 16-23 ms for 3 pairs), scaled by the vCPU share
    # Lambda gives the memory (1,769 MB = 1 vCPU)
    producer_cpu_ms_per_pair: float = 7.7
    consumer_memory_mb: int = 1024  # infra/processing.py
    consumer_base_ms: float = 100
    consumer_ms_per_record: float = 0.5  # decode + validate + BatchWriteItem share (25 items per call)
    log_bytes_per_invocation: int = 2048  # START/END/REPORT + one structured summary line + one EMF blob
    watermark_reads_per_pair: float = 1  # strongly consistent GetItem, item < 4 KB
    lease_writes_per_run: int = 2  # acquire + release of the schedule's run lease
    # EMF metric series (name x dimensions, $0.30 a month each); the other counts are logged, not metrics
    consumer_metrics: int = 0  # consumer/handler.py: none, its counts are in its "batch consumed" log line
    producer_metrics: int = 1  # producer/handler.py: FailedPairs (dimension service only), which an alarm needs
    transform_metrics: int = 0  # archive_transform/handler.py: none (Firehose's own metrics are free)
    # infra/observability.py: stream, consumer errors, queues, producer (one FailedPairs), archive, backfill, rollups
    # and its change log's parked notifications
    alarms: int = 15
    dashboards: int = 1
    kms_keys: int = 1  # infra/encryption.py: one key for the stack; conditions keep principals apart
    xray_extra_sample_rate: float = 0.05  # X-Ray's default rule: first request each second + 5% of the rest
    # (principal, encrypted resource) pairs that fetch data keys; the 8th is S3 sending to the rollups' change log
    kms_key_users: int = 8
    kms_data_key_seconds: int = 300  # services re-request a data key about every 5 minutes
    secrets: int = 1  # the Alpha Vantage key
    warm_environment_hours: float = 2  # a Lambda environment invoked every few minutes lives about this long
    cold_gap_minutes: float = 15  # invoked less often than this, every run is a cold start
    archive_bytes_per_record: int = 60  # Parquet + Snappy column data per quote
    archive_object_overhead_bytes: int = 2048  # Parquet footer and page headers per object
    archive_months: int = 12  # S3 storage is shown as the bill in month 12 (no lifecycle transitions)
    athena_gets_per_object: int = 2  # footer read + column chunk read
    # Materialized rollups (infra/rollups.py, rollup_workflow/): JSON lines, one object per table, pair and month
    rollup_tables: int = 2  # rollup_1h, rollup_1d
    rollup_object_bytes: int = 110_000  # a month of hourly rows for one pair (~744 rows x ~150 B): what queries read
    rollup_gets_per_object: int = 1  # a JSON object is read whole
    rollup_partitions_per_query: int = 400  # ROLLUP_MAX_PARTITIONS_PER_QUERY: (pair, day) partitions per batch
    # Plan, AnythingNew?, Batches (Map) and Commit + one Rollup per batch: state transitions of a run with news
    rollup_transitions_per_run: int = 4
    rollup_memory_mb: int = 512  # infra/rollups.py
    rollup_plan_ms: float = 300  # start-up + the watermarks and pending changes, + per listed page and receive below
    rollup_plan_ms_per_page: float = 100  # one ListObjectsV2 page (1,000 keys) of the rollups prefix
    rollup_plan_ms_per_receive: float = 40  # one ReceiveMessage of 10 change-log messages + its DeleteMessageBatch
    rollup_batch_ms: float = 6000  # both tables' Athena queries (run together, polled) + month objects rewritten
    rollup_commit_ms: float = 300  # the watermarks written
    rollup_log_bytes_per_run: int = 16_384  # the state machine's ALL-level events + 3 function invocations
    transform_memory_mb: int = 256  # infra/archive_transform.py: Firehose's transformation Lambda
    transform_ms_per_invocation: float = 100  # a 1 MiB batch validates in ~0.1 s on one core
    transform_buffer_seconds: int = 300  # infra/archive_transform.py: Firehose invokes it on 300 s or 1 MiB
    transform_buffer_mib: float = 1
    poison_fraction: float = 0.001
    sqs_requests_per_poison: int = 3  # send + receive + delete

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Volumes:
    """Monthly counts derived from a workload; the price-free half of the model."""

    hours: float
    runs: float
    records: float
    records_per_day: float
    shards_in_use: int
    consumer_invocations: float
    records_per_consumer_invocation: float
    producer_seconds_per_run: float
    cold_starts_per_function: float
    firehose_objects: float
    transform_invocations: float
    archive_bytes_per_month: float
    athena_queries: float
    rollup_runs: float  # executions of the rollups state machine
    rollup_batches_per_run: int
    rollup_queries: float  # one Athena query per table per batch
    rollup_objects_listed_per_run: float  # the plan lists the rollups prefix: month objects (month 12), watermarks
    change_log_messages_per_run: float  # S3 notifications the plan drains: one per archive object since the last run
    rollup_archive_objects_per_query: float  # objects of the changed (pair, day) partitions a rollup query reads


def _cold_starts(runs: float, schedule_seconds: float, hours: float, a: Assumptions) -> float:
    if schedule_seconds >= a.cold_gap_minutes * 60:
        return runs
    return min(runs, hours / a.warm_environment_hours)


def _firehose_flushes_per_partition(w: Workload, runs: float, seconds: float, bytes_per_pair: float) -> float:
    """Firehose buffers per partition (pair x day) and flushes on time or size, whichever comes first."""
    period = w.schedule_seconds()
    by_time = (
        runs
        if w.firehose_buffer_seconds == 0 or period >= w.firehose_buffer_seconds
        else (seconds / w.firehose_buffer_seconds)
    )
    by_size = bytes_per_pair / (w.firehose_buffer_mib * 1024 * 1024)
    return max(by_time, by_size)


def _transform_invocations(w: Workload, a: Assumptions, runs: float, seconds: float, records: float) -> float:
    """Firehose calls the transformation when its buffer fills (1 MiB) or ages (60 s), whichever is first."""
    by_time = runs if w.schedule_seconds() >= a.transform_buffer_seconds else seconds / a.transform_buffer_seconds
    by_size = records * a.record_bytes / (a.transform_buffer_mib * 1024 * 1024)
    return max(by_time, by_size)


def derive_volumes(w: Workload, a: Assumptions, hours_per_month: float) -> Volumes:
    seconds = hours_per_month * 3600
    period = w.schedule_seconds()
    runs = seconds / period
    records = runs * w.pairs
    shards = w.shards or a.on_demand_shards
    # Each run publishes one record per pair within a second; the event source mapping then invokes
    # each busy shard (or partition-key lane, with a parallelization factor) once per batch.
    lanes = min(w.pairs, shards * w.parallelization_factor)
    per_lane = math.ceil(w.pairs / lanes)
    invocations_per_run = lanes * math.ceil(per_lane / w.consumer_batch)
    consumer_invocations = runs * invocations_per_run
    objects = w.pairs * _firehose_flushes_per_partition(w, runs, seconds, runs * a.record_bytes)
    rollup_runs = w.rollup_runs_per_day * hours_per_month / 24
    batches = math.ceil(w.pairs / a.rollup_partitions_per_query)  # one changed day per pair per run
    # Each run reads the current day's partitions whole; hourly, they hold (runs + 1) / (2 runs) of a day on average.
    objects_per_pair_day = objects / w.pairs * 24 / hours_per_month
    day_share = (w.rollup_runs_per_day + 1) / (2 * w.rollup_runs_per_day) if w.rollup_runs_per_day else 0.0
    return Volumes(
        hours=hours_per_month,
        runs=runs,
        records=records,
        records_per_day=w.pairs * 86_400 / period,
        shards_in_use=shards,
        consumer_invocations=consumer_invocations,
        records_per_consumer_invocation=records / consumer_invocations,
        producer_seconds_per_run=(
            a.producer_base_ms
            + a.producer_ms_per_pair * w.pairs
            + a.producer_cpu_ms_per_pair * w.pairs * LAMBDA_MB_PER_VCPU / a.producer_memory_mb
        )
        / 1000,
        cold_starts_per_function=_cold_starts(runs, period, hours_per_month, a),
        firehose_objects=objects,
        transform_invocations=_transform_invocations(w, a, runs, seconds, records),
        archive_bytes_per_month=records * a.archive_bytes_per_record + objects * a.archive_object_overhead_bytes,
        athena_queries=w.athena_queries_per_day * hours_per_month / 24,
        rollup_runs=rollup_runs,
        rollup_batches_per_run=batches,
        rollup_queries=rollup_runs * batches * a.rollup_tables,
        rollup_objects_listed_per_run=w.pairs * a.archive_months * a.rollup_tables + a.rollup_tables + 1,
        change_log_messages_per_run=objects / rollup_runs if rollup_runs else 0.0,
        rollup_archive_objects_per_query=min(w.pairs, a.rollup_partitions_per_query) * objects_per_pair_day * day_share,
    )
