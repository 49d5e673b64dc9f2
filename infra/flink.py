"""Flink: a Managed Service for Apache Flink Studio notebook that reads the stream with Flink SQL.

Studio tops out at ``ZEPPELIN-FLINK-3_0`` (Flink 1.15), hence the 1.15 Kinesis SQL connector. The
notebook's catalog is the Glue database, so tables created in a notebook persist next to the archive.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisanalyticsv2 as flink
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from infra.log_groups import encrypted_log_group
from infra.nag import acknowledge, acknowledge_kms_grant_wildcards, rendered
from infra.removal import removal_policy
from infra.stream import QuoteStream

RUNTIME = "ZEPPELIN-FLINK-3_0"
KINESIS_CONNECTOR = {"group_id": "org.apache.flink", "artifact_id": "flink-sql-connector-kinesis", "version": "1.15.4"}


class StudioNotebook(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, stream: QuoteStream) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = config.resource_name("studio")
        database = config.glue_database
        self.log_group = encrypted_log_group(self, "Logs", name=f"/aws/kinesis-analytics/{name}", config=config)
        log_stream = self.log_group.add_stream("LogStream", log_stream_name="notebook")
        log_stream.apply_removal_policy(removal_policy(config))
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("kinesisanalytics.amazonaws.com"),
            description="Flink Studio notebook: read the quote stream, keep notebook tables in the Glue database",
        )
        stream.stream.grant_read(self.role)
        notebook_tables = stack.format_arn(service="glue", resource="table", resource_name=f"{database}/*")
        notebook_functions = stack.format_arn(
            service="glue", resource="userDefinedFunction", resource_name=f"{database}/*"
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:DeleteTable",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:GetUserDefinedFunction",
                    "glue:GetUserDefinedFunctions",
                ],  # fmt: skip
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database", resource_name=database),
                    notebook_tables,
                    notebook_functions,
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                resources=[
                    self.log_group.log_group_arn,
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"{self.log_group.log_group_name}:log-stream:{log_stream.log_stream_name}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    ),
                ],
            )
        )
        for resource in (notebook_tables, notebook_functions):
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{rendered(self, resource)}]",
                "notebook users create and drop tables (and functions) at run time, so their names are unknown; "
                "scoped to the cryptostream Glue database",
            )
        acknowledge_kms_grant_wildcards(self.role)
        glue_database_arn = stack.format_arn(service="glue", resource="database", resource_name=database)
        self.application = flink.CfnApplication(
            self,
            "Application",
            application_name=name,
            application_description="cryptostream: Flink SQL over the live quote stream",
            application_mode="INTERACTIVE",
            runtime_environment=RUNTIME,
            service_execution_role=self.role.role_arn,
            application_configuration=flink.CfnApplication.ApplicationConfigurationProperty(
                zeppelin_application_configuration=flink.CfnApplication.ZeppelinApplicationConfigurationProperty(
                    catalog_configuration=flink.CfnApplication.CatalogConfigurationProperty(
                        glue_data_catalog_configuration=flink.CfnApplication.GlueDataCatalogConfigurationProperty(
                            database_arn=glue_database_arn
                        )
                    ),
                    custom_artifacts_configuration=[
                        flink.CfnApplication.CustomArtifactConfigurationProperty(
                            artifact_type="DEPENDENCY_JAR",
                            maven_reference=flink.CfnApplication.MavenReferenceProperty(**KINESIS_CONNECTOR),
                        )
                    ],
                    monitoring_configuration=flink.CfnApplication.ZeppelinMonitoringConfigurationProperty(
                        log_level="INFO"
                    ),
                ),
            ),
        )
        # The role's policy must exist before the service validates access to the stream and catalog.
        self.application.node.add_dependency(self.role)
        logging = flink.CfnApplicationCloudWatchLoggingOption(
            self,
            "Logging",
            application_name=name,
            cloud_watch_logging_option=flink.CfnApplicationCloudWatchLoggingOption.CloudWatchLoggingOptionProperty(
                log_stream_arn=stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=f"{self.log_group.log_group_name}:log-stream:{log_stream.log_stream_name}",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ),
        )
        logging.node.add_dependency(self.application)
