"""The emulator's variant: what `make test-deployed` deploys is the real app minus what MiniStack can't build."""

from __future__ import annotations

import json

import pytest

from cryptostream_config.deployment import CONTEXT_KEY, ConfigError, config_from_context, merged_context
from infra.app_factory import cdk_json_context

pytestmark = pytest.mark.infra

LEFT_OUT = (
    "AWS::Serverless::Application",
    "AWS::Athena::DataCatalog",
    "AWS::Athena::NamedQuery",
    "AWS::KinesisAnalyticsV2::Application",
    "AWS::LakeFormation::DataLakeSettings",
    "AWS::LakeFormation::Resource",
    "AWS::LakeFormation::PrincipalPermissions",
)


def test_a_json_string_block_is_merged_over_cdk_json() -> None:
    base = cdk_json_context()[CONTEXT_KEY]
    merged = merged_context(base, json.dumps({"flink_studio": False, "consumer": {"batch_size": 10}}))
    config = config_from_context(merged)
    assert config.flink_studio is False
    assert config.consumer.batch_size == 10
    assert config.consumer.max_retries == base["consumer"]["max_retries"]  # the rest of consumer kept
    assert config.pairs == tuple(base["pairs"])


def test_a_bad_json_string_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"-c cryptostream=\.\.\.: not valid JSON") as error:
        merged_context({}, "{flink_studio: false")
    assert "\n" not in str(error.value)


def test_the_emulator_variant_leaves_out_only_what_the_emulator_cannot_build(emulator, synth) -> None:
    types = {r["Type"] for r in emulator.raw["Resources"].values()}
    assert not types & set(LEFT_OUT)
    assert "Transform" not in emulator.raw  # no SAM transform: no CAPABILITY_AUTO_EXPAND needed
    default_types = {r["Type"] for r in synth.raw["Resources"].values()}
    assert {"AWS::Serverless::Application", "AWS::Athena::DataCatalog", "AWS::Athena::NamedQuery",
            "AWS::LakeFormation::PrincipalPermissions"} <= default_types  # fmt: skip
    # Everything the pipeline runs on is still there.
    for kind in (
        "AWS::Kinesis::Stream",
        "AWS::Lambda::EventSourceMapping",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::DynamoDB::Table",
        "AWS::Scheduler::Schedule",
        "AWS::Glue::Table",
        "AWS::Athena::WorkGroup",
    ):
        assert kind in types, kind


def test_without_federation_the_analyst_cannot_invoke_a_connector_that_is_not_there(emulator) -> None:
    policy = next(iter(emulator.resources("AWS::IAM::ManagedPolicy").values()))
    actions = {
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert "lambda:InvokeFunction" not in actions and "athena:GetDataCatalog" not in actions
    assert "athena:StartQueryExecution" in actions


def test_the_producer_reaches_the_market_through_config(emulator) -> None:
    producer = emulator.raw["Resources"][emulator.logical_id(emulator.stack.ingestion.function)]
    assert producer["Properties"]["Environment"]["Variables"]["ALPHAVANTAGE_BASE_URL"] == "http://127.0.0.1:9/query"


def test_cli_credentials_uses_no_bootstrap_roles(emulator, synth) -> None:
    # The default synthesizer checks the bootstrap version; the CLI-credentials one has no such rule.
    assert "CheckBootstrapVersion" in synth.raw.get("Rules", {})
    assert "CheckBootstrapVersion" not in emulator.raw.get("Rules", {})
