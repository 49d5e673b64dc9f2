"""Execution roles for the pipeline's Lambdas: logs to their own group only, no AWS managed policy."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct


def lambda_role(scope: Construct, construct_id: str, *, description: str, log_group: logs.ILogGroup) -> iam.Role:
    """A Lambda role allowed to write its own log group (instead of AWSLambdaBasicExecutionRole's logs:*)."""
    role = iam.Role(
        scope, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
    )
    log_group.grant_write(role)
    return role
