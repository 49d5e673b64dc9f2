"""Ingestion: the producer, its layer (built without Docker), its secret, schedules and permissions."""

from __future__ import annotations

import json

import pytest

from infra.assets import STUB_MARKER

pytestmark = pytest.mark.infra


def _producer(synth) -> dict:
    return synth.raw["Resources"][synth.logical_id(synth.stack.ingestion.function)]["Properties"]


def test_producer_handler_runtime_and_environment(synth) -> None:
    props = _producer(synth)
    assert props["Handler"] == "producer.handler.lambda_handler"
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["x86_64"]
    env = props["Environment"]["Variables"]
    assert env["PAIRS"] == "BTC-USD,ETH-USD,SOL-USD"
    assert env["INTERVAL"] == "5min"
    assert env["POWERTOOLS_SERVICE_NAME"] == "cryptostream-producer"
    assert env["ALPHAVANTAGE_SECRET_ARN"] == {"Ref": synth.logical_id(synth.stack.ingestion.secret)}
    assert env["STREAM_NAME"] == {"Ref": synth.logical_id(synth.stack.stream.stream)}
    assert env["TABLE_NAME"] == {"Ref": synth.logical_id(synth.stack.table.table)}
    assert int(env["PRODUCER_LEASE_SECONDS"]) > props["Timeout"]  # a lease outlives the run that holds it
    assert env["WATERMARK_WRITES"] == "per_pair"  # cdk.json producer_watermark_writes
    assert env["SOURCE"] == "alphavantage" and env["SOURCE_OWNERS"] == ""  # every schedule is the default source's
    assert not any("API_KEY" in name for name in env), "the API key never travels as plaintext environment"
    assert props["Layers"] == [{"Ref": synth.logical_id(synth.stack.ingestion.layer)}]
    assert props["ReservedConcurrentExecutions"] == 3  # one per schedule; the lease serialises each schedule
    assert props["TracingConfig"] == {"Mode": "Active"}


def test_optional_base_url_and_unreserved_concurrency(variant) -> None:
    props = _producer(variant)
    assert props["Environment"]["Variables"]["ALPHAVANTAGE_BASE_URL"] == "https://alpha.example.com/query"
    assert props["Environment"]["Variables"]["WATERMARK_WRITES"] == "transaction"
    assert "ReservedConcurrentExecutions" not in props


def _producer_schedules(synthesized) -> dict[str, dict]:
    """The producer's schedules by name (the rollups' is tests/infra/test_rollups.py's)."""
    group = synthesized.stack.config.resource_name("producer")  # the producer's schedule group
    return {
        p["Properties"]["Name"]: p["Properties"]
        for p in synthesized.resources("AWS::Scheduler::Schedule").values()
        if p["Properties"]["GroupName"] == group
    }


def test_free_tier_deploys_the_daily_request_budget_and_its_schedules(synth, variant) -> None:
    assert "ALPHAVANTAGE_DAILY_REQUESTS" not in _producer(synth)["Environment"]["Variables"]  # premium: no budget
    assert _producer(variant)["Environment"]["Variables"]["ALPHAVANTAGE_DAILY_REQUESTS"] == "25"
    schedules = _producer_schedules(variant).values()
    assert {props["Name"]: props["ScheduleExpression"] for props in schedules} == {
        "cryptostream-spot-4h": "rate(4 hours)",
        "cryptostream-daily-backfill": "cron(15 0 * * ? *)",
    }


def test_producer_may_publish_and_keep_watermarks_and_leases(synth) -> None:
    """The actions the producer's calls need (proven call by call in test_permissions.py), and none it never calls."""
    actions = synth.actions_of(synth.stack.ingestion.role)
    assert "kinesis:PutRecords" in actions
    # BatchGetItem reads the watermarks on every run; without it no scheduled run gets past its first request.
    assert {f"dynamodb:{a}" for a in ("BatchGetItem", "GetItem", "PutItem", "UpdateItem", "DeleteItem")} <= actions
    assert "secretsmanager:GetSecretValue" in actions
    assert {"kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"} <= actions
    never_called = {"kinesis:PutRecord", "kinesis:ListShards", "kinesis:DescribeStreamSummary", "dynamodb:Query"}
    never_called |= {"dynamodb:Scan", "dynamodb:TransactWriteItems", "secretsmanager:DescribeSecret", "kms:ReEncrypt*"}
    assert not actions & never_called
    assert not any("*" in a for a in actions if not a.startswith("xray:"))


