"""What the deployed-app proof changes in cdk.json for the emulator, and nothing else.

Each switch leaves out what MiniStack cannot provision (docs/infrastructure.md, "Verified by deployment"),
or makes the stack disposable so destroy-then-deploy can be proven; every other setting is cdk.json's.
"""

from __future__ import annotations

import json
from typing import Any

# Leaves out: the Serverless Application Repository connector (SAM transform) and its Athena data catalog,
# Athena named queries, and Flink Studio (ZEPPELIN-FLINK-3_0) — none is provisioned by the emulator.
EMULATOR_OVERRIDES: dict[str, Any] = {
    "athena_federation": False,
    "athena_named_queries": False,
    "flink_studio": False,
    # Disposable: `cdk destroy` must remove everything so the redeploy proves there is no name clash.
    "retain_data": False,
    "table_deletion_protection": False,
    # CDK's bucket-emptying custom resource runs a Node.js handler MiniStack cannot load (no @aws-sdk/client-s3
    # in its local executor): the create would wait on a response that never comes. Buckets go without it here.
    "bucket_auto_delete": False,
}


def emulator_block(market_url: str) -> dict[str, Any]:
    """The overrides plus the producer's way to the market simulator (``alphavantage_base_url``)."""
    return {**EMULATOR_OVERRIDES, "alphavantage_base_url": market_url}


def cdk_context_args(market_url: str) -> list[str]:
    """``-c`` arguments for the CDK CLI: the block as the JSON string the CLI hands the app, merged over cdk.json."""
    return ["-c", f"cryptostream={json.dumps(emulator_block(market_url))}", "-c", "cli_credentials=true"]
