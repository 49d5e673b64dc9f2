"""Bad-input sweep of the consumer: random and malformed Kinesis records mixed with valid ones.

Every record of every batch must be accounted for: a valid quote (by the shared contract's
``parse_record``) is in the table, a poison record is in quarantine with a reason, or the record is
at or after the first item reported back to Lambda (which redelivers from there). Nothing raises
for bad data; a batch whose envelope Lambda would never send may raise, and then Lambda retries it
whole, so nothing is lost either.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from consumer.handler import lambda_handler
from cryptostream_model.keys import table_pk
from cryptostream_model.record import PoisonRecord, parse_record
from cryptostream_runtime import clients as runtime_clients
from local.lambda_context import LocalLambdaContext
from local.resources import serving_table_definition
from tests.consumer.events import FIRST_SEQUENCE, kinesis_record, quote

TABLE, QUEUE = "cryptostream-quotes", "cryptostream-quarantine"
SWEEP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_unique = itertools.count()


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    patch = pytest.MonkeyPatch()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        patch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        "TABLE_NAME": TABLE,
        "HISTORY_TTL_DAYS": "30",
    }.items():
        patch.setenv(name, value)
    runtime_clients.clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**serving_table_definition(TABLE))
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        patch.setenv("QUARANTINE_QUEUE_URL", queue_url)
        yield {"dynamodb": dynamodb, "sqs": sqs, "queue_url": queue_url}
    runtime_clients.clear()
    patch.undo()


# --- payloads -----------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def valid_quote() -> dict[str, Any]:
    """A quote no other example writes: its own timestamp."""
    n = next(_unique)
    ts = f"2026-{1 + n // 8000 % 12:02d}-{1 + n // 288 % 27:02d}T{n // 12 % 24:02d}:{n % 12 * 5:02d}:00Z"
    return quote(symbol="SWEEP", ts=ts, fetched_at=ts, close=str(67000 + n % 10))


@st.composite
def mutated_quotes(draw: st.DrawFn) -> dict[str, Any]:
    """A quote with keys removed and values of the wrong type (its own symbol, so it cannot clash)."""
    body = quote(symbol="MUT")
    for name in draw(st.lists(st.sampled_from(sorted(body)), max_size=3)):
        body.pop(name, None)
    for name in draw(st.lists(st.sampled_from(sorted(quote())), max_size=3)):
        body[name] = draw(json_values)
    return body


payloads = st.one_of(
    st.binary(max_size=200),  # random bytes, most of them not UTF-8 or not JSON
    json_values.map(lambda value: json.dumps(value).encode()),
    mutated_quotes().map(lambda body: json.dumps(body).encode()),
    st.integers(4000, 300_000).map(lambda size: json.dumps(quote(source="x" * size)).encode()),  # huge
)
bad_base64 = st.text(min_size=1, max_size=40).filter(lambda text: not _is_base64(text))


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


def _records(datas: list[tuple[str, bytes | None, str | None]], valid_at: int) -> tuple[list[dict], dict[str, Any]]:
    """Lambda-shaped records; ``datas`` are (kind, payload, raw base64 text)."""
    records = []
    valid = valid_quote()
    datas = datas[:valid_at] + [("valid", json.dumps(valid).encode(), None)] + datas[valid_at:]
    for offset, (_, data, raw) in enumerate(datas):
        records.append(kinesis_record(data or b"", FIRST_SEQUENCE + offset, raw_data=raw, partition_key="SWEEP-USD"))
    return records, valid


def _quarantined(aws: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    while True:
        messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            body = json.loads(message["Body"])
            found[body["sequence_number"]] = body["reason_code"]
        aws["sqs"].delete_message_batch(
            QueueUrl=aws["queue_url"],
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def _in_table(aws: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
    pk = table_pk(f"{body['symbol']}-{body['market']}", body["interval"])
    return aws["dynamodb"].get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": body["ts"]}}).get("Item")


def _is_valid(data: bytes) -> bool:
    try:
        parse_record(data)
    except PoisonRecord:
        return False
    return True


entries = st.one_of(
    payloads.map(lambda data: ("payload", data, None)),
    bad_base64.map(lambda text: ("bad_base64", None, text)),
)


@SWEEP
@given(st.lists(entries, max_size=12), st.data())
def test_every_record_is_written_quarantined_or_handed_back(aws, datas, data):
    records, valid = _records(datas, data.draw(st.integers(0, len(datas))))
    response = lambda_handler({"Records": records}, LocalLambdaContext("cryptostream-consumer"))

    failures = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    sequence = [record["kinesis"]["sequenceNumber"] for record in records]
    first_failed = min((sequence.index(seq) for seq in failures), default=len(records))
    quarantined = _quarantined(aws)
    for index, record in enumerate(records):
        if index >= first_failed:
            continue  # Lambda delivers it again
        seq = sequence[index]
        raw = record["kinesis"]["data"]
        payload = base64.b64decode(raw) if _is_base64(raw) else None
        if payload is not None and _is_valid(payload):
            body = json.loads(payload)
            assert _in_table(aws, body) is not None, f"valid record {index} neither written nor handed back"
            assert seq not in quarantined
        else:
            assert quarantined.get(seq), f"poison record {index} neither quarantined nor handed back"
    item = _in_table(aws, valid)
    assert item is not None or first_failed < len(records), "the valid record was dropped"
    if item is not None:
        assert item["close"]["N"] == valid["close"]


envelope_damage = st.sampled_from(
    [
        ("kinesis", "data", None),
        ("kinesis", "data", 12345),
        ("kinesis", "approximateArrivalTimestamp", "yesterday"),
        ("kinesis", "approximateArrivalTimestamp", None),
        ("kinesis", "sequenceNumber", None),
        ("kinesis", "partitionKey", None),
        (None, "eventID", None),
        (None, "eventSourceARN", None),
    ]
)


@SWEEP
@given(st.lists(payloads, max_size=6), envelope_damage, st.data())
def test_a_damaged_envelope_never_loses_the_valid_record(aws, datas, damage, data):
    valid_at = data.draw(st.integers(0, len(datas)))
    records, valid = _records([("payload", d, None) for d in datas], valid_at)
    victim = data.draw(st.sampled_from([r for i, r in enumerate(records) if i != valid_at] or [None]))
    if victim is not None:
        section, key, value = damage
        target = victim["kinesis"] if section else victim
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    try:
        response = lambda_handler({"Records": records}, LocalLambdaContext("cryptostream-consumer"))
    except Exception:  # Lambda retries the whole batch (and bisects): the valid record comes again
        _quarantined(aws)
        return
    failures = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    _quarantined(aws)
    sequence = [record["kinesis"].get("sequenceNumber") for record in records]
    if failures - set(sequence):  # an identifier Lambda does not know: it retries the whole batch
        return
    first_failed = min((sequence.index(seq) for seq in failures), default=len(records))
    assert _in_table(aws, valid) is not None or valid_at >= first_failed, "the valid record was dropped"