def test_secret_is_encrypted_with_the_stack_key(synth) -> None:
    props = synth.one("AWS::SecretsManager::Secret")
    assert props["Name"] == "cryptostream/alphavantage"  # the local stack's secret name
    assert props["KmsKeyId"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.ingestion.key), "Arn"]}


def test_one_schedule_per_configured_entry_with_its_payload(synth) -> None:
    schedules = _producer_schedules(synth)
    assert {name: props["ScheduleExpression"] for name, props in schedules.items()} == {
        "cryptostream-intraday-5min": "rate(5 minutes)",
        "cryptostream-spot-1min": "rate(1 minute)",
        "cryptostream-daily-backfill": "cron(15 0 * * ? *)",
    }
    payloads = {name: json.loads(props["Target"]["Input"]) for name, props in schedules.items()}
    # every schedule names its source (cdk.json "source" when the schedule names none)
    source = {"source": "alphavantage"}
    assert payloads["cryptostream-intraday-5min"] == {"mode": "incremental", "interval": "5min", **source}
    assert payloads["cryptostream-spot-1min"] == {"mode": "incremental", "interval": "spot", **source}
    assert payloads["cryptostream-daily-backfill"] == {"mode": "full", "interval": "1d", **source}
    producer_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.ingestion.function), "Arn"]}
    dlq_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.ingestion.dead_letter_queue), "Arn"]}
    for props in schedules.values():
        assert props["Target"]["Arn"] == producer_arn
        assert props["Target"]["DeadLetterConfig"] == {"Arn": dlq_arn}
        assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 2


def test_layer_holds_dependencies_and_shared_packages_but_not_the_sdk(synth) -> None:
    python = synth.asset_dir(synth.stack.ingestion.layer) / "python"
    if (python.parent / STUB_MARKER).exists():
        pytest.skip("CRYPTOSTREAM_SKIP_LAYER_BUNDLING=1: stub layer")
    for package in ("aws_lambda_powertools", "alpha_vantage", "requests", "ccxt", "cryptography", "cryptostream_model",
                    "cryptostream_runtime"):  # fmt: skip
        assert (python / package / "__init__.py").exists(), package
    # CCXT's synchronous exchanges only: its asyncio and websocket clients and test data stay out.
    for pruned in ("async_support", "pro", "test"):
        assert not (python / "ccxt" / pruned).exists(), pruned
    # cffi's backend for the runtime and for an emulator running the functions on 3.11 (MiniStack).
    assert {p.name.split(".")[1] for p in python.glob("_cffi_backend.*.so")} == {
        "cpython-314-x86_64-linux-gnu",
        "cpython-311-x86_64-linux-gnu",
    }
    # Nothing no function imports: Powertools' parser extra (pydantic), alpha_vantage's async client (aiohttp).
    for unused in ("pydantic", "pydantic_core", "aiohttp", "yarl", "multidict", "frozenlist", "propcache"):
        assert not (python / unused).exists(), unused
    # Wheels for the runtime (CPython 3.14, x86_64 Linux), not for the machine that synthesized.
    assert list((python / "charset_normalizer").glob("*.cpython-314-x86_64-linux-gnu.so"))
    assert not list(python.glob("boto3*")) and not list(python.glob("botocore*"))
    assert not list(python.rglob("__pycache__"))


def test_stub_layer_is_marked_undeployable(variant) -> None:
    asset = variant.asset_dir(variant.stack.ingestion.layer)
    assert (asset / STUB_MARKER).exists()
    assert (asset / "python" / "cryptostream_model" / "__init__.py").exists()
    assert (asset / "python" / "cryptostream_runtime" / "__init__.py").exists()


def test_function_assets_import_as_their_handler_path(synth) -> None:
    producer = synth.asset_dir(synth.stack.ingestion.function)
    consumer = synth.asset_dir(synth.stack.processing.function)
    assert (producer / "producer" / "__init__.py").exists()
    assert (consumer / "consumer" / "__init__.py").exists()
    assert not (producer / "consumer").exists() and not (consumer / "producer").exists()
    assert not list(producer.rglob("*.pyc"))
