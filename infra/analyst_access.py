"""The analyst's managed policy: everything needed to query the archive and the table through Athena.

Attach it to the people or roles that run the named queries: it allows the ``cryptostream`` workgroup
only (whose settings are enforced), reads of the archive, Athena's results, the connector's spill, and
invoking the DynamoDB connector. Nothing in it can change data.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from cryptostream_model.archive import ARCHIVE_PREFIX
from infra.archive import Archive
from infra.catalog import SPILL_PREFIX, Catalog
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
    scope: Construct, construct_id: str, *, config: DeploymentConfig, archive: Archive, catalog: Catalog
) -> iam.ManagedPolicy:
    stack = Stack.of(scope)
    federation = catalog.federation
    workgroup_arn = stack.format_arn(service="athena", resource="workgroup", resource_name=config.athena_workgroup)
    results_objects = catalog.results_bucket.arn_for_objects("results/*")
    glue_tables = stack.format_arn(service="glue", resource="table", resource_name=f"{config.glue_database}/*")
    # Prefixes an analyst reads objects under; the connector's spill only when the connector is deployed.
    read_prefixes = [(archive.bucket, f"{ARCHIVE_PREFIX}*")]
    buckets = [archive.bucket.bucket_arn, catalog.results_bucket.bucket_arn]
    if federation is not None:
        read_prefixes.append((federation.spill_bucket, f"{SPILL_PREFIX}/*"))
        buckets.append(federation.spill_bucket.bucket_arn)
    statements = [iam.PolicyStatement(actions=ATHENA_QUERY_ACTIONS, resources=[workgroup_arn])]
    if federation is not None:
        data_catalog_arn = stack.format_arn(
            service="athena", resource="datacatalog", resource_name=config.athena_catalog_name
        )
        statements.append(iam.PolicyStatement(actions=["athena:GetDataCatalog"], resources=[data_catalog_arn]))
    statements.append(
        iam.PolicyStatement(
            actions=GLUE_READ_ACTIONS,
            resources=[
                stack.format_arn(service="glue", resource="catalog"),
                stack.format_arn(service="glue", resource="database", resource_name=config.glue_database),
                glue_tables,
            ],
        )
    )
    if federation is not None:
        statements.append(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[catalog.connector_function_arn])
        )
    statements += [
        iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=buckets),
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[bucket.arn_for_objects(prefix) for bucket, prefix in read_prefixes]
        ),
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], resources=[results_objects]
        ),
        iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[archive.key.key_arn]),
    ]
    policy = iam.ManagedPolicy(
        scope,
        construct_id,
        managed_policy_name=config.resource_name("analyst"),
        description="Query the cryptostream archive and table through the cryptostream Athena workgroup",
        statements=statements,
    )
    reason = "an analyst reads objects by key under one prefix of this stack's bucket; keys are not known in advance"
    for bucket, prefix in [*read_prefixes[:1], (catalog.results_bucket, "results/*"), *read_prefixes[1:]]:
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}]", reason)
    acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::{rendered(policy, glue_tables)}]",
        "read-only Glue metadata of every table in the cryptostream database (the archive and notebook tables)",
    )
    return policy
