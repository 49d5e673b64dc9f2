"""The deployment configuration: cdk.json is valid, and bad values fail in one line naming the key."""

from __future__ import annotations

import copy

import pytest

from cryptostream_config.deployment import CONTEXT_KEY, ConfigError, config_from_context
from infra.app_factory import cdk_json_context

pytestmark = pytest.mark.infra


def _block(**changes: object) -> dict:
    block = copy.deepcopy(cdk_json_context()[CONTEXT_KEY])
    block.update(changes)
    return block


def test_cdk_json_loads_with_the_local_stack_names() -> None:
    config = config_from_context(_block())
    assert config.stream_name == "cryptostream-quotes"
    assert config.table_name == "cryptostream-quotes"
    assert config.quarantine_queue_name == "cryptostream-quarantine"
    assert config.symbols == ("BTC", "ETH", "SOL") and config.markets == ("USD",)
    assert [s.name for s in config.schedules] == ["intraday-5min", "spot-1min", "daily-backfill"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pairs": ["BTCUSD"]}, "pairs: invalid pair 'BTCUSD'"),
        ({"pairs": []}, "pairs is empty"),
        ({"stream_shards": -1}, "stream_shards must be >= 0"),
        ({"stream_retention_hours": 2}, "stream_retention_hours must be in [24, 8760]"),
        ({"table_deletion_protection": "yes"}, "table_deletion_protection must be bool"),
        ({"firehose_buffer_mib": 5}, "firehose_buffer_mib must be in [64, 128]"),
        ({"athena_catalog_name": "Bad Name"}, "athena_catalog_name='Bad Name' does not match"),
        ({"log_retention_days": 10}, "log_retention_days must be one of"),
        ({"consumer": {"batch_size": 0}}, "consumer.batch_size must be in [1, 10000]"),
        ({"consumer": {"parallelization_factor": True}}, "consumer.parallelization_factor must be int"),
        ({"schedules": [{"name": "x", "interval": "7min", "rate_minutes": 7}]}, "interval must be one of"),
        ({"schedules": [{"name": "x", "interval": "spot"}]}, "needs exactly one of rate_minutes or cron"),
        ({"schedules": [{"name": "x", "interval": "1d", "cron": "0 0 * * *"}]}, "cron must have 6 fields"),
        (
            {"schedules": [{"name": "x", "interval": "spot", "rate_minutes": 1, "payload": {"interval": "1d"}}]},
            "payload interval '1d' differs from interval 'spot'",
        ),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_key(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_context(_block(**changes))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_block_is_one_line() -> None:
    with pytest.raises(ConfigError, match="context.cryptostream is missing"):
        config_from_context(None)


def test_optional_keys_have_defaults() -> None:
    minimal = {k: v for k, v in _block().items() if k not in ("athena_connector_version", "retain_data")}
    config = config_from_context(minimal)
    assert config.retain_data is True
    assert config.athena_connector_version != "2022.47.1"  # the placeholder in the connector's master template


def test_app_py_reports_a_bad_configuration_in_one_line() -> None:
    """What a user sees from ``cdk synth`` with a broken context: one line, exit 2, no traceback."""
    import json
    import os
    import subprocess
    import sys

    from infra.assets import REPO_ROOT

    bad = _block(pairs=["BTC"])
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({CONTEXT_KEY: bad})}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: cdk.json context.cryptostream.pairs: invalid pair 'BTC': expected SYMBOL-MARKET, e.g. BTC-USD"
    )
    assert "Traceback" not in result.stderr
