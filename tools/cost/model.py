"""The monthly AWS cost of the deployed pipeline: pure arithmetic over a workload and a price book.

One function per service turns the month's volumes into priced line items. Nothing here reads files,
the clock or the network, so every figure can be checked by hand (tests/cost does).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.cost.prices import Price, PriceBook, RegionPrices
from tools.cost.workload import Assumptions, Volumes, Workload, derive_volumes

GIB = 1024**3
TIB = 1024**4
MIB = 1024**2
KINESIS_RECORDS_PER_SHARD_SECOND = 1000
KINESIS_BYTES_PER_SHARD_SECOND = MIB
LAMBDA_MAX_SECONDS = 900
CHANGE_LOG_MESSAGES_PER_PLAN = 20_000  # rollup_workflow.handler: DEFAULT_MAX_RECEIVES receives of 10


@dataclass(frozen=True, slots=True)
class LineItem:
    service: str
    name: str
    quantity: float  # in `unit`, which may differ from the price's unit (e.g. WRU vs 1M WRU)
    unit: str
    price: Price
    note: str = ""

    @property
    def monthly_usd(self) -> float:
        return self.price.cost(self.quantity)


@dataclass(frozen=True, slots=True)
class ServiceCost:
    service: str
    items: tuple[LineItem, ...]

    @property
    def monthly_usd(self) -> float:
        return sum(item.monthly_usd for item in self.items)


@dataclass(frozen=True, slots=True)
class CostReport:
    workload: Workload
    assumptions: Assumptions
    volumes: Volumes
    region_name: str
    prices_taken: str
    services: tuple[ServiceCost, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def total_usd(self) -> float:
        return sum(service.monthly_usd for service in self.services)

    def items(self) -> list[LineItem]:
        return [item for service in self.services for item in service.items]

    def item(self, service: str, name: str) -> LineItem:
        for candidate in self.items():
            if candidate.service == service and candidate.name == name:
                return candidate
        raise KeyError(f"{service}: {name}")

    def unverified_prices(self) -> list[Price]:
        seen: dict[str, Price] = {}
        for item in self.items():
            if not item.price.verified and item.monthly_usd > 0:
                seen.setdefault(item.price.key, item.price)
        return list(seen.values())


@dataclass(frozen=True, slots=True)
class _Context:
    w: Workload
    a: Assumptions
    v: Volumes
    p: RegionPrices
    book: PriceBook


def _rounded(size: float, increment: float) -> float:
    """Billing size of one record: rounded up to the service's increment."""
    return math.ceil(size / increment) * increment


def _kinesis(c: _Context) -> list[LineItem]:
    s = "Kinesis Data Streams"
    if c.w.on_demand:
        billed = _rounded(c.a.record_bytes, c.book.rule("kinesis_on_demand_record_rounding_bytes"))
        gb_in = c.v.records * billed / GIB
        return [
            LineItem(s, "On-demand stream-hours", c.v.hours, "stream-hours", c.p["kinesis.on_demand.stream_hour"]),
            LineItem(
                s,
                "Data ingested",
                gb_in,
                "GB",
                c.p["kinesis.on_demand.data_in_gb"],
                f"{c.a.record_bytes} B records billed as {billed / 1024:.0f} KB",
            ),
            LineItem(
                s,
                "Data retrieved",
                gb_in * c.a.stream_readers,
                "GB",
                c.p["kinesis.on_demand.data_out_gb"],
                f"{c.a.stream_readers} readers: consumer and Firehose",
            ),
        ]
    units_per_record = math.ceil(c.a.record_bytes / c.book.rule("kinesis_put_payload_unit_bytes"))
    return [
        LineItem(
            s,
            "Shard-hours",
            c.w.shards * c.v.hours,
            "shard-hours",
            c.p["kinesis.provisioned.shard_hour"],
            f"{c.w.shards} provisioned shard(s)",
        ),
        LineItem(
            s,
            "PUT payload units",
            c.v.records * units_per_record,
            "units",
            c.p["kinesis.provisioned.put_payload_unit"],
            "one 25 KB unit per record",
        ),
    ]


