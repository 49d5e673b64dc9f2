"""The one configuration: every view of cdk.json (CDK's, the local stack's, the analytics', the cost model's)
comes from ``cryptostream_config.deployment`` and agrees with the others; a bad cdk.json is one ConfigError line."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.settings import load_analytics_settings
from cryptostream_config.deployment import (
    CONTEXT_KEY,
    DEFAULT_CONTEXT,
    REPO_CDK_JSON,
    ConfigError,
    config_from_context,
    load_deployment_config,
    read_cdk_context,
    read_context,
)
from cryptostream_config.local import load_local_settings
from tools.cost.settings import load_cost_settings

ENV_OVERRIDES = (
    "PAIRS",
    "STREAM_NAME",
    "TABLE_NAME",
    "QUARANTINE_QUEUE_NAME",
    "ARCHIVE_BUCKET",
    "HISTORY_TTL_DAYS",
    "WATERMARK_WRITES",
)
OTHER_NAMES = {
    "prefix": "other",
    "pairs": ["doge-eur", "ADA-USD"],
    "stream_name": "other-stream",
    "stream_shards": 2,
    "table_name": "other-table",
    "history_ttl_days": 7,
    "quarantine_queue_name": "other-quarantine",
    "archive_bucket_name": "other-archive",
    "glue_database": "other_db",
    "athena_workgroup": "other-wg",
    "athena_catalog_name": "other-ddb",
    "consumer": {"batch_size": 100},  # the rest of the consumer block comes from the defaults
    "producer_watermark_writes": "transaction",
}


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENV_OVERRIDES, "CRYPTOSTREAM_CDK_JSON"):
        monkeypatch.delenv(name, raising=False)


def _write(directory: Path, block: object) -> Path:
    document = json.loads(REPO_CDK_JSON.read_text())
    document["context"][CONTEXT_KEY] = block
    path = directory / "cdk.json"
    path.write_text(json.dumps(document))
    return path


def _assert_views_agree(cdk_json: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What CDK would deploy from ``cdk_json`` is what the local stack, the analytics and the cost model see."""
    monkeypatch.setenv("CRYPTOSTREAM_CDK_JSON", str(cdk_json))
    deployed = load_deployment_config()
    local, analytics = load_local_settings(), load_analytics_settings()
    cost = load_cost_settings(cdk_json.parent)
    assert local.pairs == analytics.pairs == deployed.pairs
    assert (local.stream_name, local.table_name) == (deployed.stream_name, deployed.table_name)
    assert local.quarantine_queue_name == deployed.quarantine_queue_name
    assert local.archive_bucket_name == analytics.archive_bucket == deployed.archive_bucket_name
    assert analytics.table_name == deployed.table_name
    assert (analytics.glue_database, analytics.athena_workgroup, analytics.athena_catalog) == (
        deployed.glue_database,
        deployed.athena_workgroup,
        deployed.athena_catalog_name,
    )
    assert local.history_ttl_days == cost.history_ttl_days == deployed.history_ttl_days
    assert local.consumer.batch_size == cost.consumer_batch_size == deployed.consumer.batch_size
    assert local.watermark_writes == deployed.producer_watermark_writes
    assert cost.stream_shards == deployed.stream_shards
    assert cost.source == str(cdk_json)


def test_the_built_in_defaults_are_the_repository_cdk_json() -> None:
    assert read_cdk_context(REPO_CDK_JSON)[CONTEXT_KEY] == DEFAULT_CONTEXT


def test_the_repository_cdk_json_reads_the_same_in_every_view(monkeypatch: pytest.MonkeyPatch) -> None:
    # As CDK sees it: the context block with no defaults filled in.
    assert load_deployment_config() == config_from_context(read_cdk_context(REPO_CDK_JSON)[CONTEXT_KEY])
    _assert_views_agree(REPO_CDK_JSON, monkeypatch)
    assert load_local_settings().stream_name == "cryptostream-quotes"


