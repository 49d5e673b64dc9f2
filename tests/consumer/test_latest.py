"""LATEST only ever moves forward: by bar time, then by fetch time; late and replayed records never win."""

from __future__ import annotations

from tests.consumer.conftest import Aws
from tests.consumer.events import kinesis_event, quote
from tests.consumer.helpers import consume

T0, T1, T2 = "2026-11-22T09:00:00Z", "2026-11-22T09:05:00Z", "2026-11-22T09:10:00Z"


def latest(aws: Aws, pk: str = "BTC-USD#5min") -> tuple[str, str, str]:
    item = aws.item(pk, "LATEST")
    return item["ts"]["S"], item["fetched_at"]["S"], item["close"]["N"]


def test_an_older_bar_arriving_later_does_not_move_latest_back(aws: Aws) -> None:
    consume(kinesis_event([quote(ts=T1, fetched_at="2026-11-22T09:10:02Z")]), aws)
    _, stats = consume(kinesis_event([quote(ts=T0, close="67002", fetched_at="2026-11-22T09:11:00Z")]), aws)
    assert latest(aws) == (T1, "2026-11-22T09:10:02Z", "67001")
    assert stats.stale_latest_skipped == 1
    assert aws.item("BTC-USD#5min", T0)["close"] == {"N": "67002"}  # the late bar still lands in history


def test_same_bar_refetched_later_wins_and_an_earlier_fetch_loses(aws: Aws) -> None:
    consume(kinesis_event([quote(ts=T1, close="67001", fetched_at="2026-11-22T09:10:02Z")]), aws)
    consume(kinesis_event([quote(ts=T1, close="67005", fetched_at="2026-11-22T09:10:30Z")]), aws)
    assert latest(aws) == (T1, "2026-11-22T09:10:30Z", "67005")
    _, stats = consume(kinesis_event([quote(ts=T1, close="67003", fetched_at="2026-11-22T09:10:10Z")]), aws)
    assert latest(aws) == (T1, "2026-11-22T09:10:30Z", "67005")
    assert stats.stale_latest_skipped == 1


def test_within_a_batch_the_newest_bar_is_latest_whatever_the_order(aws: Aws) -> None:
    _, stats = consume(kinesis_event([quote(ts=T2, close="67002"), quote(ts=T0), quote(ts=T1)]), aws)
    assert latest(aws)[0] == T2
    assert (stats.written, stats.latest_written) == (3, 1)


def test_mixed_batch_moves_some_pairs_and_skips_stale_ones(aws: Aws) -> None:
    consume(
        kinesis_event([quote(ts=T1), quote(symbol="ETH", ts=T1, open="3000", high="3000", low="3000", close="3000")]),
        aws,
    )
    _, stats = consume(
        kinesis_event([quote(ts=T2), quote(symbol="ETH", ts=T0, open="3001", high="3001", low="3001", close="3001")]),
        aws,
    )
    assert latest(aws)[0] == T2
    assert latest(aws, "ETH-USD#5min")[0] == T1
    assert (stats.stale_latest_skipped, stats.latest_written) == (1, 1)


def test_latest_items_are_listed_by_the_sparse_index(aws: Aws) -> None:
    consume(kinesis_event([quote(), quote(symbol="ETH", open="3000", high="3000", low="3000", close="3000")]), aws)
    page = aws.dynamodb.query(
        TableName="cryptostream-quotes",
        IndexName="latest-by-interval",
        KeyConditionExpression="latest_interval = :interval",
        ExpressionAttributeValues={":interval": {"S": "5min"}},
    )
    assert [item["pk"]["S"] for item in page["Items"]] == ["BTC-USD#5min", "ETH-USD#5min"]
    assert all(item["sk"]["S"] == "LATEST" for item in page["Items"])  # history items are not in the index
