"""The soak run: the embedded stack over simulated market hours, with every fault kind injected.

Each step moves the simulator's clock on by ``step_bars`` bars, runs the producer (its Kinesis and
DynamoDB clients wrapped with fault injectors), checks the watermarks, puts poison and replayed
earlier records on the stream, and lets the event source mapping deliver everything to the consumer
(wrapped: mid-batch crashes, duplicate deliveries, throttled DynamoDB). The archiver drains at the
end, as Firehose's buffer would. Then ``verify`` accounts for every record.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptostream_model.intervals import INTRADAY_INTERVALS, interval_seconds
from cryptostream_model.record import format_ts
from local.lambda_context import LocalLambdaContext
from local.market import DEFAULT_MARKETS, DEFAULT_SYMBOLS
from local.poison import poison_records
from local.stack import LocalStack
from tools.percentiles import percentile
from tools.soak.faults import (
    FaultBook,
    FaultRates,
    FaultyConsumer,
    FaultyConsumerDynamoDB,
    FaultyProducerDynamoDB,
    FaultyProducerKinesis,
    ProducerCrash,
)
from tools.soak.ledger import POISON_REASON_CODES, Ledger, PoisonSent, bar_key
from tools.soak.verify import Verdict, verify

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # fixed, so a seed reproduces the same market
PRODUCER_CRASH = "producer_crash_before_watermark"
MAX_PAIRS = len(DEFAULT_SYMBOLS) * len(DEFAULT_MARKETS)


def soak_pairs(count: int) -> list[str]:
    """``count`` pairs the simulator knows: every symbol in USD, then in EUR, GBP, ..."""
    if not 1 <= count <= MAX_PAIRS:
        raise ValueError(f"pairs must be between 1 and {MAX_PAIRS}, got {count}")
    symbols, markets = list(DEFAULT_SYMBOLS), list(DEFAULT_MARKETS)
    return [f"{symbols[i % len(symbols)]}-{markets[i // len(symbols)]}" for i in range(count)]


@dataclass(frozen=True)
class SoakConfig:
    quotes: int = 100_000
    pairs: int = 20
    interval: str = "1min"
    step_bars: int = 90  # bars per producer run; under the 100 a compact Alpha Vantage answer holds
    seed: int = 7
    rates: FaultRates = field(default_factory=FaultRates)

    def validate(self) -> None:
        if self.quotes < 1:
            raise ValueError(f"quotes must be positive, got {self.quotes}")
        if self.interval not in INTRADAY_INTERVALS:
            raise ValueError(f"interval must be one of {', '.join(INTRADAY_INTERVALS)}, got {self.interval!r}")
        if not 1 <= self.step_bars <= 95:
            raise ValueError(f"step_bars must be 1..95, got {self.step_bars}")
        soak_pairs(self.pairs)


@dataclass
class SoakReport:
    config: SoakConfig
    verdict: Verdict
    faults: dict[str, int]
    wall_seconds: float = 0.0
    producer_runs: int = 0
    producer_crashes: int = 0
    producer_kinesis_requests: int = 0
    producer_kinesis_retries: int = 0
    alphavantage_requests: int = 0
    alphavantage_throttled: int = 0
    rate_limit_retries: int = 0
    backoff_seconds_requested: float = 0.0
    published_records: int = 0
    replayed_records: int = 0
    consumer: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] = field(default_factory=dict)
    latency_ms_p50: float = 0.0
    latency_ms_p99: float = 0.0

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())

    @property
    def quotes_per_second(self) -> float:
        return self.verdict.quotes / self.wall_seconds if self.wall_seconds else 0.0

    def per_thousand(self, requests: int) -> float:
        return round(requests * 1000 / max(1, self.verdict.quotes), 1)

    def summary_line(self) -> str:
        v = self.verdict
        return (
            f"soak: {v.quotes} quotes, {v.lost} lost, {v.duplicated_in_table} duplicated, "
            f"{v.poison_quarantined} quarantined, {self.faults_injected} faults injected"
        )

    def as_json(self) -> str:
        body = {
            "quotes": self.verdict.quotes,
            "lost": self.verdict.lost,
            "ok": self.verdict.ok,
            "wall_seconds": self.wall_seconds,
            "quotes_per_second": round(self.quotes_per_second, 1),
            "faults": self.faults,
            "verdict": {k: v for k, v in vars(self.verdict).items()},
            **{k: v for k, v in vars(self).items() if k not in ("config", "verdict", "faults")},
        }
        return json.dumps(body, default=str)


class _ProducerClients:
    """The producer's client factory with its DynamoDB client swapped for the fault injector."""

    def __init__(self, real: Any, dynamodb: Any) -> None:
        self._real, self._dynamodb = real, dynamodb

    def client(self, service: str) -> Any:
        return self._dynamodb if service == "dynamodb" else self._real.client(service)

    def secrets(self) -> Any:
        return self._real.secrets()