def test_another_cdk_json_with_other_names_reads_the_same_in_every_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = {**copy.deepcopy(DEFAULT_CONTEXT), **OTHER_NAMES}
    cdk_json = _write(tmp_path, block)
    _assert_views_agree(cdk_json, monkeypatch)
    local = load_local_settings()
    assert local.pairs == ("DOGE-EUR", "ADA-USD")
    assert (local.stream_name, local.table_name, local.archive_bucket_name) == (
        "other-stream",
        "other-table",
        "other-archive",
    )
    assert local.consumer.batching_window_seconds == DEFAULT_CONTEXT["consumer"]["batching_window_seconds"]
    assert load_analytics_settings().glue_database == "other_db"


def test_a_partial_block_takes_the_rest_from_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cdk_json = _write(tmp_path, {"table_name": "mine"})
    assert read_context(cdk_json) == {**DEFAULT_CONTEXT, "table_name": "mine"}
    _assert_views_agree(cdk_json, monkeypatch)


def test_no_cdk_json_means_the_built_in_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOSTREAM_CDK_JSON", str(tmp_path / "absent.json"))
    assert read_context() == DEFAULT_CONTEXT
    assert load_deployment_config() == config_from_context(DEFAULT_CONTEXT)
    assert load_local_settings().table_name == DEFAULT_CONTEXT["table_name"]
    assert load_cost_settings(tmp_path).source == "built-in defaults"


def test_environment_overrides_still_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOSTREAM_CDK_JSON", str(_write(tmp_path, OTHER_NAMES)))
    monkeypatch.setenv("TABLE_NAME", "env-table")
    monkeypatch.setenv("PAIRS", "xrp-usd")
    assert (load_local_settings().table_name, load_analytics_settings().table_name) == ("env-table", "env-table")
    assert load_local_settings().pairs == ("XRP-USD",)
    assert load_deployment_config().table_name == "other-table"  # what CDK deploys ignores the environment


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "cannot read {path}: Expecting property name"),
        ('["not", "an", "object"]', "cannot read {path}: expected an object"),
        (json.dumps({"context": {CONTEXT_KEY: 5}}), "{path} context.cryptostream must be an object"),
        (
            json.dumps({"context": {CONTEXT_KEY: {"pairs": ["BTC"]}}}),
            "{path} context.cryptostream.pairs: invalid pair 'BTC'",
        ),
        (
            json.dumps({"context": {CONTEXT_KEY: {"producer_watermark_writes": "sometimes"}}}),
            "{path} context.cryptostream.producer_watermark_writes must be one of per_pair, transaction",
        ),
        (
            json.dumps({"context": {CONTEXT_KEY: {"consumer": {"batch_size": 0}}}}),
            "{path} context.cryptostream.consumer.batch_size must be in [1, 10000], got 0",
        ),
    ],
)
def test_a_bad_cdk_json_is_one_config_error_line_in_every_view(
    content: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cdk.json"
    path.write_text(content)
    monkeypatch.setenv("CRYPTOSTREAM_CDK_JSON", str(path))
    views = (load_deployment_config, load_local_settings, load_analytics_settings, lambda: load_cost_settings(tmp_path))
    for view in views:
        with pytest.raises(ConfigError) as error:
            view()
        assert message.format(path=path) in str(error.value)
        assert "\n" not in str(error.value)


def test_the_cli_says_a_bad_cdk_json_in_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, {"stream_retention_hours": 2})
    env = {
        "CRYPTOSTREAM_HOME": str(tmp_path),
        "CRYPTOSTREAM_CDK_JSON": str(path),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "quote", "BTC-USD"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # no .env of the checkout
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == f"error: {path} context.cryptostream.stream_retention_hours must be in [24, 8760], got 2"
    )


def test_reading_the_configuration_imports_no_cdk() -> None:
    code = (
        "import sys, cryptostream_config.local, analytics.settings, tools.cost.settings;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'constructs', 'jsii')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
