"""The cryptostream stack: every capability of the pipeline as one construct each."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from infra.analyst_access import analyst_policy, analyst_role
from infra.archive import Archive
from infra.backfill import BackfillWorkflow
from infra.catalog import Catalog, RenderedQuery
from infra.flink import StudioNotebook
from infra.governance import Governance
from infra.ingestion import Ingestion
from infra.observability import Observability, Pipeline
from infra.processing import Processing
from infra.rollups import ROLLUPS_PREFIX, RollupWorkflow
from infra.serving import QuoteTable
from infra.stream import QuoteStream


class CryptostreamStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        named_queries: Sequence[RenderedQuery] = (),
        skip_layer_bundling: bool = False,
        **kwargs,
    ) -> None:
        """``named_queries``: the analytics SQL rendered for Athena (``infra.app_factory`` renders it)."""
        super().__init__(scope, construct_id, description="cryptostream: crypto quotes streaming pipeline", **kwargs)
        Tags.of(self).add("project", config.prefix)
        self.config = config
        # Every store is encrypted with the stack's one key (infra/encryption.py); grants stay per role and resource.
        self.table = QuoteTable(self, "Serving", config=config)
        self.stream = QuoteStream(self, "Stream", config=config, key=self.table.key)
        self.ingestion = Ingestion(
            self, "Ingestion", config=config, stream=self.stream, table=self.table,
            skip_layer_bundling=skip_layer_bundling,
        )  # fmt: skip
        self.processing = Processing(
            self, "Processing", config=config, stream=self.stream, table=self.table, layer=self.ingestion.layer
        )
        self.archive = Archive(self, "Archive", config=config)
        self.catalog = Catalog(
            self, "Catalog", config=config, archive=self.archive, table=self.table, named_queries=named_queries
        )
        self.archive.deliver_from(self.stream, self.catalog.archive_table, layer=self.ingestion.layer)
        self.analyst_policy = analyst_policy(
            self, "AnalystPolicy", config=config, archive=self.archive, catalog=self.catalog
        )
        self.flink = StudioNotebook(self, "Flink", config=config, stream=self.stream) if config.flink_studio else None
        if self.flink is not None:
            self.flink.node.add_dependency(self.catalog.database)
        self.rollups = RollupWorkflow(
            self, "Rollups", config=config, archive=self.archive, catalog=self.catalog, layer=self.ingestion.layer
        )
        self.analyst_role = analyst_role(self, "AnalystRole", config=config, policy=self.analyst_policy)
        self.governance = (
            Governance(
                self, "Governance", config=config, archive=self.archive, catalog=self.catalog,
                analyst=self.analyst_role, schema_readers=[self.archive.delivery_stream],
                table_creators=[self.flink.role] if self.flink is not None else [],
            )
            if config.lake_formation
            else None
        )  # fmt: skip
        if self.governance is not None:
            self.governance.govern_rollups(
                self.rollups.role, self.rollups.tables, self.archive.bucket, ROLLUPS_PREFIX, self.archive.key
            )
        self.backfill = BackfillWorkflow(
            self, "Backfill", config=config, producer=self.ingestion.function, layer=self.ingestion.layer
        )
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            pipeline=Pipeline(
                self.stream, self.table, self.ingestion, self.processing, self.archive,
                workflows={"Backfill": self.backfill.state_machine, "Rollups": self.rollups.state_machine},
                change_log_dead_letters=self.rollups.change_log.dead_letters,
            ),
        )  # fmt: skip
        self._outputs()

    def _outputs(self) -> None:
        """Names the CLI and users need, e.g. ``aws cloudformation describe-stacks``."""
        for name, value in {
            "StreamName": self.stream.stream.stream_name,
            "TableName": self.table.table.table_name,
            "QuarantineQueueUrl": self.processing.quarantine.queue_url,
            "EsmFailureQueueUrl": self.processing.esm_failures.queue_url,
            "ArchiveBucket": self.archive.bucket.bucket_name,
            "AthenaResultsBucket": self.catalog.results_bucket.bucket_name,
            "AthenaWorkGroup": self.config.athena_workgroup,
            "GlueDatabase": self.config.glue_database,
            "AthenaDynamoDbCatalog": self.config.athena_catalog_name,
            "AlphaVantageSecretArn": self.ingestion.secret.secret_arn,
            "ProducerFunction": self.ingestion.function.function_name,
            "ConsumerFunction": self.processing.function.function_name,
            "AlarmTopicArn": self.observability.topic.topic_arn,
            "AnalystPolicyArn": self.analyst_policy.managed_policy_arn,
            "AnalystRoleArn": self.analyst_role.role_arn,
            "BackfillStateMachineArn": self.backfill.state_machine.state_machine_arn,
            "RollupsStateMachineArn": self.rollups.state_machine.state_machine_arn,
        }.items():
            CfnOutput(self, name, value=value)
