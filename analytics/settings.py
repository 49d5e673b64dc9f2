"""Names the analytics needs, from the one configuration (``cryptostream_config.deployment``: cdk.json)
with the environment on top."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from cryptostream_config.deployment import DeploymentConfig, load_deployment_config


@dataclass(frozen=True)
class AnalyticsSettings:
    """Where the named queries read: the archive bucket, the serving table, the Glue/Athena names, the endpoint."""

    archive_bucket: str
    table_name: str
    glue_database: str
    athena_workgroup: str
    athena_catalog: str
    pairs: tuple[str, ...]
    region: str
    endpoint_url: str | None

    @classmethod
    def of(cls, deployed: DeploymentConfig, region: str = "", endpoint_url: str | None = None) -> AnalyticsSettings:
        """The deployment's names as they are (no environment overrides): what the CDK app renders."""
        return cls(
            archive_bucket=deployed.archive_bucket_name,
            table_name=deployed.table_name,
            glue_database=deployed.glue_database,
            athena_workgroup=deployed.athena_workgroup,
            athena_catalog=deployed.athena_catalog_name,
            pairs=deployed.pairs,
            region=region,
            endpoint_url=endpoint_url,
        )


def load_analytics_settings() -> AnalyticsSettings:
    """cdk.json values; ``TABLE_NAME``, ``ARCHIVE_BUCKET``, ``AWS_ENDPOINT_URL`` and the region override them.

    The cdk.json is this checkout's or ``CRYPTOSTREAM_CDK_JSON``; a bad one raises ``ConfigError`` (one line).
    """
    env = os.environ
    names = AnalyticsSettings.of(
        load_deployment_config(),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
    )
    return replace(
        names,
        archive_bucket=env.get("ARCHIVE_BUCKET") or names.archive_bucket,
        table_name=env.get("TABLE_NAME") or names.table_name,
    )
