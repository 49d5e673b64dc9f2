"""One source per (pair, interval): cdk.json schedules and local settings refuse an overlap, naming both."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cryptostream_config.deployment import DEFAULT_CONTEXT, ConfigError, config_from_context
from cryptostream_config.local import load_local_settings
from cryptostream_model.sources import SourceOverlap, decode_owners, encode_owners


def _block(*extra_schedules: dict, **keys: object) -> dict:
    block = copy.deepcopy(DEFAULT_CONTEXT)
    block["schedules"].extend(extra_schedules)
    block.update(keys)
    return block


def _coinbase(interval: str = "1min", pairs: list[str] | None = None, name: str = "coinbase-1min") -> dict:
    schedule: dict = {"name": name, "interval": interval, "rate_minutes": 1, "source": "coinbase", "payload": {}}
    if pairs is not None:
        schedule["payload"]["pairs"] = pairs
    return schedule


def test_default_configuration_is_alpha_vantage_only() -> None:
    config = config_from_context(_block())
    assert config.source == "alphavantage"
    assert set(config.source_owners.values()) == {"alphavantage"}


def test_a_schedule_names_its_source_and_owns_its_pairs() -> None:
    config = config_from_context(_block(_coinbase(pairs=["btc-usd"])))
    assert config.source_owners[("BTC-USD", "1min")] == "coinbase"
    assert ("ETH-USD", "1min") not in config.source_owners  # no schedule: the default source's


def test_overlap_is_refused_naming_both_schedules() -> None:
    with pytest.raises(ConfigError) as refused:
        config_from_context(_block(_coinbase(interval="5min", pairs=["ETH-USD"])))
    message = str(refused.value)
    assert "ETH-USD 5min" in message and "'intraday-5min' (alphavantage)" in message
    assert "'coinbase-1min' (coinbase)" in message and "\n" not in message


def test_two_exchange_schedules_on_one_series_are_refused() -> None:
    kraken = {**_coinbase(pairs=["SOL-USD"], name="kraken-1min"), "source": "kraken"}
    with pytest.raises(ConfigError, match="SOL-USD 1min is claimed by two sources.*coinbase.*kraken"):
        config_from_context(_block(_coinbase(), kraken))


def test_same_source_twice_on_one_series_is_not_an_overlap() -> None:
    backfill = {"name": "cb-backfill", "interval": "1min", "cron": "0 1 * * ? *", "source": "coinbase",
                "payload": {"mode": "full"}}  # fmt: skip
    config = config_from_context(_block(_coinbase(), backfill))
    assert config.source_owners[("SOL-USD", "1min")] == "coinbase"


def test_disjoint_pairs_of_one_interval_may_have_different_sources() -> None:
    kraken = {**_coinbase(pairs=["SOL-USD"], name="kraken-1min"), "source": "kraken"}
    config = config_from_context(_block(_coinbase(pairs=["BTC-USD", "ETH-USD"]), kraken))
    assert config.source_owners[("SOL-USD", "1min")] == "kraken"
    assert config.source_owners[("ETH-USD", "1min")] == "coinbase"


def test_default_source_switch_moves_every_unnamed_schedule() -> None:
    config = config_from_context(
        _block(source="kraken") | {"schedules": [s for s in DEFAULT_CONTEXT["schedules"] if s["interval"] != "5min"]}
    )
    assert set(config.source_owners.values()) == {"kraken"}


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (_coinbase(interval="30min"), "coinbase has no 30min data"),
        ({**_coinbase(), "source": "binance"}, "source must be one of alphavantage, coinbase, kraken"),
        ({**_coinbase(), "payload": {"source": "kraken"}}, "payload source 'kraken' differs from source 'coinbase'"),
        (_coinbase(pairs=["BTCUSD"]), "payload.pairs: invalid pair"),
    ],
)
def test_bad_source_settings_are_one_line(schedule: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_context(_block(schedule))


def test_unknown_default_source() -> None:
    with pytest.raises(ConfigError, match="context.cryptostream.source must be one of"):
        config_from_context(_block(source="coinbasepro"))


def test_local_settings_check_the_overlap_with_their_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cdk_json = tmp_path / "cdk.json"
    block = {"schedules": [_coinbase(pairs=["BTC-USD"]), {**_coinbase(name="av-1min"), "source": None}]}
    block["schedules"][1].pop("source")
    block["schedules"][1]["payload"] = {"pairs": ["ETH-USD"]}
    cdk_json.write_text(json.dumps({"context": {"cryptostream": block}}))
    settings = load_local_settings(cdk_json)
    assert settings.source_owners == {("BTC-USD", "1min"): "coinbase", ("ETH-USD", "1min"): "alphavantage"}
    assert settings.producer_source_env == {"SOURCE": "alphavantage", "SOURCE_OWNERS": "coinbase:1min=BTC-USD"}
    monkeypatch.setenv("SOURCE", "coinbase")  # the schedule without a source now is coinbase's too: no overlap
    assert set(load_local_settings(cdk_json).source_owners.values()) == {"coinbase"}
    monkeypatch.setenv("SOURCE", "kraken")  # ...but kraken's ETH-USD beside coinbase's BTC-USD is fine as well
    assert load_local_settings(cdk_json).source_owners[("ETH-USD", "1min")] == "kraken"
    monkeypatch.setenv("SOURCE", "nope")
    with pytest.raises(ConfigError, match="SOURCE must be one of"):
        load_local_settings(cdk_json)


def test_local_pairs_override_can_create_an_overlap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cdk_json = tmp_path / "cdk.json"
    unnamed = {"name": "av-1min", "interval": "1min", "rate_minutes": 1, "payload": {}}
    block = {"pairs": ["ETH-USD"], "schedules": [_coinbase(pairs=["BTC-USD"]), unnamed]}
    cdk_json.write_text(json.dumps({"context": {"cryptostream": block}}))
    load_local_settings(cdk_json)
    monkeypatch.setenv("PAIRS", "BTC-USD,ETH-USD")  # the unnamed schedule now claims BTC-USD 1min as well
    with pytest.raises(ConfigError, match="BTC-USD 1min is claimed by two sources"):
        load_local_settings(cdk_json)


def test_owners_round_trip_through_the_environment() -> None:
    owners = {("BTC-USD", "1min"): "coinbase", ("ETH-USD", "1min"): "coinbase", ("SOL-USD", "spot"): "kraken",
              ("ADA-USD", "5min"): "alphavantage"}  # fmt: skip
    text = encode_owners(owners, "alphavantage")
    assert text == "coinbase:1min=BTC-USD,ETH-USD;kraken:spot=SOL-USD"
    assert decode_owners(text) == {k: v for k, v in owners.items() if v != "alphavantage"}
    assert decode_owners("") == {}
    with pytest.raises(SourceOverlap):
        decode_owners("coinbase:1min=BTC-USD;kraken:1min=BTC-USD")
    with pytest.raises(ValueError, match="not source:interval=PAIR"):
        decode_owners("coinbase=BTC-USD")
