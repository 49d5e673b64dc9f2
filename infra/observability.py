"""Observability: one dashboard for the whole pipeline and alarms to an encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from infra.archive import Archive
from infra.encryption import pipeline_key
from infra.ingestion import Ingestion
from infra.processing import Processing
from infra.serving import QuoteTable
from infra.stream import QuoteStream

PERIOD = Duration.minutes(5)
METRICS_NAMESPACE = "cryptostream"  # POWERTOOLS_METRICS_NAMESPACE of the producer and consumer


@dataclass(frozen=True)
class Pipeline:
    """The constructs whose health the dashboard and alarms watch."""

    stream: QuoteStream
    table: QuoteTable
    ingestion: Ingestion
    processing: Processing
    archive: Archive
    workflows: Mapping[str, sfn.IStateMachine] = field(default_factory=dict)  # alarm id prefix -> state machine
    change_log_dead_letters: sqs.IQueue | None = None  # the rollups' change log's parked notifications


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, pipeline: Pipeline) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        # The stack's one key; its policy lets CloudWatch use it for this stack's alarms only (infra/encryption.py).
        key = pipeline_key(self, config)
        self.topic = sns.Topic(
            self, "AlarmTopic", topic_name=config.resource_name("alarms"), master_key=key, enforce_ssl=True
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []
        self._alarm_on_pipeline(pipeline)
        self.dashboard = self._dashboard(pipeline)

    # -- alarms -----------------------------------------------------------------------------------

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        threshold: float = 1,
        periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=self._config.resource_name(construct_id_to_name(construct_id)),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def _queue_not_empty(self, construct_id: str, queue: sqs.IQueue, description: str) -> None:
        self._alarm(
            construct_id,
            queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
            description=description,
        )

    def _alarm_on_pipeline(self, pipeline: Pipeline) -> None:
        config = self._config
        self._alarm(
            "StreamIteratorAge",
            pipeline.stream.stream.metric_get_records_iterator_age_milliseconds(period=PERIOD, statistic="Maximum"),
            description=f"The oldest unread record is over {config.iterator_age_alarm_seconds} s old: "
            "the consumer or Firehose is falling behind.",
            threshold=config.iterator_age_alarm_seconds * 1000,
            periods=2,
        )
        consumer = pipeline.processing.function
        self._alarm(
            "ConsumerErrors",
            consumer.metric_errors(period=PERIOD, statistic="Sum"),
            description="The consumer Lambda failed whole invocations (its shard is retrying).",
        )
        # No alarm on the consumer's own IteratorAge ($0.10 a month): the stream's GetRecords iterator age above is
        # the maximum over every reader, the consumer's event source mapping included, at the same threshold.
        self._queue_not_empty("Quarantined", pipeline.processing.quarantine, "A poison record was quarantined.")
        self._queue_not_empty(
            "QuarantineDeadLetters", pipeline.processing.quarantine_dead_letters,
            "A quarantined record failed redrive repeatedly and was parked.",
        )  # fmt: skip
        self._queue_not_empty(
            "ConsumerBatchesDropped", pipeline.processing.esm_failures,
            "The consumer gave up on a batch (retries or record age exhausted): replay it from the stream.",
        )  # fmt: skip
        producer = pipeline.ingestion.function
        self._alarm(
            "ProducerErrors",
            producer.metric_errors(period=PERIOD, statistic="Sum"),
            description="A producer run failed as a whole.",
        )
        self._queue_not_empty(
            "ScheduleDeadLetters", pipeline.ingestion.dead_letter_queue,
            "EventBridge Scheduler could not invoke the producer.",
        )  # fmt: skip
        if pipeline.change_log_dead_letters is not None:  # parked changes are rolled up by no plan: say so at once
            self._queue_not_empty(
                "RollupChangesDeadLetters", pipeline.change_log_dead_letters,
                "The rollups plan could not record an archive change for two days and parked it: redrive the "
                "dead-letter queue to the change log once plans succeed, or run the rollups with a full listing.",
            )  # fmt: skip
        # One alarm for every schedule: FailedPairs has no per-interval series (each would cost $0.30 a month);
        # the dashboard's Logs Insights widget says which schedule failed.
        self._alarm(
            "ProducerFailedPairs",
            producer_metric("FailedPairs"),
            description="Pairs failed in three consecutive periods (rate limit, premium endpoint or invalid symbol: "
            "see the dashboard's 'Producer runs by interval' and the producer's logs).",
            periods=3,
        )
        delivery = pipeline.archive.delivery_stream
        if delivery is not None:
            freshness_limit = 2 * config.firehose_buffer_seconds + 300
            self._alarm(
                "ArchiveFreshness",
                delivery.metric("DeliveryToS3.DataFreshness", period=PERIOD, statistic="Maximum"),
                description=f"Firehose has not delivered a record for over {freshness_limit} s.",
                threshold=freshness_limit,
                periods=2,
            )
            self._alarm(
                "ArchiveDeliveryFailures",
                delivery.metric("DeliveryToS3.Success", period=PERIOD, statistic="Minimum"),
                description="Firehose failed to write to S3.",
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            )
            self._alarm(
                "ArchiveConversionFailures",
                delivery.metric("FailedConversion.Records", period=PERIOD, statistic="Sum"),
                description="Firehose could not convert records to Parquet (see errors/ in the archive bucket).",
            )
            # Successful invocations over all of them: below 1 when the function fails (its Errors) and also when
            # Firehose cannot invoke it at all (throttled, denied), which the function's own Errors never sees.
            self._alarm(
                "ArchiveTransformInvocationFailures",
                delivery.metric("ExecuteProcessing.Success", period=PERIOD, statistic="Minimum"),
                description="The archive transformation failed or Firehose could not invoke it: after its retries "
                "the whole batch goes to errors/processing-failed/ in the archive bucket.",
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            )
        for name, machine in pipeline.workflows.items():
            self._alarm(
                f"{name}Failed",
                machine.metric_failed(period=PERIOD, statistic="Sum"),
                description=f"An execution of the {name} state machine failed (its history shows the step and error).",
            )
        # No alarm on the transformation's own Errors ($0.10 a month): Firehose counts a failed invocation in
        # ExecuteProcessing.Success (ArchiveTransformInvocationFailures above); the dashboard still graphs Errors.
    # -- dashboard --------------------------------------------------------------------------------

    def _dashboard(self, pipeline: Pipeline) -> cloudwatch.Dashboard:
        stream = pipeline.stream.stream
        table = pipeline.table.table
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=self._config.resource_name("pipeline"), default_interval=Duration.hours(3)
        )
        dashboard.add_widgets(
            graph("Stream incoming records", [stream.metric_incoming_records(period=PERIOD, statistic="Sum")]),
            graph(
                "Stream iterator age (ms)",
                [stream.metric_get_records_iterator_age_milliseconds(period=PERIOD, statistic="Maximum")],
            ),
            graph(
                "Stream throttling",
                [
                    stream.metric_put_records_throttled_records(period=PERIOD, statistic="Sum"),
                    stream.metric_read_provisioned_throughput_exceeded(period=PERIOD, statistic="Sum"),
                ],
            ),
        )
        functions = [("Producer", pipeline.ingestion.function), ("Consumer", pipeline.processing.function)]
        if pipeline.archive.transform is not None:
            functions.append(("Archive transform", pipeline.archive.transform.function))
        for label, function in functions:
            dashboard.add_widgets(*lambda_widgets(label, function))
        dashboard.add_widgets(
            graph(
                "DynamoDB throttles",
                [
                    table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum"),
                    table.metric("WriteThrottleEvents", period=PERIOD, statistic="Sum"),
                ],
            ),
            graph(
                "Quarantine depth",
                [
                    q.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum", label=label)
                    for label, q in (
                        ("quarantine", pipeline.processing.quarantine),
                        ("quarantine DLQ", pipeline.processing.quarantine_dead_letters),
                        ("dropped batches", pipeline.processing.esm_failures),
                    )
                ],
            ),
            graph("Producer failed pairs", [producer_metric("FailedPairs", label="FailedPairs")]),
        )
        # The counts that are not metric series (each series costs $0.30 a month; only the alarmed FailedPairs is
        # one), charted from the handlers' structured log lines with Logs Insights.
        dashboard.add_widgets(
            logs_widget("Producer published", pipeline.ingestion.function, PRODUCER_PUBLISHED_QUERY, line=True),
            logs_widget("Consumer outcome (records)", pipeline.processing.function, CONSUMER_OUTCOME_QUERY, line=True),
            logs_widget("Consumer ingest lag (ms)", pipeline.processing.function, CONSUMER_LAG_QUERY, line=True),
        )
        dashboard.add_widgets(
            logs_widget("Producer runs by interval", pipeline.ingestion.function, PRODUCER_RUNS_QUERY),
            logs_widget("Consumer batches", pipeline.processing.function, CONSUMER_BATCHES_QUERY),
        )
        delivery = pipeline.archive.delivery_stream
        if delivery is not None:
            dashboard.add_widgets(
                graph(
                    "Firehose delivery freshness (s)",
                    [delivery.metric("DeliveryToS3.DataFreshness", period=PERIOD, statistic="Maximum")],
                ),
                graph(
                    "Firehose failures",
                    [
                        delivery.metric("DeliveryToS3.Success", period=PERIOD, statistic="Minimum"),
                        delivery.metric("FailedConversion.Records", period=PERIOD, statistic="Sum"),
                        delivery.metric("PartitionCountExceeded", period=PERIOD, statistic="Sum"),
                    ],
                ),
                graph(
                    "Firehose transformation",
                    [
                        delivery.metric("ExecuteProcessing.Success", period=PERIOD, statistic="Minimum"),
                        delivery.metric("DataReadFromKinesisStream.Records", period=PERIOD, statistic="Sum"),
                        # Read minus succeeded = poison written to errors/processing-failed/.
                        delivery.metric("SucceedProcessing.Records", period=PERIOD, statistic="Sum"),
                    ],
                ),
            )
        # Each workflow's outcome: the state machine's own AWS/States series (free; no custom metric).
        dashboard.add_widgets(*(
            graph(f"{name} executions", [machine.metric_succeeded(period=PERIOD, statistic="Sum"),
                                         machine.metric_failed(period=PERIOD, statistic="Sum")])
            for name, machine in pipeline.workflows.items()
        ))  # fmt: skip
        return dashboard


def construct_id_to_name(construct_id: str) -> str:
    """``ProducerFailedPairs-spot-1min`` -> ``producer-failed-pairs-spot-1min``."""
    out = []
    for i, char in enumerate(construct_id):
        if char.isupper() and i and construct_id[i - 1].isalnum() and not construct_id[i - 1].isupper():
            out.append("-")
        out.append(char.lower())
    return "".join(out)


def producer_metric(name: str, *, label: str | None = None) -> cloudwatch.Metric:
    """A Powertools metric of the producer (dimension ``service`` only: one series per metric)."""
    return powertools_metric("cryptostream-producer", name, label=label)


# Logs Insights over the handlers' structured summaries: what used to be metric series ($0.30 a month each).
PRODUCER_PUBLISHED_QUERY = [
    'filter message = "producer run finished"',
    "stats sum(summary.published) as published, sum(summary.fetched) as fetched by bin(5m)",
]
CONSUMER_OUTCOME_QUERY = [
    'filter message = "batch consumed"',
    "stats sum(stats.records) as records, sum(stats.written) as written, sum(stats.failed) as failed by bin(5m)",
]
CONSUMER_LAG_QUERY = [
    'filter message = "batch consumed"',
    "stats max(stats.ingest_lag_ms_max) as max_lag_ms by bin(5m)",
]
PRODUCER_RUNS_QUERY = [
    'fields summary.interval as interval | filter message = "producer run finished"',
    "stats count(*) as runs, sum(summary.fetched) as fetched, sum(summary.published) as published, "
    "sum(summary.skipped_seen) as seen, sum(summary.invalid_upstream) as invalid, "
    "sum(summary.kinesis_retries) as kinesis_retries, sum(summary.alphavantage_requests) as requests by interval",
]
CONSUMER_BATCHES_QUERY = [
    'filter message = "batch consumed"',
    "stats sum(stats.records) as records, sum(stats.written) as written, sum(stats.duplicates) as duplicates, "
    "sum(stats.quarantined) as quarantined, sum(stats.stale_latest_skipped) as stale_latest, "
    "sum(stats.retries) as retries, avg(stats.ingest_lag_ms_mean) as mean_lag_ms by bin(1h)",
]


def logs_widget(
    title: str, function: lambda_.Function, query: list[str], *, line: bool = False
) -> cloudwatch.LogQueryWidget:
    """A Logs Insights widget over ``function``'s log group: a table, or a line chart (``by bin(...)`` queries)."""
    return cloudwatch.LogQueryWidget(
        title=title,
        log_group_names=[f"/aws/lambda/{function.function_name}"],
        query_lines=query,
        view=cloudwatch.LogQueryVisualizationType.LINE if line else cloudwatch.LogQueryVisualizationType.TABLE,
        width=8 if line else 12,
        height=6,
    )


def powertools_metric(
    service: str,
    name: str,
    dimensions: dict[str, str] | None = None,
    *,
    statistic: str = "Sum",
    label: str | None = None,
) -> cloudwatch.Metric:
    """A metric a Lambda publishes through Powertools Metrics (EMF) in the ``cryptostream`` namespace."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service, **(dimensions or {})},
        period=PERIOD,
        statistic=statistic,
        label=label,  # a label turns an alarm's metric into metric math: dashboards only
    )


def graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6)


def lambda_widgets(label: str, function: lambda_.Function) -> list[cloudwatch.GraphWidget]:
    return [
        graph(
            f"{label} errors and throttles",
            [function.metric_errors(period=PERIOD, statistic="Sum"), function.metric_throttles(period=PERIOD)],
        ),
        graph(
            f"{label} duration (ms)",
            [
                function.metric_duration(period=PERIOD, statistic="p50"),
                function.metric_duration(period=PERIOD, statistic="p99"),
            ],
        ),
        graph(f"{label} invocations", [function.metric_invocations(period=PERIOD, statistic="Sum")]),
    ]
