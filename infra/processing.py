"""Processing: the consumer Lambda, its Kinesis event source, the quarantine and the on-failure queue.

Two queues on purpose: the quarantine holds poison records (original payload, reason, shard and
sequence number) written by the consumer, which ``cryptostream dlq`` lists and redrives; the
``-esm-failures`` queue receives Lambda's own on-failure records (shard and sequence *ranges*, no
payloads) when a batch exhausts its retries or ages out, which an operator replays from the stream.
Mixing both shapes in one queue would break the ``dlq`` command. Names match the local stack's.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, Names
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from infra.encryption import grant_via
from infra.functions import pipeline_function
from infra.nag import acknowledge
from infra.serving import QuoteTable
from infra.stream import QuoteStream

QUEUE_RETENTION = Duration.days(14)  # SQS maximum: time to look at poison before it ages out
QUARANTINE_MAX_RECEIVES = 5  # a quarantined message that fails redrive this often is parked in the DLQ
CONSUMER_TIMEOUT = Duration.seconds(60)
# What a Kinesis event source mapping calls with the function's role (Lambda developer guide, "Process Amazon
# Kinesis Data Streams records with Lambda"); GetRecords also decrypts with the stream key.
STREAM_MAPPING_READS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:SubscribeToShard",
)


class Processing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        stream: QuoteStream,
        table: QuoteTable,
        layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = table.key  # the stack's one key (infra/encryption.py)
        self.quarantine_dead_letters = self._queue(f"{config.quarantine_queue_name}-dlq", "QuarantineDeadLetters")
        self.quarantine = self._queue(
            config.quarantine_queue_name,
            "Quarantine",
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.quarantine_dead_letters, max_receive_count=QUARANTINE_MAX_RECEIVES
            ),
        )
        self.esm_failures = self._queue(f"{config.quarantine_queue_name}-esm-failures", "EsmFailures")
        acknowledge(
            self.esm_failures,
            "AwsSolutions-SQS3",
            "this queue is itself the on-failure destination (dead letters) of the consumer's event source "
            "mapping; its records point back into the stream, so there is nothing further to redrive",
        )
        self.function = self._consumer(config, table, layer)
        self.event_source_mapping = self._stream_mapping(config, stream)

    def _stream_mapping(self, config: DeploymentConfig, stream: QuoteStream) -> lambda_.EventSourceMapping:
        """The Kinesis mapping, granted only what Lambda does with the consumer's role for it.

        CDK's ``KinesisEventSource`` would also grant ``ListStreams`` and ``DescribeStreamConsumer`` (enhanced
        fan-out, not used), and its ``SqsDlq`` ``GetQueueAttributes``/``GetQueueUrl``, none of which Lambda calls.
        """
        settings = config.consumer
        mapping = self.function.add_event_source_mapping(
            # KinesisEventSource's id: another logical id would replace the mapping, which re-reads from TRIM_HORIZON.
            f"KinesisEventSource:{Names.node_unique_id(stream.stream.node)}",
            event_source_arn=stream.stream.stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=settings.batch_size,
            max_batching_window=Duration.seconds(settings.batching_window_seconds),
            parallelization_factor=settings.parallelization_factor,
            bisect_batch_on_error=settings.bisect_on_error,
            retry_attempts=settings.max_retries,
            max_record_age=Duration.seconds(settings.max_record_age_seconds),
            report_batch_item_failures=True,
            on_failure=_SendOnlyDestination(self.esm_failures),
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=list(STREAM_MAPPING_READS), resources=[stream.stream.stream_arn])
        )
        if stream.stream.encryption_key is not None:
            grant_via(stream.stream.encryption_key, self.function, "kinesis", "kms:Decrypt")
        return mapping

    def _queue(self, name: str, construct_id: str, dead_letter_queue: sqs.DeadLetterQueue | None = None) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            queue_name=name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            data_key_reuse=Duration.hours(1),  # fewer KMS calls; poison is rare but can come in bursts
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
            dead_letter_queue=dead_letter_queue,
        )

    def _consumer(self, config: DeploymentConfig, table: QuoteTable, layer: lambda_.ILayerVersion) -> lambda_.Function:
        function, self.role, _ = pipeline_function(
            self,
            "Consumer",
            config=config,
            name_suffix="consumer",
            package="consumer",
            description="Validates quotes from Kinesis and upserts them into DynamoDB",
            role_description="cryptostream consumer",
            layer=layer,
            memory_mb=1024,  # CPU scales with memory; a 500-record batch decodes and writes faster
            timeout=CONSUMER_TIMEOUT,
            environment={
                "TABLE_NAME": table.table.table_name,
                "QUARANTINE_QUEUE_URL": self.quarantine.queue_url,
                "HISTORY_TTL_DAYS": str(config.history_ttl_days),
                "POWERTOOLS_SERVICE_NAME": "cryptostream-consumer",
                "POWERTOOLS_METRICS_NAMESPACE": "cryptostream",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        # History with BatchWriteItem; LATEST with TransactWriteItems of conditional Puts (authorized as PutItem).
        table.grant_items(self.role, "dynamodb:BatchWriteItem", "dynamodb:PutItem")
        grant_send(self.quarantine, function)  # poison with SendMessageBatch
        return function


def grant_send(queue: sqs.Queue, grantee: iam.IGrantable) -> None:
    """``sqs:SendMessage`` (SendMessageBatch too), and the data-key actions SQS needs of a sender to a queue
    with a customer-managed key; CDK's ``grant_send_messages`` adds GetQueueAttributes, GetQueueUrl,
    kms:Encrypt and kms:ReEncrypt*, which nothing here calls."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
    )
    if queue.encryption_master_key is not None:
        grant_via(queue.encryption_master_key, grantee, "sqs", "kms:GenerateDataKey", "kms:Decrypt")


@jsii.implements(lambda_.IEventSourceDlq)
class _SendOnlyDestination:
    """The mapping's on-failure queue, bound with ``grant_send`` instead of ``SqsDlq``'s wider grant."""

    def __init__(self, queue: sqs.Queue) -> None:
        self._queue = queue

    def bind(
        self, target: lambda_.IEventSourceMapping, target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        grant_send(self._queue, target_handler)
        return lambda_.DlqDestinationConfig(destination=self._queue.queue_arn)
