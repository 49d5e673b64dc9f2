"""The pipeline's Lambdas, built one way: own log group and role, shared layer, active tracing, package asset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cryptostream_config.deployment import DeploymentConfig
from infra.assets import ARCHITECTURE, RUNTIME, function_code
from infra.log_groups import function_log_group
from infra.nag import acknowledge_xray
from infra.roles import lambda_role


class PipelineFunction(NamedTuple):
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def pipeline_function(
    scope: Construct,
    construct_id: str,
    *,
    config: DeploymentConfig,
    name_suffix: str,
    package: str,
    description: str,
    role_description: str,
    layer: lambda_.ILayerVersion,
    memory_mb: int,
    timeout: Duration,
    environment: Mapping[str, str],
    sibling_id_prefix: str | None = None,
    **extra: Any,
) -> PipelineFunction:
    """The function ``<prefix>-<name_suffix>`` running ``<package>.handler.lambda_handler`` from ``function_code``.

    Its log group and role are the constructs ``<sibling_id_prefix>Logs`` and ``<sibling_id_prefix>Role``
    (prefix defaults to ``construct_id``): the ids are part of the resources' logical ids, so they stay as
    they were. ``extra`` goes to ``lambda_.Function`` as is (e.g. ``reserved_concurrent_executions``).
    """
    prefix = construct_id if sibling_id_prefix is None else sibling_id_prefix
    name = config.resource_name(name_suffix)
    log_group = function_log_group(scope, f"{prefix}Logs", function_name=name, config=config)
    role = lambda_role(scope, f"{prefix}Role", description=role_description, log_group=log_group)
    function = lambda_.Function(
        scope,
        construct_id,
        function_name=name,
        role=role,
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=f"{package}.handler.lambda_handler",
        code=function_code(package),
        layers=[layer],
        memory_size=memory_mb,
        timeout=timeout,
        environment=dict(environment),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        **extra,
    )
    acknowledge_xray(role)  # active tracing needs xray:Put* on Resource::*
    return PipelineFunction(function, role, log_group)