def change_log_receives(v: Volumes) -> tuple[int, int]:
    """ReceiveMessage (10 messages each, + the empty one that ends the drain) and DeleteMessageBatch calls per run."""
    full = math.ceil(v.change_log_messages_per_run / 10)
    return full + 1, full


def _plan_ms(a: Assumptions, v: Volumes) -> float:
    receives, _ = change_log_receives(v)
    pages = math.ceil(v.rollup_objects_listed_per_run / 1000)
    return a.rollup_plan_ms + a.rollup_plan_ms_per_page * pages + a.rollup_plan_ms_per_receive * receives


def _lambda(c: _Context) -> list[LineItem]:
    s = "Lambda"
    producer_gbs = c.v.runs * c.a.producer_memory_mb / 1024 * c.v.producer_seconds_per_run
    consumer_seconds = (
        c.v.consumer_invocations * c.a.consumer_base_ms + c.v.records * c.a.consumer_ms_per_record
    ) / 1000
    consumer_gbs = consumer_seconds * c.a.consumer_memory_mb / 1024
    transform_gbs = c.v.transform_invocations * c.a.transform_ms_per_invocation / 1000 * c.a.transform_memory_mb / 1024
    rollup_ms_per_run = (
        _plan_ms(c.a, c.v)
        + c.a.rollup_batch_ms * c.v.rollup_batches_per_run
        + c.a.rollup_commit_ms
    )
    rollup_gbs = c.v.rollup_runs * rollup_ms_per_run / 1000 * c.a.rollup_memory_mb / 1024
    return [
        LineItem(s, "Producer requests", c.v.runs, "requests", c.p["lambda.request"], "one per schedule run"),
        LineItem(
            s,
            "Producer duration",
            producer_gbs,
            "GB-s",
            c.p["lambda.gb_second"],
            f"{c.a.producer_memory_mb} MB x {c.v.producer_seconds_per_run:.2f} s per run",
        ),
        LineItem(
            s,
            "Consumer requests",
            c.v.consumer_invocations,
            "requests",
            c.p["lambda.request"],
            f"~{c.v.records_per_consumer_invocation:.0f} records per batch",
        ),
        LineItem(s, "Consumer duration", consumer_gbs, "GB-s", c.p["lambda.gb_second"], f"{c.a.consumer_memory_mb} MB"),
        LineItem(
            s,
            "Archive transform requests",
            c.v.transform_invocations,
            "requests",
            c.p["lambda.request"],
            f"Firehose's buffer: {c.a.transform_buffer_mib:g} MiB or {c.a.transform_buffer_seconds} s",
        ),
        LineItem(
            s,
            "Archive transform duration",
            transform_gbs,
            "GB-s",
            c.p["lambda.gb_second"],
            f"{c.a.transform_memory_mb} MB x {c.a.transform_ms_per_invocation:.0f} ms per call",
        ),
        LineItem(
            s,
            "Rollup requests",
            c.v.rollup_runs * (2 + c.v.rollup_batches_per_run),
            "requests",
            c.p["lambda.request"],
            "plan, one rollup per batch, commit per run",
        ),
        LineItem(
            s,
            "Rollup duration",
            rollup_gbs,
            "GB-s",
            c.p["lambda.gb_second"],
            f"{c.a.rollup_memory_mb} MB x {rollup_ms_per_run / 1000:.1f} s per run (Athena waits included)",
        ),
    ]


