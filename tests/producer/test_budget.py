"""The producer's daily request budget (free Alpha Vantage keys allow 25 requests a UTC day)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cryptostream_model.keys import budget_key
from producer.budget import RequestBudget
from producer.errors import ConfigError
from producer.settings import Settings
from tests.producer.conftest import TABLE, stream_quotes
from tests.producer.test_handler import produce, settings_for

NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()


def budget(moto, limit: int, clock: float = NOON) -> RequestBudget:
    return RequestBudget(moto.client("dynamodb"), TABLE, "alphavantage", limit, clock=lambda: clock)


def test_takes_up_to_the_limit_then_refuses_without_counting(moto):
    spent = budget(moto, 3)
    assert [spent.take() for _ in range(5)] == [True, True, True, False, False]
    assert (spent.used(), spent.remaining()) == (3, 0)


def test_the_counter_is_one_item_per_source_and_utc_day_that_expires(moto):
    budget(moto, 2).take()
    pk, sk = budget_key("alphavantage", "2026-12-02")
    assert (pk, sk) == ("PRODUCER#alphavantage", "BUDGET#2026-12-02")
    item = moto.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    assert item["used"] == {"N": "1"}
    # The day ends at midnight UTC; the item lives two more days, then the table's TTL removes it.
    assert int(item["expires_at"]["N"]) == int(datetime(2026, 12, 5, tzinfo=UTC).timestamp())


def test_a_new_utc_day_starts_a_fresh_budget(moto):
    assert budget(moto, 1).take() and not budget(moto, 1).take()
    tomorrow = datetime(2026, 12, 3, 0, 0, 1, tzinfo=UTC).timestamp()
    assert budget(moto, 1, tomorrow).take()
    assert budget(moto, 1).used() == 1  # yesterday's count is untouched


def test_two_runs_racing_for_the_last_requests_cannot_overspend(moto):
    """Both runs saw budget left before they started; the conditional update lets only one take it.

    Interleaved, not threaded: moto applies an update without a lock, so in-process threads can overspend
    there; DynamoDB applies the writes of one item one at a time, which is what this interleaving models.
    """
    first, second = budget(moto, 25), budget(moto, 25)
    assert first.remaining() == second.remaining() == 25
    for _ in range(24):
        assert first.take()
    assert first.remaining() == second.remaining() == 1
    assert second.take() is True
    assert first.take() is False  # it read 1 left, but the condition is checked on the item, not the read
    assert first.used() == 25


def budgeted(simulator, limit: int, **overrides) -> Settings:
    return settings_for(simulator, daily_request_budget=limit, **overrides)


def test_a_run_within_the_budget_counts_every_request(moto, simulator):
    summary = produce(moto, simulator, settings=budgeted(simulator, 25))
    assert summary["failed_pairs"] == {} and summary["deferred_pairs"] == {}
    assert summary["alphavantage_requests"] == 2
    assert budget(moto, 25, simulator.clock.timestamp()).used() == 2


def test_a_spent_budget_skips_the_run_with_its_reason_and_sends_nothing(moto, simulator):
    spent = budget(moto, 2, simulator.clock.timestamp())
    spent.take(), spent.take()
    summary = produce(moto, simulator, settings=budgeted(simulator, 2))
    assert summary == {
        "skipped": "daily request budget spent: 2 of 2 alphavantage requests used on 2026-11-22 (UTC); "
        "runs resume after midnight UTC",
        "source": "alphavantage",
        "interval": "5min",
        "mode": "incremental",
    }
    assert simulator.stats.get("requests", 0) == 0
    assert stream_quotes(moto.client("kinesis")) == []
    key = {"pk": {"S": "PRODUCER#alphavantage#5min"}, "sk": {"S": "LEASE"}}
    lease = moto.client("dynamodb").get_item(TableName=TABLE, Key=key)
    assert "Item" not in lease  # released as after any run


def test_the_last_requests_of_the_day_fetch_what_they_can_and_defer_the_rest(moto, simulator):
    settings = budgeted(simulator, 3, pairs=("BTC-USD", "ETH-USD", "SOL-USD"))
    spent = budget(moto, 3, simulator.clock.timestamp())
    spent.take()
    summary = produce(moto, simulator, settings=settings)
    assert summary["alphavantage_requests"] == 2 and simulator.stats["requests"] == 2
    assert summary["failed_pairs"] == {}  # a deferred pair is not a failure: nothing went wrong upstream
    assert list(summary["deferred_pairs"]) == ["SOL-USD"]
    assert summary["deferred_pairs"]["SOL-USD"].startswith("budget_spent: daily request budget spent: 3 of 3")
    assert summary["newest_ts"]["SOL-USD"] is None and summary["published"] == 200


def test_a_run_that_loses_the_race_for_its_first_request_is_skipped(moto, simulator, monkeypatch):
    """The pre-check saw one request left; another run took it before this run's first request."""
    real_remaining = RequestBudget.remaining

    def another_run_takes_the_last(self: RequestBudget) -> int:
        left = real_remaining(self)
        RequestBudget(self.client, self.table_name, self.source, self.limit, clock=self.clock).take()
        return left

    monkeypatch.setattr(RequestBudget, "remaining", another_run_takes_the_last)
    summary = produce(moto, simulator, settings=budgeted(simulator, 1))
    assert summary["skipped"].startswith("daily request budget spent: 1 of 1 alphavantage requests")
    assert simulator.stats.get("requests", 0) == 0


def test_retries_spend_the_budget_too(moto, simulator):
    """Every HTTP attempt is a request Alpha Vantage counts, so each takes a unit before it is sent."""
    simulator.faults.update(http_error_every_n=1)
    summary = produce(moto, simulator, settings=budgeted(simulator, 25, pairs=("BTC-USD",)))
    assert list(summary["failed_pairs"]) == ["BTC-USD"]  # HTTP 503 on the first attempt and both retries
    assert summary["alphavantage_requests"] == simulator.stats["requests"] == 3
    assert budget(moto, 25, simulator.clock.timestamp()).used() == 3


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("0", None), ("25", 25)])
def test_the_budget_setting(raw, expected):
    env = {"STREAM_NAME": "s", "TABLE_NAME": "t"}
    if raw is not None:
        env["ALPHAVANTAGE_DAILY_REQUESTS"] = raw
    assert Settings.from_env(env).daily_request_budget == expected


@pytest.mark.parametrize("raw", ["25.5", "many", "-1"])
def test_a_bad_budget_setting_is_one_line(raw):
    with pytest.raises(ConfigError, match="ALPHAVANTAGE_DAILY_REQUESTS"):
        Settings.from_env({"STREAM_NAME": "s", "TABLE_NAME": "t", "ALPHAVANTAGE_DAILY_REQUESTS": raw})
