"""One synthesis per test session: the default app (real layer bundling, cached) and a few variants.

jsii costs seconds per process and each synthesis about one more, so every infra test module reads
these session fixtures instead of building its own App.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from aws_cdk.assertions import Template  # noqa: E402

from cryptostream_config.deployment import CONTEXT_KEY  # noqa: E402
from infra.app_factory import build_app, cdk_json_context  # noqa: E402
from infra.assets import LayerBuildError  # noqa: E402

FREE_TIER_PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "free-tier.json"


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    template_path: Path
    raw: dict[str, Any]
    template: Template
    stack: Any

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> dict[str, Any]:
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return found[0]["Properties"]

    def logical_id(self, construct: Any) -> str:
        child = getattr(construct.node, "default_child", None) or construct
        return self.stack.get_logical_id(child)

    def statements_of(self, role: Any) -> list[dict[str, Any]]:
        """Every IAM statement attached to ``role`` (inline policies of this stack)."""
        ref = {"Ref": self.logical_id(role)}
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if ref in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def actions_of(self, role: Any) -> set[str]:
        actions: set[str] = set()
        for statement in self.statements_of(role):
            value = statement["Action"]
            actions.update([value] if isinstance(value, str) else value)
        return actions

    def asset_dir(self, construct: Any) -> Path:
        """Staged asset directory of a Lambda function or layer."""
        props = self.raw["Resources"][self.logical_id(construct)]["Properties"]
        s3_key = (props.get("Code") or props.get("Content"))["S3Key"]
        return self.outdir / f"asset.{s3_key.removesuffix('.zip')}"


def _synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synthesized:
    app, stack = build_app(outdir=str(outdir), context=context)
    app.synth()
    template_path = outdir / f"{stack.stack_name}.template.json"
    raw = json.loads(template_path.read_text())
    return Synthesized(outdir, template_path, raw, Template.from_json(raw), stack)


def variant_context() -> dict[str, Any]:
    """Every switch flipped: no Flink, e-mail alarms, an on-demand stream, throwaway data, stub layer, an env,
    the free-tier profile."""
    block = copy.deepcopy(cdk_json_context()[CONTEXT_KEY])
    block.update(
        flink_studio=False,
        alarm_email="ops@example.com",
        stream_shards=0,
        retain_data=False,
        table_deletion_protection=False,
        producer_reserved_concurrency=0,
        producer_watermark_writes="transaction",
        alphavantage_base_url="https://alpha.example.com/query",
        lake_formation_admins=["arn:aws:iam::123456789012:role/data-platform-admin"],
    )
    block.update(json.loads(FREE_TIER_PROFILE.read_text()))  # free_tier: the schedules and budget of a free key
    # A concrete environment renders ARNs with literal partition and region (acknowledgements must follow).
    return {CONTEXT_KEY: block, "skip_layer_bundling": True, "account": "123456789012", "region": "eu-west-1"}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The app as ``cdk synth`` builds it, with the real layer; offline with a cold pip cache, the stub."""
    try:
        yield _synthesize(tmp_path_factory.mktemp("cdk-default"))
    except LayerBuildError as exc:
        warnings.warn(f"{exc}; synthesizing with the stub layer", stacklevel=1)
        yield _synthesize(tmp_path_factory.mktemp("cdk-default-stub"), {"skip_layer_bundling": True})


@pytest.fixture(scope="session")
def regional(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The default configuration in a concrete account and region, as ``cdk synth`` with a profile renders it."""
    context = {"skip_layer_bundling": True, "account": "123456789012", "region": "ap-southeast-2"}
    yield _synthesize(tmp_path_factory.mktemp("cdk-regional"), context)


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield _synthesize(tmp_path_factory.mktemp("cdk-variant"), variant_context())


def throwaway_context() -> dict[str, Any]:
    """A trial deployment: the default app (Flink included) with nothing kept after ``cdk destroy``."""
    block = copy.deepcopy(cdk_json_context()[CONTEXT_KEY])
    block.update(retain_data=False, table_deletion_protection=False)
    return {CONTEXT_KEY: block, "skip_layer_bundling": True}


@pytest.fixture(scope="session")
def throwaway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield _synthesize(tmp_path_factory.mktemp("cdk-throwaway"), throwaway_context())


PROOF_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:cryptostream/alphavantage-proof-AbCdEf"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The app as ``make test-deployed`` deploys it to MiniStack: the CLI's JSON-string block over cdk.json."""
    from tools.deployed.context import emulator_block

    context = {
        CONTEXT_KEY: json.dumps(emulator_block("http://127.0.0.1:9/query", PROOF_SECRET_ARN)),
        "cli_credentials": "true",
        "skip_layer_bundling": True,
    }
    yield _synthesize(tmp_path_factory.mktemp("cdk-emulator"), context)
