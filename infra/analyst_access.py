"""The analyst's managed policy: everything needed to query the archive and the table through Athena.

Attach it to the people or roles that run the named queries: it allows the ``cryptostream`` workgroup
only (whose settings are enforced), reads of the archive, Athena's results, the connector's spill, and
invoking the DynamoDB connector. Nothing in it can change data.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cryptostream_model.archive import ARCHIVE_PREFIX
from infra.archive import Archive
from infra.catalog import SPILL_PREFIX, Catalog
from infra.config import Config
from infra.nag import acknowledge, logical_id, rendered

ATHENA_QUERY_ACTIONS = [
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetQueryResultsStream",
    "athena:GetWorkGroup",
    "athena:ListNamedQueries",
    "athena:GetNamedQuery",
    "athena:BatchGetNamedQuery",
    "athena:ListQueryExecutions",
]
GLUE_READ_ACTIONS = ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"]


def analyst_policy(
    scope: Construct, construct_id: str, *, config: Config, archive: Archive, catalog: Catalog
) -> iam.ManagedPolicy:
    stack = Stack.of(scope)
    workgroup_arn = stack.format_arn(service="athena", resource="workgroup", resource_name=config.athena_workgroup)
    data_catalog_arn = stack.format_arn(
        service="athena", resource="datacatalog", resource_name=config.athena_catalog_name
    )
    connector_arn = catalog.connector_function_arn
    archive_objects = archive.bucket.arn_for_objects(f"{ARCHIVE_PREFIX}*")
    results_objects = catalog.results_bucket.arn_for_objects("results/*")
    spill_objects = catalog.spill_bucket.arn_for_objects(f"{SPILL_PREFIX}/*")
    glue_tables = stack.format_arn(service="glue", resource="table", resource_name=f"{config.glue_database}/*")
    policy = iam.ManagedPolicy(
        scope,
        construct_id,
        managed_policy_name=config.resource_name("analyst"),
        description="Query the cryptostream archive and table through the cryptostream Athena workgroup",
        statements=[
            iam.PolicyStatement(actions=ATHENA_QUERY_ACTIONS, resources=[workgroup_arn]),
            iam.PolicyStatement(actions=["athena:GetDataCatalog"], resources=[data_catalog_arn]),
            iam.PolicyStatement(
                actions=GLUE_READ_ACTIONS,
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database", resource_name=config.glue_database),
                    glue_tables,
                ],
            ),
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[connector_arn]),
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[
                    archive.bucket.bucket_arn,
                    catalog.results_bucket.bucket_arn,
                    catalog.spill_bucket.bucket_arn,
                ],
            ),
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[archive_objects, spill_objects]),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], resources=[results_objects]
            ),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[archive.key.key_arn]),
        ],
    )
    reason = "an analyst reads objects by key under one prefix of this stack's bucket; keys are not known in advance"
    for bucket, prefix in ((archive.bucket, f"{ARCHIVE_PREFIX}*"), (catalog.results_bucket, "results/*"),
                           (catalog.spill_bucket, f"{SPILL_PREFIX}/*")):  # fmt: skip
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}]", reason)
    acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::{rendered(policy, glue_tables)}]",
        "read-only Glue metadata of every table in the cryptostream database (the archive and notebook tables)",
    )
    return policy
