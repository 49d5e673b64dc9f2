"""Build the CDK app from ``cdk.json`` context: used by ``app.py`` and by the infrastructure tests.

The composition root: it reads the configuration, renders what the constructs take as props (the analytics
SQL as Athena named queries, through ``analytics.athena``) and builds the stack. The constructs themselves
import only the configuration model and each other.
"""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import App, CliCredentialsStackSynthesizer, Environment

from analytics.athena import athena_named_queries
from analytics.named_queries import QueryError
from analytics.settings import AnalyticsSettings
from cryptostream_config.deployment import (
    CONTEXT_KEY,
    REPO_CDK_JSON,
    ConfigError,
    DeploymentConfig,
    config_from_context,
    merged_context,
    read_cdk_context,
)
from infra.catalog import RenderedQuery
from infra.nag import enable_nag
from infra.stack import CryptostreamStack


def stack_name(config: DeploymentConfig) -> str:
    return config.prefix


def environment(app: App) -> Environment:
    """Account and region from context (``account``/``region``), else the CLI's defaults."""
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION")
    return Environment(account=account, region=region)


def cdk_json_context() -> dict[str, Any]:
    """``cdk.json``'s context, so ``python app.py`` synthesizes the same app as ``cdk synth``."""
    return read_cdk_context(REPO_CDK_JSON)


def named_queries(config: DeploymentConfig) -> list[RenderedQuery]:
    """The analytics queries rendered for this deployment's Athena (none when ``athena_named_queries`` is off)."""
    if not config.athena_named_queries:
        return []
    try:
        return list(athena_named_queries(AnalyticsSettings.of(config)))
    except QueryError as exc:
        raise ConfigError(str(exc)) from None


def _flag(app: App, key: str) -> bool:
    return str(app.node.try_get_context(key)).lower() in ("true", "1")


def build_app(*, outdir: str | None = None, context: dict[str, Any] | None = None) -> tuple[App, CryptostreamStack]:
    """The App with its one stack and cdk-nag enabled; ``context`` overrides cdk.json (the CLI's wins)."""
    base = cdk_json_context()
    app = App(outdir=outdir, context={**base, **(context or {})})
    # The CLI's -c cryptostream='{...}' arrives as a JSON string: merge it over cdk.json's block.
    config = config_from_context(merged_context(base.get(CONTEXT_KEY) or {}, app.node.try_get_context(CONTEXT_KEY)))
    skip = _flag(app, "skip_layer_bundling")
    # Assets and deployment with the caller's own credentials instead of the bootstrap roles: for an
    # emulator whose IAM enforcement cannot follow the CDK CLI's role chain (docs/infrastructure.md).
    synthesizer = CliCredentialsStackSynthesizer() if _flag(app, "cli_credentials") else None
    stack = CryptostreamStack(
        app,
        stack_name(config),
        config=config,
        named_queries=named_queries(config),
        env=environment(app),
        skip_layer_bundling=skip,
        synthesizer=synthesizer,
    )
    enable_nag(app)
    return app, stack
