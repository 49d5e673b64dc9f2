"""What ``cdk destroy`` leaves behind: every stateful or fixed-name resource follows ``retain_data``.

``retain_data: true`` (default) keeps the data (and the names it holds) after ``cdk destroy``;
``retain_data: false`` removes everything, so the same stack can be deployed again under the same names.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy

from cryptostream_config.deployment import DeploymentConfig


def removal_policy(config: DeploymentConfig) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