class _SimulatedSleep:
    """Backoff waits pass at once (the market and its rate limits run on the simulator's clock) but are summed."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, seconds: float) -> None:
        self.seconds += max(0.0, seconds)


def run_soak(config: SoakConfig, progress: Callable[[int, int], None] | None = None) -> SoakReport:
    config.validate()
    # the injected crashes are expected: the mapping's warning per crash would flood the terminal
    mapping_log = logging.getLogger("local.event_source")
    level = mapping_log.level
    mapping_log.setLevel(logging.CRITICAL)
    try:
        return _run(config, progress)
    finally:
        mapping_log.setLevel(level)


def _run(config: SoakConfig, progress: Callable[[int, int], None] | None) -> SoakReport:
    started = time.perf_counter()
    pairs = soak_pairs(config.pairs)
    bar = interval_seconds(config.interval)
    bars_per_pair = -(-config.quotes // len(pairs))
    start = END - timedelta(seconds=bars_per_pair * bar)
    ledger = Ledger(config.interval)
    ledger.expected = {
        bar_key(pair, format_ts(start + timedelta(seconds=i * bar))) for pair in pairs for i in range(bars_per_pair)
    }
    book = FaultBook(config.rates, seed=config.seed)
    with LocalStack(None, seed=config.seed, archive_buffer_seconds=3600) as stack:
        session = _Session(stack, config, pairs, ledger, book)
        steps = -(-bars_per_pair // config.step_bars)
        for step in range(1, steps + 1):
            clock = min(END, start + timedelta(seconds=step * config.step_bars * bar))
            session.step(start, clock, first=step == 1, may_crash=step < steps)
            if progress:
                progress(step, steps)
        session.finish()
        verdict = verify(stack, ledger, pairs)
        report = session.report(verdict)
    report.wall_seconds = round(time.perf_counter() - started, 1)
    return report


class _Session:
    def __init__(self, stack: LocalStack, config: SoakConfig, pairs: list[str], ledger: Ledger, book: FaultBook):
        from consumer.handler import make_handler
        from producer.aws import aws_clients
        from producer.settings import Settings
        from producer.watermarks import WatermarkStore

        self.stack, self.config, self.pairs, self.ledger, self.book = stack, config, pairs, ledger, book
        self.sleep = _SimulatedSleep()
        self.settings = Settings.from_env()
        self.watermarks = WatermarkStore(stack.clients.dynamodb, stack.config.table_name)
        self.kinesis = FaultyProducerKinesis(stack.clients.client("kinesis"), book)
        self.producer_dynamodb = FaultyProducerDynamoDB(stack.clients.client("dynamodb"), book)
        self.producer_clients = _ProducerClients(aws_clients(), self.producer_dynamodb)
        # the consumer's handler, on the fault injectors, counting into the stack's totals
        self.consumer_dynamodb = FaultyConsumerDynamoDB(stack.clients.client("dynamodb"), book)
        sqs = stack.clients.client("sqs")
        consumer = make_handler(
            on_stats=stack.consumer_totals.add,
            clients=lambda service: self.consumer_dynamodb if service == "dynamodb" else sqs,
        )
        # the mapping's handler is the seam where Lambda's at-least-once delivery and crashes happen
        stack.mapping.handler = FaultyConsumer(consumer, self.consumer_dynamodb, book)
        stack.simulator.faults.update(throttle_every_n=config.rates.alphavantage_throttle_every_n)
        self.runs = self.crashes = self.kinesis_retries = self.rate_limit_retries = 0
        self.accepted_seen = 0

    def step(self, start: datetime, clock: datetime, *, first: bool, may_crash: bool) -> None:
        self.stack.simulator.clock.set(clock)
        event: dict[str, Any] = {"interval": self.config.interval, "pairs": self.pairs, "mode": "incremental"}
        if first:
            event |= {"mode": "full", "start": format_ts(start), "end": format_ts(clock)}
        crash = not first and may_crash and self.book.roll(self.config.rates.producer_crash, PRODUCER_CRASH, force_at=1)
        self._produce(event, crash=crash)
        self._inject(clock)
        self.stack.mapping.poll(flush=True)

    def finish(self) -> None:
        """A last clean producer run (a crashed final run would leave bars unpublished), then drain."""
        self._produce({"interval": self.config.interval, "pairs": self.pairs, "mode": "incremental"}, crash=False)
        self._inject(self.stack.simulator.clock.now(), rest=True)
        self.stack.pump(flush=True)

    def _produce(self, event: dict[str, Any], crash: bool) -> None:
        from producer.handler import run
        from producer.settings import plan_run

        self.producer_dynamodb.crash_before_watermark = crash
        context = LocalLambdaContext("cryptostream-producer", timeout_seconds=300, region=self.stack.config.region)
        clock = self.stack.simulator.clock
        self.runs += 1
        try:
            summary = run(
                plan_run(event, self.settings),
                self.settings,
                context,
                clients=self.producer_clients,
                now=clock.timestamp,
                sleep=self.sleep,
                kinesis=self.kinesis,
            )
            self.kinesis_retries += summary.kinesis_retries
            self.rate_limit_retries += summary.rate_limit_retries
        except ProducerCrash:
            self.crashes += 1
        for data, _, _ in self.kinesis.accepted[self.accepted_seen :]:
            self.ledger.add_published(data)
        self.accepted_seen = len(self.kinesis.accepted)
        self.ledger.observe_watermarks(self.watermarks.get_many(self.pairs, self.config.interval), self.runs)

    def _inject(self, clock: datetime, rest: bool = False) -> None:
        """Poison and replays in proportion to what was published so far (all that is left at the end)."""
        share = 1.0 if rest else min(1.0, self.ledger.published_records / max(1, self.config.quotes))
        poison = max(0, round(self.config.quotes * self.config.rates.poison_share * share) - len(self.ledger.poison))
        replays = max(0, round(self.config.quotes * self.config.rates.replay_share * share) - self.ledger.replayed)
        records: list[tuple[bytes, str, str | None]] = []
        offset = len(self.ledger.poison)
        for n, data in enumerate(poison_records(offset + poison, self.config.interval, clock)[offset:]):
            code = POISON_REASON_CODES[(offset + n) % len(POISON_REASON_CODES)]
            records.append((data, self.book.rng.choice(self.pairs), code))
        if replays and self.kinesis.accepted:
            for data, key, _ in self.book.rng.sample(self.kinesis.accepted, min(replays, len(self.kinesis.accepted))):
                records.append((data, key, None))
        self.book.rng.shuffle(records)
        for begin in range(0, len(records), 500):
            chunk = records[begin : begin + 500]
            response = self.stack.clients.kinesis.put_records(
                StreamName=self.stack.config.stream_name,
                Records=[{"Data": data, "PartitionKey": key} for data, key, _ in chunk],
            )
            for (_, _, tag), result in zip(chunk, response["Records"], strict=True):
                if tag is None:
                    self.ledger.replayed += 1
                    self.book.count("replayed_record")
                else:
                    self.ledger.poison.append(PoisonSent(result["ShardId"], result["SequenceNumber"], tag))
                    self.book.count("poison_record")

    def report(self, verdict: Verdict) -> SoakReport:
        simulator = self.stack.simulator.stats
        faults = dict(self.book.injected)
        faults["alphavantage_throttled"] = int(simulator.get("throttled", 0))
        faults.pop("kinesis_records_refused", None)  # a detail of kinesis_partial_failure, not a fault of its own
        totals, mapping = self.stack.consumer_totals, self.stack.mapping.stats
        latencies = mapping.latencies_ms
        return SoakReport(
            config=self.config,
            verdict=verdict,
            faults=dict(sorted(faults.items())),
            producer_runs=self.runs,
            producer_crashes=self.crashes,
            producer_kinesis_requests=self.kinesis.requests,
            producer_kinesis_retries=self.kinesis_retries,
            alphavantage_requests=int(simulator.get("requests", 0)),
            alphavantage_throttled=int(simulator.get("throttled", 0)),
            rate_limit_retries=self.rate_limit_retries,
            backoff_seconds_requested=round(self.sleep.seconds, 1),
            published_records=self.ledger.published_records,
            replayed_records=self.ledger.replayed,
            consumer={
                "batches": totals.batches,
                "records": totals.records,
                "written": totals.written,
                "duplicates": totals.duplicates,
                "quarantined": totals.quarantined,
                "stale_latest_skipped": totals.stale_latest_skipped,
                "dynamodb_requests": totals.dynamodb_requests,
                "sqs_requests": totals.sqs_requests,
                "retries": totals.retries,
                "kinesis_records_refused": self.book.injected.get("kinesis_records_refused", 0),
            },
            mapping={
                "invocations": mapping.invocations,
                "function_errors": mapping.function_errors,
                "partial_failures": mapping.partial_failures,
                "retries": mapping.retries,
                "bisections": mapping.bisections,
                "sent_to_on_failure": mapping.sent_to_on_failure,
            },
            latency_ms_p50=round(statistics.median(latencies), 1) if latencies else 0.0,
            latency_ms_p99=round(percentile(latencies, 99), 1),
        )
