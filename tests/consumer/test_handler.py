"""The consumer handler end to end on moto, with events in Lambda's exact Kinesis shape."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from consumer import handler
from consumer.settings import SettingsError
from consumer.stats import BatchStats
from cryptostream_model.record import parse_record
from tests.consumer.conftest import Aws, FakeLambdaContext
from tests.consumer.events import SHARD_ID, kinesis_event, load_fixture, quote, sequence_numbers


def invoke(event: dict) -> dict:
    return handler.lambda_handler(event, FakeLambdaContext())


def test_batch_lands_as_history_and_latest_items(aws: Aws) -> None:
    event = load_fixture("quotes_batch.json")
    assert invoke(event) == {"batchItemFailures": []}

    bar = aws.item("BTC-USD#5min", "2026-11-22T09:05:00Z")
    # The refetched bar (later fetched_at) wins over the earlier fetch of the same bar.
    assert bar == {
        "pk": {"S": "BTC-USD#5min"},
        "sk": {"S": "2026-11-22T09:05:00Z"},
        "symbol": {"S": "BTC"},
        "market": {"S": "USD"},
        "interval": {"S": "5min"},
        "ts": {"S": "2026-11-22T09:05:00Z"},
        "open": {"N": "67001"},
        "high": {"N": "67030"},
        "low": {"N": "66995"},
        "close": {"N": "67028"},
        "volume": {"N": "9.75"},
        "source": {"S": "alphavantage"},
        "fetched_at": {"S": "2026-11-22T09:10:07Z"},
        "v": {"N": "1"},
        "ingested_at": {"S": "2026-11-22T09:05:02.126Z"},
        "expires_at": {"N": str(1795338300 + 30 * 86400)},
    }
    latest = aws.item("BTC-USD#5min", "LATEST")
    assert latest == {
        **{k: v for k, v in bar.items() if k != "expires_at"},
        "sk": {"S": "LATEST"},
        "latest_interval": {"S": "5min"},
    }
    assert aws.item("ETH-USD#5min", "LATEST")["ts"] == {"S": "2026-11-22T09:05:00Z"}
    assert aws.item("ETH-USD#5min", "2026-11-22T09:05:00Z")["volume"] == {"N": "161"}  # JSON integer volume

    spot = aws.item("BTC-USD#spot", "LATEST")
    assert (spot["bid"], spot["ask"]) == ({"N": "67030.1"}, {"N": "67030.3"})
    daily = aws.item("BTC-USD#1d", "2026-11-21T00:00:00Z")
    assert "expires_at" not in daily  # daily history is kept
    assert "expires_at" in aws.item("BTC-USD#spot", "2026-11-22T09:10:05Z")  # intraday and spot expire

    # 6 distinct bars (7 records, one refetch) and one LATEST per pk
    items = aws.table_items()
    assert len([i for i in items if i["sk"]["S"] != "LATEST"]) == 6
    assert {i["pk"]["S"] for i in items if i["sk"]["S"] == "LATEST"} == {
        "BTC-USD#5min",
        "ETH-USD#5min",
        "BTC-USD#spot",
        "BTC-USD#1d",
    }


def test_items_hold_exactly_the_published_decimals(aws: Aws) -> None:
    event = load_fixture("quotes_batch.json")
    invoke(event)
    for record in event["Records"]:
        published = parse_record(base64.b64decode(record["kinesis"]["data"]))
        item = aws.item(published.pk, published.ts)
        if item["fetched_at"]["S"] != published.fetched_at:
            continue  # superseded by a later fetch of the same bar
        stored = {name: Decimal(item[name]["N"]) for name in ("open", "high", "low", "close", "volume")}
        assert stored == {name: getattr(published, name) for name in stored}


def test_replaying_a_batch_leaves_the_table_exactly_as_it_was(aws: Aws) -> None:
    event = load_fixture("quotes_batch.json")
    invoke(event)
    before = aws.table_items()
    assert invoke(event) == {"batchItemFailures": []}
    assert aws.table_items() == before


def test_stats_reach_the_hook_and_account_for_every_record(aws: Aws) -> None:
    seen: list[BatchStats] = []
    consume = handler.make_handler(on_stats=seen.append)
    consume(load_fixture("quotes_batch.json"), FakeLambdaContext())
    consume(load_fixture("poison_batch.json"), FakeLambdaContext())
    clean, poisoned = seen
    assert (clean.records, clean.written, clean.duplicates, clean.quarantined, clean.failed) == (7, 6, 1, 0, 0)
    assert clean.dynamodb_requests == 2  # one BatchWriteItem, one TransactWriteItems
    assert clean.sqs_requests == 0
    assert clean.latest_written == 4
    assert clean.shard_id == SHARD_ID
    assert clean.ingest_lag_ms_max >= clean.ingest_lag_ms_mean > 0
    assert (poisoned.records, poisoned.written, poisoned.quarantined, poisoned.failed) == (14, 2, 12, 0)
    assert poisoned.sqs_requests == 2  # 12 messages, 10 per SendMessageBatch
    for stats in (clean, poisoned):
        assert stats.accounted == stats.records


def test_every_poison_reason_is_quarantined_with_its_evidence(aws: Aws) -> None:
    event = load_fixture("poison_batch.json")
    assert invoke(event) == {"batchItemFailures": []}  # poison is never retried

    messages = aws.quarantine_messages()
    by_sequence = {json.loads(m["Body"])["sequence_number"]: m for m in messages}
    records = {r["kinesis"]["sequenceNumber"]: r for r in event["Records"]}
    expected_codes = [
        None,
        "not_json",
        "missing_field",
        "non_positive",
        "non_finite",
        "high_below_low",
        "open_outside_range",
        "close_outside_range",
        "unknown_interval",
        "bad_timestamp",
        "oversized",
        "not_utf8",
        None,
        "bad_base64",
    ]
    assert len(messages) == len([code for code in expected_codes if code])
    for sequence, code in zip(sequence_numbers(event), expected_codes, strict=True):
        if code is None:
            assert sequence not in by_sequence
            continue
        message = by_sequence[sequence]
        body = json.loads(message["Body"])
        assert body["reason"].startswith(f"{code}:" if code != "bad_base64" else "bad_base64")
        assert message["MessageAttributes"]["reason"]["StringValue"] == code
        assert body["shard_id"] == SHARD_ID
        assert body["partition_key"] == records[sequence]["kinesis"]["partitionKey"]
        assert body["event_source_arn"] == records[sequence]["eventSourceARN"]
        data = records[sequence]["kinesis"]["data"]
        if body.get("payload_encoding") == "base64":
            assert body["payload"] == data  # not UTF-8: original bytes, base64
        elif body.get("payload_encoding") == "base64-invalid":
            assert body["payload"] == data  # not even base64: as Lambda delivered it
        else:
            assert body["payload"] == base64.b64decode(data).decode()  # original text
    # the two valid records of the batch were written despite the poison around them
    assert aws.item("BTC-USD#5min", "2026-11-22T09:00:00Z") is not None
    assert aws.item("BTC-USD#5min", "LATEST")["ts"] == {"S": "2026-11-22T09:05:00Z"}


def test_aws_documentation_example_event_is_poison_not_a_crash(aws: Aws) -> None:
    assert invoke(load_fixture("aws_docs_example.json")) == {"batchItemFailures": []}
    bodies = [json.loads(m["Body"]) for m in aws.quarantine_messages()]
    assert sorted(b["payload"] for b in bodies) == ["Hello, this is a test.", "This is only a test."]
    assert {b["shard_id"] for b in bodies} == {"shardId-000000000006"}
    assert {b["reason"].split(":")[0] for b in bodies} == {"not_json"}


def test_history_ttl_is_configurable_and_zero_disables_it(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISTORY_TTL_DAYS", "7")
    invoke(kinesis_event([quote(ts="2026-11-22T09:00:00Z")]))
    assert aws.item("BTC-USD#5min", "2026-11-22T09:00:00Z")["expires_at"] == {"N": str(1795338000 + 7 * 86400)}
    monkeypatch.setenv("HISTORY_TTL_DAYS", "0")
    invoke(kinesis_event([quote(ts="2026-11-22T09:05:00Z")]))
    assert "expires_at" not in aws.item("BTC-USD#5min", "2026-11-22T09:05:00Z")


def test_numbers_dynamodb_cannot_hold_exactly_are_poison(aws: Aws) -> None:
    precise = "1." + "1" * 40
    event = kinesis_event([quote(volume=precise), quote(ts="2026-11-22T09:05:00Z", volume="1E+2")])
    assert invoke(event) == {"batchItemFailures": []}
    (message,) = aws.quarantine_messages()
    assert json.loads(message["Body"])["reason"].startswith("unrepresentable_number: volume")
    assert aws.item("BTC-USD#5min", "2026-11-22T09:05:00Z")["volume"] == {"N": "100"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TABLE_NAME": ""}, "missing setting(s): TABLE_NAME"),
        ({"HISTORY_TTL_DAYS": "thirty"}, "HISTORY_TTL_DAYS='thirty' is not allowed: expected a whole number of days"),
        ({"HISTORY_TTL_DAYS": "-1"}, "HISTORY_TTL_DAYS='-1' is not allowed: expected a whole number of days from 0"),
    ],
)
def test_bad_settings_fail_with_one_line(aws: Aws, monkeypatch: pytest.MonkeyPatch, env: dict, message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        invoke(kinesis_event([quote()]))
