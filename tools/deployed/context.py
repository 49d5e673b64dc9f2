"""What the deployed-app proof changes in cdk.json for the emulator, and nothing else.

Each switch leaves out what MiniStack cannot provision (docs/infrastructure.md, "Verified by deployment"),
or makes the stack disposable so destroy-then-deploy can be proven; every other setting is cdk.json's.
"""

from __future__ import annotations

import json
from typing import Any

# Leaves out: the Serverless Application Repository connector (SAM transform) and its Athena data catalog,
# Athena named queries, Flink Studio (ZEPPELIN-FLINK-3_0) and Lake Formation — none is provisioned by the emulator.
EMULATOR_OVERRIDES: dict[str, Any] = {
    "athena_federation": False,
    "athena_named_queries": False,
    "flink_studio": False,
    # AWS::LakeFormation::* (settings, locations, grants) is not provisioned by MiniStack's CloudFormation.
    "lake_formation": False,
    # Disposable: `cdk destroy` must remove everything so the redeploy proves there is no name clash.
    "retain_data": False,
    "table_deletion_protection": False,
    # CDK's bucket-emptying custom resource runs a Node.js handler MiniStack cannot load (no @aws-sdk/client-s3
    # in its local executor): the create would wait on a response that never comes. Buckets go without it here.
    "bucket_auto_delete": False,
    # The rollups schedule fires within the minute the proof already waits for the producer's, proving that
    # EventBridge Scheduler starts the state machine under its role (the proof then pauses it and runs its own).
    "rollup_schedule": "rate(1 minute)",
}


def emulator_block(market_url: str, secret_arn: str) -> dict[str, Any]:
    """The overrides, the producer's way to the market simulator, and the API key secret to use.

    The secret is an existing one (``alphavantage_secret_arn``, a supported configuration), created by the
    proof before the deploy: MiniStack 1.5.33's CloudFormation answers ``Ref`` of a stack-owned secret with
    its *name* where AWS answers its ARN, so under ``AUTH=true`` the producer's grant on its own secret names
    a resource no request can match. With a full ARN in the grant, the emulator enforces it as AWS would.
    """
    return {**EMULATOR_OVERRIDES, "alphavantage_base_url": market_url, "alphavantage_secret_arn": secret_arn}


def cdk_context_args(market_url: str, secret_arn: str) -> list[str]:
    """``-c`` arguments for the CDK CLI: the block as the JSON string the CLI hands the app, merged over cdk.json."""
    block = emulator_block(market_url, secret_arn)
    return ["-c", f"cryptostream={json.dumps(block)}", "-c", "cli_credentials=true"]
