"""Build the CDK app from ``cdk.json`` context: used by ``app.py`` and by the infrastructure tests."""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import App, Environment

from infra.config import CONTEXT_KEY, REPO_CDK_JSON, Config, load_config, read_cdk_context
from infra.nag import enable_nag
from infra.stack import CryptostreamStack


def stack_name(config: Config) -> str:
    return config.prefix


def environment(app: App) -> Environment:
    """Account and region from context (``account``/``region``), else the CLI's defaults."""
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION")
    return Environment(account=account, region=region)


def cdk_json_context() -> dict[str, Any]:
    """``cdk.json``'s context, so ``python app.py`` synthesizes the same app as ``cdk synth``."""
    return read_cdk_context(REPO_CDK_JSON)


def build_app(*, outdir: str | None = None, context: dict[str, Any] | None = None) -> tuple[App, CryptostreamStack]:
    """The App with its one stack and cdk-nag enabled; ``context`` overrides cdk.json (the CLI's wins)."""
    app = App(outdir=outdir, context={**cdk_json_context(), **(context or {})})
    config = load_config(app.node.try_get_context(CONTEXT_KEY))
    skip = str(app.node.try_get_context("skip_layer_bundling")).lower() in ("true", "1")
    stack = CryptostreamStack(app, stack_name(config), config=config, env=environment(app), skip_layer_bundling=skip)
    enable_nag(app)
    return app, stack