def _dynamodb(c: _Context) -> list[LineItem]:
    s = "DynamoDB"
    wru_per_item = math.ceil(c.a.table_item_bytes / 1024)
    latest_items = c.v.runs * c.w.pairs  # one LATEST move per pk per batch; one bar per pair per run
    wru, rru = c.p["dynamodb.write_request_unit"], c.p["dynamodb.read_request_unit"]
    storage_gb = c.v.records_per_day * c.w.retention_days * c.a.table_item_bytes / GIB
    return [
        LineItem(
            s, "Writes: bar items", c.v.records * wru_per_item, "WRU", wru, "BatchWriteItem, 1 WRU per item <= 1 KB"
        ),
        LineItem(
            s, "Writes: LATEST items", latest_items * 2 * wru_per_item, "WRU", wru, "TransactWriteItems: 2 WRU per item"
        ),
        LineItem(
            s,
            "Writes: latest-by-interval index",
            latest_items * wru_per_item,
            "WRU",
            wru,
            "the sparse GSI copies every LATEST write",
        ),
        LineItem(
            s,
            "Writes: watermarks and run leases",
            c.v.runs * (c.w.pairs + c.a.lease_writes_per_run),
            "WRU",
            wru,
            "one watermark per pair + lease acquire/release per run",
        ),
        LineItem(
            s,
            "Reads: watermarks",
            c.v.runs * c.w.pairs * c.a.watermark_reads_per_pair,
            "RRU",
            rru,
            "strongly consistent GetItem per pair per run",
        ),
        LineItem(
            s,
            "Storage",
            storage_gb,
            "GB-month",
            c.p["dynamodb.storage_gb_month"],
            f"{c.w.retention_days}-day TTL window; TTL deletes are free",
        ),
        LineItem(s, "Point-in-time recovery", storage_gb, "GB-month", c.p["dynamodb.pitr_gb_month"]),
    ]


def _firehose(c: _Context) -> list[LineItem]:
    s = "Data Firehose"
    billed = _rounded(c.a.record_bytes, c.book.rule("firehose_record_rounding_bytes"))
    gb_billed = c.v.records * billed / GIB
    inflation = f"{c.a.record_bytes} B records billed as {billed / 1024:.0f} KB ({billed / c.a.record_bytes:.1f}x)"
    return [
        LineItem(s, "Ingestion", gb_billed, "GB", c.p["firehose.ingest_gb"], inflation),
        LineItem(s, "Parquet conversion", gb_billed, "GB", c.p["firehose.format_conversion_gb"], "same 5 KB rounding"),
        LineItem(
            s,
            "Dynamic partitioning: data",
            c.v.records * c.a.record_bytes / GIB,
            "GB",
            c.p["firehose.dynamic_partitioning_gb"],
        ),
        LineItem(
            s,
            "Dynamic partitioning: objects",
            c.v.firehose_objects,
            "objects",
            c.p["firehose.dynamic_partitioning_object"],
            f"one per pair per {c.w.firehose_buffer_seconds} s buffer flush",
        ),
    ]


def _athena_scan_bytes_per_query(c: _Context) -> float:
    return c.w.athena_gb_per_day * GIB / c.w.athena_queries_per_day


