"""Archive: the S3 buckets (data and access logs) and the Firehose that writes the stream to Parquet.

The key layout is the one in ``cryptostream_model.archive`` that the local archiver writes:
``quotes/symbol=BTC/market=USD/dt=2026-11-22/<object>.parquet``. The transformation Lambda
(``infra.archive_transform``) keeps poison out and returns ``symbol``, ``market`` and the UTC date of
``ts`` as partition keys; Firehose converts each record to Parquet with the Glue table's schema (so the
archive table and the files cannot drift apart). Poison lands under ``errors/processing-failed/``.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnResource, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cryptostream_config.deployment import CONTEXT_KEY, ConfigError, DeploymentConfig
from cryptostream_model.archive import ARCHIVE_PREFIX, ERROR_PREFIX
from infra.archive_transform import ArchiveTransform
from infra.encryption import pipeline_key
from infra.log_groups import encrypted_log_group, function_log_group
from infra.nag import acknowledge, acknowledge_kms_grant_wildcards, logical_id
from infra.removal import removal_policy
from infra.stream import QuoteStream

# !{partitionKeyFromLambda:...} are the partition keys the transformation returns with each record.
DATA_OUTPUT_PREFIX = (
    f"{ARCHIVE_PREFIX}symbol=!{{partitionKeyFromLambda:symbol}}/market=!{{partitionKeyFromLambda:market}}"
    "/dt=!{partitionKeyFromLambda:dt}/"
)
# Records the transformation rejects land under errors/processing-failed/, like the local archiver's poison.
ERROR_OUTPUT_PREFIX = f"{ERROR_PREFIX}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
ACCESS_LOG_RETENTION = Duration.days(365)
FIREHOSE_CIDR_MAPPING_ID = "@aws-cdk--aws-kinesisfirehose.CidrBlocks"
FIREHOSE_LOG_STREAM_ID = "S3Destination"  # the log stream the Firehose L2 adds to its log group
AUTO_DELETE_PROVIDER_ID = "Custom::S3AutoDeleteObjectsCustomResourceProvider"  # CDK's, one per stack


def bucket_auto_delete(config: DeploymentConfig) -> bool:
    """Optional ``bucket_auto_delete`` (default true): empty the buckets on ``cdk destroy`` without retain_data."""
    value = config.extra.get("bucket_auto_delete", True)
    if not isinstance(value, bool):
        raise ConfigError(f"cdk.json context.{CONTEXT_KEY}.bucket_auto_delete must be bool, got {value!r}")
    return value


def unique_bucket_name(base: str) -> str:
    """Bucket names are global: suffix the configured name with account and region."""
    return f"{base}-{Aws.ACCOUNT_ID}-{Aws.REGION}"


class Archive(Construct):
    """Buckets are KMS-encrypted, private, TLS-only, access-logged and tiered by lifecycle rules."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        # Without retain_data, buckets empty themselves before CloudFormation deletes them (it deletes empty
        # buckets only), by CDK's Node.js handler; an emulator that cannot run it sets bucket_auto_delete: false.
        self._auto_delete = not config.retain_data and bucket_auto_delete(config)
        self.key = pipeline_key(self, config)  # the stack's one key (infra/encryption.py)
        # Server access logs cannot be delivered to SSE-KMS buckets: this one alone uses SSE-S3.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=unique_bucket_name(config.resource_name("access-logs")),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=ACCESS_LOG_RETENTION)],
            removal_policy=self._removal,
            auto_delete_objects=self._auto_delete,
        )
        if self._auto_delete:
            self._log_auto_delete_to_an_encrypted_group(config)
        self.bucket = self.data_bucket(
            "Bucket",
            config.archive_bucket_name,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tier-quotes",
                    prefix=ARCHIVE_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=Duration.days(config.archive_tiering_after_days),
                        )
                    ],
                ),
                s3.LifecycleRule(id="expire-errors", prefix=ERROR_PREFIX, expiration=Duration.days(30)),
                s3.LifecycleRule(id="expire-old-versions", noncurrent_version_expiration=Duration.days(30)),
            ],
        )
        self.delivery_stream: firehose.DeliveryStream | None = None
        self.transform: ArchiveTransform | None = None

    def data_bucket(
        self,
        construct_id: str,
        base_name: str,
        *,
        lifecycle_rules: list[s3.LifecycleRule],
        versioned: bool = False,
    ) -> s3.Bucket:
        """A bucket with this archive's hygiene: CMK encryption, no public access, TLS, access logs."""
        name = unique_bucket_name(base_name)
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,  # one data key per bucket, not per object: far fewer KMS calls
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=versioned,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{base_name}/",
            lifecycle_rules=[
                *lifecycle_rules,
                s3.LifecycleRule(id="abort-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
            removal_policy=self._removal,
            auto_delete_objects=self._auto_delete,  # every version, then the bucket
        )

    def _log_auto_delete_to_an_encrypted_group(self, config: DeploymentConfig) -> None:
        """CDK's auto-delete handler (one per stack, no fixed name) would log to a group Lambda creates on its
        first run: unencrypted, without retention, left behind by ``cdk destroy``. Point it at one of ours.

        CloudFormation deletes the buckets' cleanup resources (running the handler) before the handler, and
        the handler before this log group, which its ``LoggingConfig`` references.
        """
        provider = Stack.of(self).node.find_child(AUTO_DELETE_PROVIDER_ID)
        handler = provider.node.find_child("Handler")
        assert isinstance(handler, CfnResource), handler
        group = function_log_group(self, "AutoDeleteLogs", function_name=config.resource_name("auto-delete-objects"),
                                   config=config)  # fmt: skip
        handler.add_property_override("LoggingConfig", {"LogGroup": group.log_group_name})

    def deliver_from(
        self, stream: QuoteStream, schema_table: glue.CfnTable, *, layer: lambda_.ILayerVersion
    ) -> firehose.DeliveryStream:
        """Firehose from the stream through the transformation Lambda into the archive, as Parquet."""
        config = self._config
        self.transform = ArchiveTransform(self, "Transform", config=config, layer=layer)
        log_group = encrypted_log_group(
            self, "DeliveryLogs", name=f"/aws/kinesisfirehose/{config.resource_name('archive')}", config=config
        )
        destination = firehose.S3Bucket(
            self.bucket,
            data_output_prefix=DATA_OUTPUT_PREFIX,
            error_output_prefix=ERROR_OUTPUT_PREFIX,
            buffering_interval=Duration.seconds(config.firehose_buffer_seconds),
            buffering_size=Size.mebibytes(config.firehose_buffer_mib),
            encryption_key=self.key,
            dynamic_partitioning=firehose.DynamicPartitioningProps(enabled=True, retry_duration=Duration.minutes(5)),
            processors=[self.transform.processor()],
            data_format_conversion=firehose.DataFormatConversionProps(
                schema_configuration=firehose.SchemaConfiguration.from_cfn_table(schema_table),
                # OpenX parses ISO-8601 "yyyy-MM-dd'T'HH:mm:ss'Z'" timestamps and decimal strings as doubles.
                input_format=firehose.OpenXJsonInputFormat(lowercase_column_names=False),
                output_format=firehose.ParquetOutputFormat(compression=firehose.ParquetCompression.SNAPPY),
            ),
            logging_config=firehose.EnableLogging(log_group),
        )
        self.delivery_stream = firehose.DeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=config.resource_name("archive"),
            source=firehose.KinesisStreamSource(stream.stream),
            destination=destination,
        )
        # The L2 adds the log stream it writes (RETAIN by default); it follows retain_data like the rest.
        log_group.node.find_child(FIREHOSE_LOG_STREAM_ID).apply_removal_policy(removal_policy(config))
        # The L2 always adds a region->CIDR mapping for Redshift/Splunk/HTTP destinations; S3 never reads it,
        # and an unused mapping is a CloudFormation lint warning (W7001).
        Stack.of(self).node.try_remove_child(FIREHOSE_CIDR_MAPPING_ID)
        self._acknowledge_delivery_findings()
        return self.delivery_stream

    def _acknowledge_delivery_findings(self) -> None:
        delivery = self.delivery_stream
        assert delivery is not None
        acknowledge(
            delivery,
            "AwsSolutions-KDF1",
            "a Firehose whose source is a Kinesis stream cannot enable its own SSE; records stay encrypted by "
            "the stream's CMK at the source and by the archive CMK in S3",
        )
        bucket = f"<{logical_id(self.bucket)}.Arn>"
        s3_reason = (
            "CDK's Firehose S3 destination grants the documented Firehose S3 actions (Abort*, GetBucket*, "
            "GetObject*, List*, DeleteObject*, PutObject*) on the archive bucket only"
        )
        for finding in ("Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*",
                        "Action::s3:GetObject*", "Action::s3:List*", f"Resource::{bucket}/*"):  # fmt: skip
            acknowledge(delivery, f"AwsSolutions-IAM5[{finding}]", s3_reason)
        acknowledge(
            delivery,
            "AwsSolutions-IAM5[Resource::*]",
            "Parquet conversion: Firehose calls glue:GetSchemaVersion, which supports no resource-level permission",
        )
        acknowledge_kms_grant_wildcards(delivery)
        assert self.transform is not None
        acknowledge(
            delivery,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.transform.function)}.Arn>:*]",
            "CDK's LambdaFunctionProcessor grants lambda:InvokeFunction on the archive transformation function "
            "and its versions (<arn>:*); one function, no other",
        )
