"""The analyst's managed policy and role: everything needed to query the archive and the table through Athena.

Attach the policy to the people or roles that run the named queries, or let them assume the analyst role
(``<prefix>-analyst``), which has it: it allows the ``cryptostream`` workgroup only (whose settings are
enforced), Athena's results, the connector's spill, and invoking the DynamoDB connector. Nothing in it can
change data. How the archive is read depends on ``lake_formation``: with it (the default), Lake Formation
vends the S3 credentials for what it granted the analyst role (``infra/governance.py``), so the policy
holds ``lakeformation:GetDataAccess`` and no archive read; without it, the policy reads the archive prefix
itself. IAM and Lake Formation must both allow a query (docs/infrastructure.md, "Lake Formation").
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from cryptostream_model.archive import ARCHIVE_PREFIX
from cryptostream_model.rollups import ROLLUPS_PREFIX
from infra.archive import Archive
from infra.catalog import SPILL_PREFIX, Catalog
from infra.encryption import via_service
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
    # Under Lake Formation the archive and the materialized rollups are read with credentials it vends, never
    # with the analyst's own.
    read_prefixes = [] if config.lake_formation else [
        (archive.bucket, f"{ARCHIVE_PREFIX}*"), (archive.bucket, f"{ROLLUPS_PREFIX}*")
    ]
    buckets = [catalog.results_bucket.bucket_arn, *([] if config.lake_formation else [archive.bucket.bucket_arn])]
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
        # The archive and Athena's results (the workgroup's SSE_KMS) use the stack's one key: only through S3, so
        # the analyst cannot decrypt the secret or the table through their services (infra/encryption.py).
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[archive.key.key_arn],
            conditions=via_service(scope, "s3"),
        ),
    ]
    if config.lake_formation:
        statements.append(iam.PolicyStatement(actions=["lakeformation:GetDataAccess"], resources=["*"]))
    policy = iam.ManagedPolicy(
        scope,
        construct_id,
        managed_policy_name=config.resource_name("analyst"),
        description="Query the cryptostream archive and table through the cryptostream Athena workgroup",
        statements=statements,
    )
    reason = "an analyst reads objects by key under one prefix of this stack's bucket; keys are not known in advance"
    for bucket, prefix in [(catalog.results_bucket, "results/*"), *read_prefixes]:
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}]", reason)
    if config.lake_formation:
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "lakeformation:GetDataAccess has no resource-level permission; Lake Formation's own grants decide "
            "which tables and columns the credentials it vends may read",
        )
    acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::{rendered(policy, glue_tables)}]",
        "read-only Glue metadata of every table in the cryptostream database (the archive, rollup and notebook "
        "tables)",
    )
    return policy


def analyst_role(
    scope: Construct, construct_id: str, *, config: DeploymentConfig, policy: iam.ManagedPolicy
) -> iam.Role:
    """``<prefix>-analyst``: the principal Lake Formation grants to; assumable by whom the account's IAM allows."""
    return iam.Role(
        scope,
        construct_id,
        role_name=config.resource_name("analyst"),
        assumed_by=iam.AccountRootPrincipal(),
        description="Query the cryptostream archive and table through Athena (SELECT granted by Lake Formation)",
        managed_policies=[policy],
    )