def _s3(c: _Context) -> list[LineItem]:
    s = "S3"
    objects_per_month = c.v.firehose_objects
    avg_object = c.v.archive_bytes_per_month / objects_per_month
    queries = c.v.athena_queries if c.w.athena_gb_per_day > 0 else 0.0
    # The dashboards' and analysts' queries read the materialized rollup tables (the named queries do), not the
    # archive: one JSON object per pair and month, read whole.
    rollup_objects = c.w.pairs * c.a.archive_months
    files_per_query = min(_athena_scan_bytes_per_query(c) / c.a.rollup_object_bytes, rollup_objects)
    gets = queries * files_per_query * c.a.rollup_gets_per_object
    runs, tables = c.v.rollup_runs, c.a.rollup_tables
    month_objects = runs * c.w.pairs * tables  # each run rewrites its pairs' current month per table
    rollup_gets = (
        c.v.rollup_queries * c.v.rollup_archive_objects_per_query * c.a.athena_gets_per_object
        + month_objects  # GetObject of the month object it rewrites
        + runs * tables  # the watermarks
        + c.v.rollup_queries  # the query's result
    )
    pages = math.ceil(c.v.rollup_objects_listed_per_run / 1000)
    # The plan lists the rollups prefix (the archive's changes come from the change log, SQS); Athena lists each
    # partition a rollup query reads
    lists = runs * pages + c.v.rollup_queries * min(c.w.pairs, c.a.rollup_partitions_per_query)
    return [
        LineItem(
            s,
            "Archive storage",
            c.v.archive_bytes_per_month * c.a.archive_months / GIB,
            "GB-month",
            c.p["s3.standard_storage_gb_month"],
            f"{c.a.archive_months} months of Parquet, no lifecycle",
        ),
        LineItem(
            s,
            "PUT requests",
            objects_per_month + (queries + c.v.rollup_queries) * 2 + month_objects + runs * tables,
            "requests",
            c.p["s3.put_request"],
            "Firehose objects + Athena results + rollup month objects and watermarks",
        ),
        LineItem(
            s,
            "LIST requests: rollups",
            lists,
            "requests",
            c.p["s3.put_request"],
            f"each run lists the rollups prefix ({c.v.rollup_objects_listed_per_run:,.0f} objects in month "
            f"{c.a.archive_months}), not the archive + Athena lists each partition",
        ),
        LineItem(
            s,
            "GET requests: queries",
            gets,
            "requests",
            c.p["s3.get_request"],
            f"dashboards and analysts read the rollup tables: {files_per_query:,.0f} month objects per query",
        ),
        LineItem(
            s,
            "GET requests: rollups",
            rollup_gets,
            "requests",
            c.p["s3.get_request"],
            f"each rollup query reads the changed days' ~{avg_object / 1024:.1f} KB archive objects "
            f"(~{c.v.rollup_archive_objects_per_query:,.0f}), + month objects, watermarks, results",
        ),
    ]


def _athena(c: _Context) -> list[LineItem]:
    minimum = c.book.rule("athena_minimum_bytes_per_query")
    rollup_scan = c.v.rollup_archive_objects_per_query * c.v.archive_bytes_per_month / c.v.firehose_objects
    rollup_per_query = max(minimum, _rounded(rollup_scan, MIB))
    rollups = LineItem(
        "Athena",
        "Data scanned: rollups",
        c.v.rollup_queries * rollup_per_query / TIB,
        "TB",
        c.p["athena.tb_scanned"],
        f"{c.a.rollup_tables} queries per rollup run, {rollup_per_query / MIB:.0f} MB billed each (10 MB minimum)",
    )
    if c.w.athena_gb_per_day <= 0:
        return [LineItem("Athena", "Data scanned: queries", 0.0, "TB", c.p["athena.tb_scanned"], "no queries"), rollups]
    per_query = max(minimum, _rounded(_athena_scan_bytes_per_query(c), MIB))
    return [
        LineItem(
            "Athena",
            "Data scanned: queries",
            c.v.athena_queries * per_query / TIB,
            "TB",
            c.p["athena.tb_scanned"],
            f"{c.w.athena_queries_per_day} queries/day, {per_query / MIB:.0f} MB billed each (10 MB minimum)",
        ),
        rollups,
    ]


def _stepfunctions(c: _Context) -> list[LineItem]:
    per_run = c.a.rollup_transitions_per_run + c.v.rollup_batches_per_run
    return [
        LineItem(
            "Step Functions",
            "Rollups: state transitions",
            c.v.rollup_runs * per_run,
            "transitions",
            c.p["stepfunctions.state_transition"],
            f"standard workflow, {per_run} transitions per run (the backfill workflow runs only when asked)",
        ),
    ]


def _secrets(c: _Context) -> list[LineItem]:
    s = "Secrets Manager"
    return [
        LineItem(s, "Secrets", c.a.secrets, "secret-months", c.p["secretsmanager.secret_month"]),
        LineItem(
            s,
            "GetSecretValue calls",
            c.v.cold_starts_per_function,
            "calls",
            c.p["secretsmanager.api_call"],
            "one per producer cold start (cached while warm)",
        ),
    ]


