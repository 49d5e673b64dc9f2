"""Catalog and queries: Glue database and archive table, Athena workgroup, named queries, DynamoDB connector.

The archive table uses partition projection instead of a crawler: partitions are computed from the
key layout at query time, so a new day or pair is queryable the moment Firehose writes it, and there
is no crawler to pay for or wait on. The named queries arrive as props, already rendered for this
deployment (``infra.app_factory`` renders them with ``analytics.athena``): this construct registers SQL,
it does not read or render it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sam as sam
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from cryptostream_model.archive import ARCHIVE_COLUMNS, ARCHIVE_PREFIX, ARCHIVE_TABLE, PARTITION_COLUMNS
from infra.archive import Archive
from infra.encryption import grant_via
from infra.log_groups import function_log_group
from infra.nag import acknowledge, acknowledge_table_indexes, logical_id, rendered
from infra.serving import QuoteTable

CONNECTOR_APPLICATION_ID = "arn:aws:serverlessrepo:us-east-1:292517598671:applications/AthenaDynamoDBConnector"
SPILL_PREFIX = "athena-spill"
PROJECTION_START = "2020-01-01"


def projection_parameters(config: DeploymentConfig, bucket_name: str) -> dict[str, str]:
    """Athena partition projection for ``quotes/symbol=<s>/market=<m>/dt=<yyyy-MM-dd>/``.

    ``symbol`` and ``market`` are enums of the configured pairs, so queries without a pair filter still
    work (an ``injected`` key would make every query name a pair); ``dt`` is a date range up to today.
    """
    return {
        "projection.enabled": "true",
        "projection.symbol.type": "enum",
        "projection.symbol.values": ",".join(config.symbols),
        "projection.market.type": "enum",
        "projection.market.values": ",".join(config.markets),
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{PROJECTION_START},NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "storage.location.template": (
            f"s3://{bucket_name}/{ARCHIVE_PREFIX}symbol=${{symbol}}/market=${{market}}/dt=${{dt}}/"
        ),
    }


class RenderedQuery(Protocol):
    """A named query ready to register: ``analytics.athena.AthenaNamedQuery`` is one."""

    @property
    def name(self) -> str: ...  # the resource is named <prefix>-<name>

    @property
    def description(self) -> str: ...

    @property
    def sql(self) -> str: ...  # Athena's SQL with this deployment's table names


class Federation(NamedTuple):
    """Athena's view of the DynamoDB table: the connector app, its role and spill bucket, the data catalog."""

    spill_bucket: s3.IBucket
    connector_role: iam.Role
    connector: sam.CfnApplication
    data_catalog: athena.CfnDataCatalog


