"""Watermarks written in transactions: cancellation reasons, conflicts, chunks of 100, never backwards."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cryptostream_runtime.retry import RetryPolicy
from producer.watermark_writes import WatermarkWriteFailed, advance_in_transactions
from producer.watermarks import WatermarkStore
from tests.producer.conftest import REGION, TABLE

NOW = 1_800_000_000
T1, T2 = "2026-11-22T09:00:00Z", "2026-11-22T09:05:00Z"


@pytest.fixture
def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def update(pair: str, ts: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": f"{pair}#5min"}, "sk": {"S": "WATERMARK"}},
            "UpdateExpression": "SET #ts = :ts, updated_at = :now, #source = :source",
            "ConditionExpression": "attribute_not_exists(#ts) OR #ts < :ts",
            "ExpressionAttributeNames": {"#ts": "ts", "#source": "source"},
            "ExpressionAttributeValues": {":ts": {"S": ts}, ":now": {"N": str(NOW)}, ":source": {"S": "alphavantage"}},
        }
    }


def expect(stubber: Stubber, pairs: list[str], reasons: list[str] | None = None, code: str = "") -> None:
    """One TransactWriteItems of ``pairs`` (all at T2): success, cancelled with ``reasons``, or ``code``."""
    params = {"TransactItems": [update(pair, T2) for pair in pairs]}
    if reasons is not None:
        stubber.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            http_status_code=400,
            modeled_fields={"CancellationReasons": [{"Code": reason} for reason in reasons]},
            expected_params=params,
        )
    elif code:
        stubber.add_client_error("transact_write_items", service_error_code=code, http_status_code=400)
    else:
        stubber.add_response("transact_write_items", {}, params)


def advance(client: Any, pairs: list[str], sleeps: list[float], max_attempts: int = 6) -> dict[str, bool]:
    backoff = RetryPolicy(max_attempts=max_attempts, sleep=sleeps.append)
    return advance_in_transactions(client, TABLE, "5min", {pair: T2 for pair in pairs}, backoff, clock=lambda: NOW)


def test_mixed_cancellation_reasons(dynamodb):
    sleeps: list[float] = []
    pairs = ["A-USD", "B-USD", "C-USD", "D-USD", "E-USD"]
    with Stubber(dynamodb) as stubber:
        expect(stubber, pairs, ["ConditionalCheckFailed", "TransactionConflict", "None", "ValidationError", "None"])
        expect(stubber, ["B-USD", "C-USD", "E-USD"], ["None", "ThrottlingError", "ConditionalCheckFailed"])
        expect(stubber, ["B-USD", "C-USD"])
        with pytest.raises(WatermarkWriteFailed) as failed:
            advance(dynamodb, pairs, sleeps)
        stubber.assert_no_pending_responses()
    assert failed.value.failures == {"D-USD": "ValidationError"}  # reported; the others were still saved
    assert str(failed.value) == "watermarks not saved for 1 pair(s): D-USD (ValidationError)"
    assert len(sleeps) == 2  # a conflict and a throttle: each waited before the resend


def test_only_up_to_date_watermarks_in_the_way_resends_at_once(dynamodb):
    sleeps: list[float] = []
    with Stubber(dynamodb) as stubber:
        expect(stubber, ["A-USD", "B-USD", "C-USD"], ["None", "ConditionalCheckFailed", "None"])
        expect(stubber, ["A-USD", "C-USD"])
        assert advance(dynamodb, ["A-USD", "B-USD", "C-USD"], sleeps) == {"A-USD": True, "B-USD": False, "C-USD": True}
        stubber.assert_no_pending_responses()
    assert sleeps == []


def test_a_conflict_then_success(dynamodb):
    sleeps: list[float] = []
    with Stubber(dynamodb) as stubber:
        expect(stubber, ["A-USD", "B-USD"], ["TransactionConflict", "None"])
        expect(stubber, ["A-USD", "B-USD"], code="ThrottlingException")  # the whole call throttled
        expect(stubber, ["A-USD", "B-USD"])
        assert advance(dynamodb, ["A-USD", "B-USD"], sleeps) == {"A-USD": True, "B-USD": True}
        stubber.assert_no_pending_responses()
    assert len(sleeps) == 2 and all(0 <= pause <= 2.0 for pause in sleeps)


def test_unreadable_reasons_retry_everything(dynamodb):
    sleeps: list[float] = []
    with Stubber(dynamodb) as stubber:
        expect(stubber, ["A-USD", "B-USD"], ["ConditionalCheckFailed"])  # one reason for two items: whose?
        expect(stubber, ["A-USD", "B-USD"])
        assert advance(dynamodb, ["A-USD", "B-USD"], sleeps) == {"A-USD": True, "B-USD": True}
    assert len(sleeps) == 1


def test_conflicts_are_retried_a_bounded_number_of_times(dynamodb):
    sleeps: list[float] = []
    with Stubber(dynamodb) as stubber:
        for _ in range(3):
            expect(stubber, ["A-USD", "B-USD"], ["None", "TransactionConflict"])
        with pytest.raises(WatermarkWriteFailed) as failed:
            advance(dynamodb, ["A-USD", "B-USD"], sleeps, max_attempts=3)
        stubber.assert_no_pending_responses()
    assert set(failed.value.failures) == {"A-USD", "B-USD"}
    assert "retries exhausted" in failed.value.failures["A-USD"]
    assert len(sleeps) == 2


def test_a_permanent_error_is_reported_without_retrying(dynamodb):
    sleeps: list[float] = []
    with Stubber(dynamodb) as stubber:
        expect(stubber, ["A-USD"], code="ResourceNotFoundException")
        with pytest.raises(WatermarkWriteFailed, match=r"A-USD \(ResourceNotFoundException\)"):
            advance(dynamodb, ["A-USD"], sleeps)
        stubber.assert_no_pending_responses()
    assert sleeps == []


def count_requests(client: Any) -> Counter[str]:
    """Operations the client sends from now on (counted by botocore's before-call event)."""
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    return calls


def test_more_than_100_pairs_go_in_two_transactions_and_never_move_back(moto):
    client = moto.client("dynamodb")
    store = WatermarkStore(client, TABLE, writes="transaction")
    pairs = [f"C{i}-USD" for i in range(150)]
    calls = count_requests(client)
    assert store.advance_many({pair: T1 for pair in pairs}, "5min") == {pair: True for pair in pairs}
    assert calls == Counter({"TransactWriteItems": 2})
    assert store.get_many(pairs, "5min") == {pair: T1 for pair in pairs}

    # moto evaluates the real conditions: older and equal targets are refused, newer ones move
    choices = (T2, "2026-11-22T08:55:00Z", T1)  # newer, older, equal
    targets = {pair: choices[i % 3] for i, pair in enumerate(pairs)}
    moved = store.advance_many(targets, "5min")
    assert moved == {pair: targets[pair] == T2 for pair in pairs}
    assert store.get_many(pairs, "5min") == {pair: max(T1, targets[pair]) for pair in pairs}


def test_per_pair_writes_one_update_per_pair(moto):
    client = moto.client("dynamodb")
    store = WatermarkStore(client, TABLE)
    store.advance("B-USD", "5min", T2)
    calls = count_requests(client)
    assert store.advance_many({"A-USD": T1, "B-USD": T1}, "5min") == {"A-USD": True, "B-USD": False}
    assert calls == Counter({"UpdateItem": 2})


def test_unknown_write_mode_is_refused(moto):
    with pytest.raises(ValueError, match="unknown watermark write mode 'batch'"):
        WatermarkStore(moto.client("dynamodb"), TABLE, writes="batch")