def _cloudwatch(c: _Context) -> list[LineItem]:
    s = "CloudWatch"
    log_gb = (
        (c.v.runs + c.v.consumer_invocations + c.v.transform_invocations) * c.a.log_bytes_per_invocation
        + c.v.rollup_runs * c.a.rollup_log_bytes_per_run
    ) / GIB
    metrics = c.a.consumer_metrics + c.a.producer_metrics + c.a.transform_metrics
    alarms = c.a.alarms
    return [
        LineItem(
            s,
            "EMF custom metrics",
            metrics,
            "metric-months",
            c.p["cloudwatch.metric_month"],
            f"{c.a.consumer_metrics} consumer + {c.a.producer_metrics} producer + {c.a.transform_metrics} archive "
            "transform series",
        ),
        LineItem(
            s,
            "Alarms",
            alarms,
            "alarm-months",
            c.p["cloudwatch.alarm_month"],
            "infra/observability.py",
        ),
        LineItem(s, "Dashboard", c.a.dashboards, "dashboard-months", c.p["cloudwatch.dashboard_month"]),
        LineItem(
            s,
            "Logs ingestion",
            log_gb,
            "GB",
            c.p["cloudwatch.logs_ingest_gb"],
            f"~{c.a.log_bytes_per_invocation} B per invocation, "
            f"~{c.a.rollup_log_bytes_per_run // 1024} KB per rollup run",
        ),
    ]


def _sqs(c: _Context) -> list[LineItem]:
    quarantined = c.v.records * c.a.poison_fraction
    receives, deletes = change_log_receives(c.v)
    return [
        LineItem(
            "SQS",
            "Rollups change log requests",
            c.v.firehose_objects + c.v.rollup_runs * (receives + deletes),
            "requests",
            c.p["sqs.request"],
            f"S3 sends one message per archive object (the notification itself is free); each run receives "
            f"~{c.v.change_log_messages_per_run:,.0f} in {receives:,} ReceiveMessage and {deletes:,} "
            "DeleteMessageBatch calls",
        ),
        LineItem(
            "SQS",
            "Quarantine requests",
            quarantined * c.a.sqs_requests_per_poison,
            "requests",
            c.p["sqs.request"],
            f"{c.a.poison_fraction:.1%} poison records: send, receive, delete",
        ),
    ]


def _kms(c: _Context) -> list[LineItem]:
    data_keys = c.a.kms_key_users * c.v.hours * 3600 / c.a.kms_data_key_seconds
    requests = data_keys + (c.v.athena_queries + c.v.rollup_queries) * 2 + c.v.cold_starts_per_function * 2
    return [
        LineItem("KMS", "Customer managed keys", c.a.kms_keys, "key-months", c.p["kms.key_month"]),
        LineItem(
            "KMS",
            "Requests",
            requests,
            "requests",
            c.p["kms.request"],
            f"{c.a.kms_key_users} principal/resource pairs renew data keys every {c.a.kms_data_key_seconds} s",
        ),
    ]


def _eventbridge(c: _Context) -> list[LineItem]:
    return [
        LineItem(
            "EventBridge",
            "Scheduler invocations",
            c.v.runs + c.v.rollup_runs,
            "invocations",
            c.p["eventbridge.scheduler_invocation"],
            "EventBridge Scheduler: the first 14 million a month cost $0 (scheduled rules would be free too)",
        ),
    ]


def _xray(c: _Context) -> list[LineItem]:
    """The Lambdas trace actively; X-Ray's default rule keeps the first request each second + 5% of the rest.

    The archive transformation runs at most once per buffer interval (>= 60 s apart): every call is traced.
    """
    consumer_per_run = c.v.consumer_invocations / c.v.runs
    traces = (
        c.v.runs * (1 + 1 + c.a.xray_extra_sample_rate * (consumer_per_run - 1))
        + c.v.transform_invocations
        + c.v.rollup_runs  # one trace per rollups execution; its Lambda segments join it
    )
    return [
        LineItem(
            "X-Ray",
            "Traces recorded",
            traces,
            "traces",
            c.p["xray.trace_recorded"],
            "producer run + consumer batches of each run + archive transform calls + rollup runs (active tracing)",
        ),
    ]


