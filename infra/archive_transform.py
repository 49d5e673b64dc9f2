"""The Firehose data-transformation Lambda: only quotes the consumer would keep reach the archive.

``archive_transform.handler.lambda_handler`` validates each record with the shared model, returns valid
quotes as canonical JSON with ``symbol``/``market``/``dt`` partition keys, and marks poison
``ProcessingFailed`` (Firehose writes it under ``errors/processing-failed/``, as the local archiver does).

Firehose invokes it synchronously with its own role, so the function's role needs nothing but its log
group (and X-Ray, like the other functions); no resource policy is needed either.
"""

from __future__ import annotations

from aws_cdk import Duration, Size
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from infra.functions import pipeline_function

PACKAGE = "archive_transform"  # handler: archive_transform.handler.lambda_handler
SERVICE_NAME = "cryptostream-archive-transform"  # the handler's Logger service
MEMORY_MB = 256  # a 1 MiB batch (~4,300 quotes) validates in ~0.1 s on one core; 256 MB is ~1/7 of a vCPU
# Firehose waits at most 5 minutes for a transformation; 60 s is ~100x a full batch at 256 MB and
# lets Firehose's retries happen well inside its own deadline.
TIMEOUT = Duration.seconds(60)
# 1 MiB of records becomes a ~2.7 MB invocation event (base64 plus per-record Kinesis metadata), well
# under Lambda's 6 MB synchronous payload limit; the 3 MiB maximum would exceed it.
PROCESSOR_BUFFER_SIZE = Size.mebibytes(1)
# A few quotes a minute never fill 1 MiB, so the interval sets the pace: one invocation every 5 minutes (a
# fifth of the invocations, traces and log lines of 60 s: docs/cost.md), adding at most 300 s ahead of the
# destination's own buffer (900 s by default; freshness alarm: 2 x buffer + 5 min = 2,100 s > 1,200 s).
PROCESSOR_BUFFER_INTERVAL = Duration.seconds(300)
# Retries after throttling or timeouts; a batch that still fails is written whole to errors/processing-failed/.
PROCESSOR_RETRIES = 3


class ArchiveTransform(Construct):
    """The function, its log group and its role (logs and X-Ray only)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, layer: lambda_.ILayerVersion
    ) -> None:
        super().__init__(scope, construct_id)
        self.function, self.role, self.log_group = pipeline_function(
            self,
            "Function",
            sibling_id_prefix="",  # this construct names them already: Transform/Logs, Transform/Role
            config=config,
            name_suffix="archive-transform",
            package=PACKAGE,
            description="Firehose transformation: valid quotes to the archive with partition keys, poison to errors/",
            role_description="cryptostream archive transformation, invoked by Firehose",
            layer=layer,
            memory_mb=MEMORY_MB,
            timeout=TIMEOUT,
            environment={"POWERTOOLS_SERVICE_NAME": SERVICE_NAME, "POWERTOOLS_LOG_LEVEL": "INFO"},
        )

    def processor(self) -> firehose.LambdaFunctionProcessor:
        """The Firehose processor; binding it grants the delivery role lambda:InvokeFunction on this function."""
        return firehose.LambdaFunctionProcessor(
            self.function,
            buffer_size=PROCESSOR_BUFFER_SIZE,
            buffer_interval=PROCESSOR_BUFFER_INTERVAL,
            retries=PROCESSOR_RETRIES,
        )
