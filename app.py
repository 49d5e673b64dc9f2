#!/usr/bin/env python3
"""CDK entry point: ``npx cdk synth`` / ``cdk deploy`` run this (see cdk.json ``app``); so can ``python app.py``."""

from __future__ import annotations

import sys

from cryptostream_config.deployment import ConfigError
from infra.app_factory import build_app
from infra.assets import LayerBuildError


def main() -> int:
    try:
        app, _ = build_app()
        app.synth()
    except (ConfigError, LayerBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        # cdk-nag findings: CDK has printed each one above; the report's path is in this message.
        if str(exc).startswith("ValidationFailed"):
            print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
