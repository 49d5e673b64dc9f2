"""cdk.json's ``free_tier``: schedules a free Alpha Vantage key answers, within its daily requests."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cryptostream_config.deployment import (
    DEFAULT_CONTEXT,
    ConfigError,
    ScheduleConfig,
    config_from_context,
    with_defaults,
)
from cryptostream_config.free_tier import requests_per_day, runs_per_day

PROFILE = Path(__file__).resolve().parents[1] / "profiles" / "free-tier.json"


def schedule(name: str = "s", interval: str = "spot", **when) -> ScheduleConfig:
    return ScheduleConfig(name=name, interval=interval, payload={}, **when)


@pytest.mark.parametrize(
    ("when", "runs"),
    [
        ({"rate_minutes": 1}, 1440),
        ({"rate_minutes": 240}, 6),
        ({"rate_minutes": 7}, 206),  # 1440 / 7 = 205.7: the day's last run still fires
        ({"cron": "15 0 * * ? *"}, 1),
        ({"cron": "0 */6 * * ? *"}, 4),
        ({"cron": "0,30 9-17 ? * MON-FRI *"}, 18),
        ({"cron": "*/15 * * * ? *"}, 96),
        ({"cron": "5/20 * * * ? *"}, 72),
    ],
)
def test_runs_per_day(when, runs):
    assert runs_per_day(schedule(**when)) == runs


def test_requests_count_runs_times_pairs_of_alpha_vantage_schedules_only():
    schedules = (
        schedule("spot", rate_minutes=240),
        schedule("daily", "1d", cron="15 0 * * ? *", pairs=("BTC-USD",)),
        schedule("exchange", "1min", rate_minutes=1, source="coinbase"),
    )
    assert requests_per_day(schedules, pairs=3) == 6 * 3 + 1 * 1


def free(**block) -> dict:
    return with_defaults({"free_tier": True, **block})


def test_the_shipped_profile_fits_the_free_key_and_sets_the_budget():
    config = config_from_context(with_defaults(json.loads(PROFILE.read_text())))
    assert config.free_tier and config.daily_request_budget == 25
    assert requests_per_day(config.schedules, len(config.pairs)) == 21  # 6 spot runs + 1 daily, x 3 pairs


def test_the_default_deployment_keeps_no_budget():
    config = config_from_context(copy.deepcopy(DEFAULT_CONTEXT))
    assert not config.free_tier and config.daily_request_budget is None


def test_a_premium_interval_is_refused_in_one_line():
    with pytest.raises(ConfigError) as caught:
        config_from_context(free())
    assert str(caught.value) == (
        "cdk.json context.cryptostream.free_tier: schedule 'intraday-5min' asks CRYPTO_INTRADAY (5min), a premium "
        "Alpha Vantage function; a free key can use interval spot or 1d"
    )


def test_schedules_over_the_budget_are_refused_naming_the_numbers():
    profile = json.loads(PROFILE.read_text())
    profile["schedules"][0]["rate_minutes"] = 60
    with pytest.raises(ConfigError) as caught:
        config_from_context(with_defaults(profile))
    assert str(caught.value) == (
        "cdk.json context.cryptostream.free_tier: the schedules ask 75 Alpha Vantage requests a day "
        "(spot-4h 24 runs x 3 pairs, daily-backfill 1 runs x 3 pairs), over the budget of 25 "
        "(alphavantage_daily_requests)"
    )
    assert "\n" not in str(caught.value)


def test_more_pairs_need_sparser_schedules():
    profile = json.loads(PROFILE.read_text())
    with pytest.raises(ConfigError, match="ask 70 Alpha Vantage requests a day"):
        config_from_context(with_defaults({**profile, "pairs": [f"C{i}-USD" for i in range(10)]}))


def test_a_larger_budget_admits_more_requests():
    profile = json.loads(PROFILE.read_text())
    profile["schedules"][0]["rate_minutes"] = 60
    assert config_from_context(with_defaults({**profile, "alphavantage_daily_requests": 75})).free_tier


def test_schedules_of_another_source_do_not_spend_the_alpha_vantage_budget():
    profile = json.loads(PROFILE.read_text())
    minute = {"name": "bars-1min", "interval": "1min", "rate_minutes": 1,
              "payload": {"mode": "incremental", "interval": "1min", "source": "coinbase"}}  # fmt: skip
    config = config_from_context(with_defaults({**profile, "schedules": [*profile["schedules"], minute]}))
    assert requests_per_day(config.schedules, 3) == 21


def test_the_deployments_default_source_decides_a_schedule_without_one():
    profile = json.loads(PROFILE.read_text())
    minute = {"name": "bars-1min", "interval": "1min", "rate_minutes": 1,
              "payload": {"mode": "incremental", "interval": "1min"}}  # fmt: skip
    block = {**profile, "schedules": [*profile["schedules"], minute]}
    with pytest.raises(ConfigError, match="'bars-1min' asks CRYPTO_INTRADAY"):
        config_from_context(with_defaults(block))
    # the same schedules, with an exchange as the default source and Alpha Vantage named where it is wanted
    for raw in block["schedules"][:2]:
        raw["source"] = "alphavantage"
    config = config_from_context(with_defaults({**block, "source": "coinbase"}))
    assert requests_per_day(config.schedules, 3, default_source=config.source) == 21


@pytest.mark.parametrize(("key", "value"), [("free_tier", "yes"), ("alphavantage_daily_requests", 0)])
def test_bad_free_tier_settings_are_one_line(key, value):
    with pytest.raises(ConfigError, match=f"cryptostream.{key}"):
        config_from_context(with_defaults({key: value}))