class Catalog(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        archive: Archive,
        table: QuoteTable,
        named_queries: Sequence[RenderedQuery] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=config.glue_database, description="cryptostream archive (Parquet on S3)"
            ),
        )
        self.archive_table = self._archive_table(archive.bucket)
        self.results_bucket = archive.data_bucket(
            "AthenaResults",
            config.resource_name("athena-results"),
            lifecycle_rules=[s3.LifecycleRule(id="expire-results", expiration=Duration.days(30))],
        )
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=config.athena_workgroup,
            description="cryptostream analytics: enforced settings, KMS-encrypted results, per-query scan limit",
            state="ENABLED",
            recursive_delete_option=True,  # results are disposable; let `cdk destroy` remove the workgroup
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=config.athena_bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(selected_engine_version="AUTO"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results_bucket.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=archive.key.key_arn
                    ),
                ),
            ),
        )
        self.named_queries = [self._named_query(query) for query in named_queries]
        self.federation = self._federation(archive, table) if config.athena_federation else None

    def _federation(self, archive: Archive, table: QuoteTable) -> Federation:
        """The DynamoDB connector (SAR app), its role and spill bucket, and the Athena catalog naming it."""
        config = self._config
        spill_bucket = archive.data_bucket(
            "AthenaSpill",
            config.resource_name("athena-spill"),
            lifecycle_rules=[s3.LifecycleRule(id="expire-spill", expiration=Duration.days(1))],
        )
        role = self._connector_role(archive, table, spill_bucket)
        connector = self._connector(archive, spill_bucket, role)
        data_catalog = athena.CfnDataCatalog(
            self,
            "DynamoDbCatalog",
            name=config.athena_catalog_name,
            type="LAMBDA",
            description=f"DynamoDB table {config.table_name} through the Athena DynamoDB connector",
            parameters={"function": self.connector_function_arn},
        )
        data_catalog.node.add_dependency(connector)
        return Federation(spill_bucket, role, connector, data_catalog)

    @property
    def database_arn(self) -> str:
        return Stack.of(self).format_arn(service="glue", resource="database", resource_name=self._config.glue_database)

    def _archive_table(self, bucket: s3.IBucket) -> glue.CfnTable:
        config = self._config
        table = glue.CfnTable(
            self,
            "ArchiveTable",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=config.glue_database,
            table_input=glue.CfnTable.TableInputProperty(
                name=ARCHIVE_TABLE,
                description="Every quote that passed through the stream, as Firehose archived it",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "parquet",
                    "parquet.compression": "SNAPPY",
                    **projection_parameters(config, bucket.bucket_name),
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in PARTITION_COLUMNS],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in ARCHIVE_COLUMNS],
                    location=f"s3://{bucket.bucket_name}/{ARCHIVE_PREFIX}",
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                        parameters={"serialization.format": "1"},
                    ),
                ),
            ),
        )
        table.node.add_dependency(self.database)
        return table

    def _named_query(self, named: RenderedQuery) -> athena.CfnNamedQuery:
        query = athena.CfnNamedQuery(
            self,
            f"Query-{named.name}",
            name=f"{self._config.prefix}-{named.name}",
            description=named.description,
            database=self._config.glue_database,
            query_string=named.sql,
            work_group=self.workgroup.name,
        )
        query.node.add_dependency(self.workgroup)
        return query

    @property
    def connector_function_arn(self) -> str:
        # The SAR template names the function after AthenaCatalogName.
        return Stack.of(self).format_arn(
            service="lambda",
            resource="function",
            resource_name=self._config.athena_catalog_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _connector_role(self, archive: Archive, table: QuoteTable, spill_bucket: s3.IBucket) -> iam.Role:
        """Least privilege for the connector: this table, its key, the spill prefix, Glue metadata reads."""
        config = self._config
        stack = Stack.of(self)
        self._glue_databases_arn = stack.format_arn(service="glue", resource="database", resource_name="*")
        self._glue_tables_arn = stack.format_arn(service="glue", resource="table", resource_name="*/*")
        self._workgroups_arn = stack.format_arn(service="athena", resource="workgroup", resource_name="*")
        role = iam.Role(
            self,
            "ConnectorRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Athena DynamoDB connector: reads the cryptostream table, spills to its own bucket",
        )
        logs_group = function_log_group(self, "ConnectorLogs", function_name=config.athena_catalog_name, config=config)
        logs_group.grant_write(role)
        table.table.grant(role, "dynamodb:DescribeTable", "dynamodb:Query", "dynamodb:Scan")
        grant_via(table.key, role, "dynamodb", "kms:Decrypt", "kms:DescribeKey")
        acknowledge_table_indexes(role, table.table)
        # ListTables has no resource-level permission: it answers SHOW TABLES in the catalog.
        role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:ListTables"], resources=["*"]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    self._glue_databases_arn,
                    self._glue_tables_arn,
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["athena:GetQueryExecution"],
                resources=[self._workgroups_arn],
            )
        )
        self._spill_bucket_grants(role, archive, spill_bucket)
        glue_reason = (
            "the connector lists Glue databases and tables to find supplemental DynamoDB metadata; read-only "
            "Get* actions, and it cannot know the names in advance"
        )
        for resource in (self._glue_databases_arn, self._glue_tables_arn):
            acknowledge(role, f"AwsSolutions-IAM5[Resource::{rendered(role, resource)}]", glue_reason)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{rendered(role, self._workgroups_arn)}]",
            "read-only athena:GetQueryExecution on the query that invoked the connector, from whichever workgroup "
            "the analyst uses",
        )
        return role

    def _spill_bucket_grants(self, role: iam.Role, archive: Archive, spill_bucket: s3.IBucket) -> None:
        spill_objects = spill_bucket.arn_for_objects(f"{SPILL_PREFIX}/*")
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], resources=[spill_objects])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation", "s3:GetLifecycleConfiguration"],
                resources=[spill_bucket.bucket_arn],
            )
        )
        # The spill bucket is SSE-KMS, and with KMSKeyId the connector asks KMS for its own data keys (it encrypts
        # spilled pages itself): the one key grant on the stack that cannot hold through a service (kms:ViaService).
        archive.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        # GenerateRandom has no resource: it seeds the connector's spill encryption.
        role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateRandom"], resources=["*"]))
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(spill_bucket)}.Arn>/{SPILL_PREFIX}/*]",
            "the connector writes spill objects with random names under the spill prefix of its own bucket",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListTables (SHOW TABLES in the catalog) and kms:GenerateRandom have no resource-level "
            "permissions",
        )

    def _connector(self, archive: Archive, spill_bucket: s3.IBucket, role: iam.Role) -> sam.CfnApplication:
        config = self._config
        application = sam.CfnApplication(
            self,
            "DynamoDbConnector",
            location=sam.CfnApplication.ApplicationLocationProperty(
                application_id=CONNECTOR_APPLICATION_ID, semantic_version=config.athena_connector_version
            ),
            parameters={
                "AthenaCatalogName": config.athena_catalog_name,
                "SpillBucket": spill_bucket.bucket_name,
                "SpillPrefix": SPILL_PREFIX,
                "LambdaRole": role.role_arn,
                "KMSKeyId": archive.key.key_id,
                "LambdaMemory": "3008",
                "LambdaTimeout": "900",
            },
        )
        # The function must find its role's policies in place on its first query.
        application.node.add_dependency(role)
        return application