SERVICES: tuple[Callable[[_Context], list[LineItem]], ...] = (
    _kinesis,
    _lambda,
    _dynamodb,
    _firehose,
    _s3,
    _athena,
    _stepfunctions,
    _secrets,
    _cloudwatch,
    _sqs,
    _kms,
    _eventbridge,
    _xray,
)


def shards_needed(w: Workload, a: Assumptions) -> int:
    """Provisioned shards that absorb one run's burst (all pairs published within about a second)."""
    by_records = math.ceil(w.pairs / KINESIS_RECORDS_PER_SHARD_SECOND)
    by_bytes = math.ceil(w.pairs * a.record_bytes / KINESIS_BYTES_PER_SHARD_SECOND)
    return max(1, by_records, by_bytes)


def _warnings(w: Workload, a: Assumptions, v: Volumes) -> tuple[str, ...]:
    found: list[str] = []
    period = w.schedule_seconds()
    if v.producer_seconds_per_run > period:
        found.append(
            f"a producer run needs ~{v.producer_seconds_per_run:.0f} s for {w.pairs} pairs "
            f"({a.producer_ms_per_pair:.0f} ms per Alpha Vantage call, sequential) but the schedule fires every "
            f"{period} s: runs would overlap and the run lease would skip them"
        )
    if v.producer_seconds_per_run > LAMBDA_MAX_SECONDS:
        found.append(f"a producer run would exceed Lambda's {LAMBDA_MAX_SECONDS} s timeout")
    if not w.on_demand and w.shards < shards_needed(w, a):
        found.append(
            f"{w.shards} shard(s) accept {w.shards * KINESIS_RECORDS_PER_SHARD_SECOND} records/s; a run publishes "
            f"{w.pairs}: PutRecords would be throttled and retried (--shards {shards_needed(w, a)} avoids it)"
        )
    plan_seconds = _plan_ms(a, v) / 1000
    if w.rollup_runs_per_day and plan_seconds > LAMBDA_MAX_SECONDS:
        found.append(
            f"the rollup plan needs ~{plan_seconds:,.0f} s (the rollups listing and "
            f"{v.change_log_messages_per_run:,.0f} change-log messages), over Lambda's {LAMBDA_MAX_SECONDS} s timeout"
        )
    if w.rollup_runs_per_day and v.change_log_messages_per_run > CHANGE_LOG_MESSAGES_PER_PLAN:
        found.append(
            f"each rollup run has ~{v.change_log_messages_per_run:,.0f} change-log messages, over the "
            f"{CHANGE_LOG_MESSAGES_PER_PLAN:,} a plan drains (CHANGES_MAX_RECEIVES): the rest waits for later runs"
        )
    if w.stream_retention_hours > 24:
        found.append(f"stream retention of {w.stream_retention_hours} h: extended retention is not priced here")
    return tuple(found)


def estimate(w: Workload, book: PriceBook, a: Assumptions | None = None) -> CostReport:
    """Price one month of the pipeline for workload ``w`` (validated first)."""
    w.validate()
    assumptions = a or Assumptions()
    prices = book.region(w.region)
    volumes = derive_volumes(w, assumptions, book.rule("hours_per_month"))
    context = _Context(w=w, a=assumptions, v=volumes, p=prices, book=book)
    services = []
    for build in SERVICES:
        items = tuple(build(context))
        services.append(ServiceCost(service=items[0].service, items=items))
    return CostReport(
        workload=w,
        assumptions=assumptions,
        volumes=volumes,
        region_name=prices.name,
        prices_taken=book.taken,
        services=tuple(services),
        warnings=_warnings(w, assumptions, volumes),
    )
